// admin.html: venues with their seat rows, events (create, edit, cancel), users (disable,
// promote), reservation oversight with filters, an event's sales, the audit log, webhooks and promo codes, one module per tab under admin/. Admins
// only; the API checks that too.
import { Auth } from './auth.js';
import { loadAudit, setupAudit } from './admin/audit.js';
import { loadCodes, setupCodes } from './admin/codes.js';
import { byId, html, render } from './dom.js';
import * as UI from './ui.js';
import { loadEvents, setupEvents } from './admin/events.js';
import { loadReservationFilters, loadReservations, setupReservations } from './admin/reservations.js';
import { loadSales, setupSales } from './admin/sales.js';
import { loadSalesWindow, setupSalesWindow } from './admin/sales-window.js';
import { state } from './admin/shared.js';
import { selectTab, setupTabs, tabFromUrl } from './admin/tabs.js';
import { loadUsers, setupUsers } from './admin/users.js';
import { loadVenues, setupVenues } from './admin/venues.js';
import { setupVenueEditor } from './admin/venue-editor.js';
import { loadWebhooks, setupWebhooks } from './admin/webhooks.js';

async function start() {
  if (!Auth.requireLogin()) return;
  try {
    state.me = await Auth.refreshUser();
  } catch (error) {
    UI.handleError(error);
    return;
  }
  if (state.me.role !== 'admin') {
    render(
      byId('admin-gate'),
      UI.emptyState(
        'Admins only',
        'Your account (' + state.me.email + ') is a customer account. Ask an admin for access.',
        html`<p><a class="btn btn-primary" href="Home.html">Back to the home page</a></p>`,
      ),
    );
    UI.showError('Not allowed', 'This page is for administrators.');
    return;
  }
  byId('admin').hidden = false;
  setupVenues();
  setupVenueEditor();
  setupEvents();
  setupUsers();
  setupReservations();
  setupSales();
  setupSalesWindow();
  setupAudit();
  setupWebhooks();
  setupCodes();
  setupTabs({
    users: loadUsers,
    reservations: () => loadReservationFilters().then(loadReservations),
    sales: () => Promise.all([loadSales(), loadSalesWindow()]),
    audit: loadAudit,
    webhooks: loadWebhooks,
    codes: loadCodes,
  });
  selectTab(tabFromUrl());
  try {
    await Promise.all([loadVenues(), loadEvents()]);
  } catch (error) {
    UI.handleError(error);
  }
}

start();
