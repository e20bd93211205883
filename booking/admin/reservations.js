// Admin, Reservations tab: every reservation, filtered by event, status and customer, paged,
// each active one cancelable (a paid seat is refunded).
import { api } from '../api.js';
import { Data, Format } from '../data.js';
import { byId, html, render, replace } from '../dom.js';
import { newestWins, Pager } from '../requests.js';
import * as UI from '../ui.js';
import { askFirst, badge, PAGE, state } from './shared.js';

const searches = newestWins();
let pager = null;
let filtersLoaded = null;

/** Fills the event and customer filters once (again after a failure); resolves when done. */
export function loadReservationFilters() {
  if (!filtersLoaded) {
    filtersLoaded = (async () => {
      try {
        const [events, users] = await Promise.all([
          api.events.getEvents({ include_past: 'true', limit: 200 }),
          api.auth.listUsers({ limit: 200 }),
        ]);
        events.forEach((ev) => {
          if (!state.events.find((x) => x.id === ev.id)) state.events.push(ev);
        });
        users.forEach((u) => state.users.set(u.id, u));
        render(
          byId('res-event'),
          html`<option value="">All events</option>
            ${events.map(
              (ev) => html`<option value="${ev.id}">${ev.name + ' · ' + Format.whenShort(ev)}</option>`,
            )}`,
        );
        render(
          byId('res-user'),
          html`<option value="">All customers</option>
            ${users.map((u) => html`<option value="${u.id}">${(u.name ? u.name + ' · ' : '') + u.email}</option>`)}`,
        );
      } catch (error) {
        filtersLoaded = null;
        UI.handleError(error);
      }
    })();
  }
  return filtersLoaded;
}

/** The reservations listed now, by id: what a cancel asks about. */
const shown = new Map();

function reservationItem(r) {
  shown.set(r.id, r);
  const ev = state.events.find((x) => x.id === r.event_id);
  const user = state.users.get(r.user_id);
  const active = r.status === 'held' || r.status === 'confirmed';
  const status = Data.RESERVATION_STATUS[r.status] ? Data.RESERVATION_STATUS[r.status].label : r.status;
  return html`<div class="list-item" data-reservation-id="${r.id}">
    <div class="grow">
      <h3>Row ${r.seat.row} seat ${r.seat.seat_number} · ${ev ? ev.name : 'Event'}</h3>
      <p>${user ? user.email : r.user_id} · ${Format.label(r.seat.tier)} · ${Format.money(r.price_cents, r.currency)} · booked ${Format.dateTime(r.created_at)}${r.status === 'held' ? ' · hold ends ' + Format.time(r.expires_at) : ''}</p>
      <p>${badge(status, r.status)} <span class="muted small">booking ${r.booking_id.slice(0, 8).toUpperCase()}</span></p>
    </div>
    ${active
      ? html`<button class="btn btn-danger btn-sm" type="button" data-cancel-res>Cancel${r.status === 'confirmed' ? ' and refund' : ''}</button>`
      : ''}
    <div class="confirm-slot"></div>
  </div>`;
}

export async function loadReservations() {
  const list = byId('admin-reservations');
  const ticket = searches.next();
  list.setAttribute('aria-busy', 'true');
  try {
    const items = await api.reservations.listAll(
      { event_id: byId('res-event').value, user_id: byId('res-user').value, status: byId('res-status').value, ...pager.query },
      { signal: ticket.signal },
    );
    if (ticket.stale) return;
    shown.clear();
    render(list, items.length ? items.map(reservationItem) : UI.emptyState('No reservations', 'Nothing matches these filters.'));
    byId('res-count').textContent = items.length ? 'Showing ' + (pager.offset + 1) + '–' + (pager.offset + items.length) : '';
    pager.received(items.length);
  } catch (error) {
    if (!ticket.stale) UI.handleError(error);
  } finally {
    if (!ticket.stale) list.removeAttribute('aria-busy');
  }
}

/** The reservations of one event (the Events tab's "Reservations" button). */
export function showReservationsOf(eventId) {
  loadReservationFilters().then(() => {
    byId('res-event').value = eventId;
    pager.reset();
    loadReservations();
  });
}

/** Asks first, naming the seat and the money given back, then cancels. */
function cancelReservation(button) {
  const item = button.closest('[data-reservation-id]');
  const r = shown.get(item.dataset.reservationId);
  const paid = r.status === 'confirmed';
  const seat = 'row ' + r.seat.row + ' seat ' + r.seat.seat_number;
  askFirst(item.querySelector('.confirm-slot'), {
    question: paid
      ? 'Cancel this booking’s ' + seat + ' and refund ' + Format.money(r.price_cents, r.currency) + '?'
      : 'Cancel the hold on ' + seat + '?',
    consequence: paid
      ? 'The ticket stops working at the door and the buyer is told by e-mail. This cannot be undone.'
      : 'The seat goes back on sale at once.',
    yes: paid ? 'Yes, cancel and refund' : 'Yes, cancel hold',
    busyText: 'Canceling…',
    action: async () => {
      const updated = await api.reservations.cancelReservation(r.id);
      replace(item, reservationItem(updated));
      UI.showStatus('Reservation canceled' + (paid ? '; ' + Format.money(r.price_cents, r.currency) + ' is refunded.' : '.'), 'success');
    },
  });
}

export function setupReservations() {
  pager = new Pager(PAGE, { previous: byId('res-prev'), next: byId('res-next'), onChange: loadReservations });
  const refilter = () => {
    pager.reset();
    loadReservations();
  };
  byId('res-filters').addEventListener('submit', (e) => {
    e.preventDefault();
    refilter();
  });
  ['res-event', 'res-status', 'res-user'].forEach((id) => byId(id).addEventListener('change', refilter));
  byId('admin-reservations').addEventListener('click', (e) => {
    const button = e.target.closest('[data-cancel-res]');
    if (button) cancelReservation(button);
  });
}
