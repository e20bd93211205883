// profile.html: the account (GET /auth/me, name and password changes), the tickets of paid seats
// (each linking to ticket.html), and every booking — held, confirmed, canceled or expired — with
// payment, cancel and the refund it brought.
import { api } from './api.js';
import { Auth } from './auth.js';
import { Data, Format } from './data.js';
import { byId, html, render } from './dom.js';
import { t } from './i18n.js';
import * as UI from './ui.js';

const accountEl = byId('account');
const listEl = byId('bookings');
const tabsEl = byId('booking-tabs');
const ticketsEl = byId('ticket-list');
const FILTERS = ['all', 'held', 'confirmed', 'canceled', 'expired'];

const state = { user: null, bookings: [], tickets: [], filter: 'all', timers: [], events: new Map() };

// ---- account ---------------------------------------------------------------------------

function renderAccount(user) {
  const admin = user.role === 'admin';
  render(
    accountEl,
    html`<dl class="account-facts">
        <div><dt>${t('Name')}</dt><dd id="account-name">${user.name || '—'}</dd></div>
        <div><dt>${t('E-mail')}</dt><dd id="account-email">${user.email}</dd></div>
        <div><dt>${t('Account')}</dt><dd>${admin ? html`<span class="status status-admin">${t('Admin')}</span>` : user.role === 'staff' ? t('Door staff') : t('Customer')} · ${t('member since {date}', { date: Format.date(user.created_at) })}</dd></div>
      </dl>
      ${admin ? html`<p><a class="btn btn-secondary btn-sm" href="admin.html">${t('Open admin')}</a></p>` : ''}
      ${admin || user.role === 'staff' ? html`<p><a class="btn btn-secondary btn-sm" href="checkin.html">${t('Open the door page')}</a></p>` : ''}
      <details class="more"><summary>${t('Change name')}</summary>
        <form id="name-form" novalidate><div class="field"><label for="new-name">${t('Name')}</label>
          <input id="new-name" name="name" autocomplete="name" maxlength="100" value="${user.name || ''}"></div>
          <button class="btn btn-secondary btn-sm" type="submit">${t('Save name')}</button></form>
      </details>
      <details class="more"><summary>${t('Change password')}</summary>
        <form id="password-form" novalidate>
          <div class="field"><label for="current-password">${t('Current password')}</label>
            <input id="current-password" name="current_password" type="password" autocomplete="current-password" required></div>
          <div class="field"><label for="new-password">${t('New password')}</label>
            <input id="new-password" name="password" type="password" autocomplete="new-password" minlength="8" maxlength="128" required>
            <span class="hint">${t('8 to 128 characters.')}</span></div>
          <button class="btn btn-secondary btn-sm" type="submit">${t('Change password')}</button></form>
      </details>
      <div id="account-alert" role="alert" hidden></div>`,
  );

  const alertEl = byId('account-alert');
  byId('name-form').addEventListener('submit', async (e) => {
    e.preventDefault();
    UI.clear(alertEl);
    const button = e.currentTarget.querySelector('button');
    const name = byId('new-name').value.trim();
    try {
      const updated = await UI.busy(button, t('Saving…'), () => api.auth.updateMe({ name }));
      Auth.setUser(updated);
      state.user = updated;
      byId('account-name').textContent = updated.name || '—';
      UI.showStatus(t('Your name was saved.'), 'success');
    } catch (error) {
      UI.handleError(error, alertEl);
    }
  });
  byId('password-form').addEventListener('submit', async (e) => {
    e.preventDefault();
    UI.clear(alertEl);
    const form = e.currentTarget;
    const button = form.querySelector('button');
    const next = byId('new-password');
    const current = byId('current-password');
    if (next.value.length < 8) {
      UI.showError(t('Password too short'), t('The new password needs at least 8 characters.'), alertEl);
      return;
    }
    try {
      await UI.busy(button, t('Saving…'), async () => {
        const updated = await api.auth.updateMe({ password: next.value, current_password: current.value });
        // A password change ends every session opened with the old one, this one too: sign in
        // again with the new password so this page goes on working.
        await Auth.login(updated.email, next.value);
      });
      form.reset();
      UI.showStatus(t('Your password was changed.'), 'success');
    } catch (error) {
      if (error.status === 401 && error.code === 'invalid_credentials') {
        UI.showError(t('Wrong password'), t('The current password is not right.'), alertEl);
      } else {
        UI.handleError(error, alertEl);
      }
    }
  });
}

// ---- tickets ---------------------------------------------------------------------------

/** Fetches the events the given items belong to that this page has not seen yet. */
async function loadEvents(items) {
  const ids = Array.from(new Set(items.map((r) => r.event_id))).filter((id) => !state.events.has(id));
  const events = await Promise.all(ids.map((id) => api.events.getEventById(id).catch(() => null)));
  events.forEach((e) => e && state.events.set(e.id, e));
}

function ticketStatusBadge(status) {
  const info = Data.TICKET_STATUS[status] || { label: Format.label(status) };
  return html`<span class="status status-ticket-${status}" data-ticket-status="${status}">${info.label}</span>`;
}

function ticketRow(ticket) {
  const event = state.events.get(ticket.event_id);
  const title = event ? event.name : t('Event');
  return html`<li class="ticket-row" data-ticket-id="${ticket.id}" data-status="${ticket.status}">
    <div class="ticket-row-main">
      <a class="ticket-row-link" href="ticket.html?id=${encodeURIComponent(ticket.id)}">${title}</a>
      <span class="small muted">${event ? html`<time datetime="${event.start_time}" data-event-time>${Format.when(event)}</time>` : ''}${event && event.venue ? ' · ' + event.venue.name : ''}</span>
      <span class="ticket-row-seat">${ticket.seat_label}</span>
    </div>
    ${ticketStatusBadge(ticket.status)}
  </li>`;
}

function renderTickets() {
  if (!state.tickets.length) {
    render(ticketsEl, html`<p class="muted small">${t('No tickets yet: paying for seats gives you one per seat.')}</p>`);
    return;
  }
  render(ticketsEl, html`<ul class="ticket-rows">${state.tickets.map(ticketRow)}</ul>`);
}

async function loadTickets() {
  ticketsEl.setAttribute('aria-busy', 'true');
  try {
    const answer = await api.tickets.list({ limit: 200 });
    state.tickets = Array.isArray(answer) ? answer : (answer && answer.items) || [];
    await loadEvents(state.tickets);
    renderTickets();
  } catch (error) {
    ticketsEl.replaceChildren();
    UI.handleError(error);
  } finally {
    ticketsEl.removeAttribute('aria-busy');
  }
}

// ---- bookings --------------------------------------------------------------------------

function groupBookings(reservations, payments) {
  const byBooking = new Map();
  reservations.forEach((r) => {
    if (!byBooking.has(r.booking_id)) byBooking.set(r.booking_id, []);
    byBooking.get(r.booking_id).push(r);
  });
  const paymentsByBooking = new Map();
  payments
    .slice()
    .sort((a, b) => String(a.created_at).localeCompare(String(b.created_at)))
    .forEach((p) => {
      // The one that took money wins over a failed or abandoned attempt.
      const current = paymentsByBooking.get(p.booking_id);
      if (!current || p.status !== 'failed' || current.status === 'failed') paymentsByBooking.set(p.booking_id, p);
    });
  return Array.from(byBooking.entries())
    .map(([id, items]) => ({
      id,
      event_id: items[0].event_id,
      reservations: items,
      status: Data.bookingStatus(items),
      created_at: items.reduce((min, r) => (r.created_at < min ? r.created_at : min), items[0].created_at),
      expires_at: items.reduce((max, r) => (r.expires_at > max ? r.expires_at : max), items[0].expires_at),
      total: items.reduce((sum, r) => sum + r.price_cents, 0),
      currency: items[0].currency,
      payment: paymentsByBooking.get(id) || null,
    }))
    .sort((a, b) => String(b.created_at).localeCompare(String(a.created_at)));
}

function statusBadge(status) {
  const info = Data.RESERVATION_STATUS[status] || { label: Format.label(status) };
  return html`<span class="status status-${status}" data-booking-status="${status}">${info.label}</span>`;
}

function paymentLines(booking) {
  const p = booking.payment;
  if (!p || p.status === 'pending' || p.status === 'failed') return '';
  const card = p.card_last4 ? ' ' + t('with the card ending in {last4}', { last4: p.card_last4 }) : '';
  const badge = html`<span class="status status-${p.status}" data-payment-status="${p.status}">
    ${Data.PAYMENT_STATUS[p.status] || Format.label(p.status)}</span>`;
  const part = p.status === 'partially_refunded' ? ' ' + t('(part of the payment)') : '';
  return html`<div><strong>${t('Paid')}</strong> ${Format.money(p.amount_cents, p.currency)}${card} ${badge}</div>
    ${p.refunded_cents > 0
      ? html`<div class="refund-line" data-refund>${t('Refunded {amount} to your card', { amount: Format.money(p.refunded_cents, p.currency) })}${part}</div>`
      : ''}`;
}

function canCancelConfirmed(event) {
  return event && new Date(event.start_time).getTime() - Date.now() > 24 * 3600 * 1000;
}

function bookingCard(booking) {
  const event = state.events.get(booking.event_id);
  const venue = (event && event.venue) || {};
  const seats = booking.reservations
    .slice()
    .sort((a, b) => String(a.seat.row).localeCompare(String(b.seat.row), undefined, { numeric: true }) || a.seat.seat_number - b.seat.seat_number);
  const seatText = Data.seatList(seats);
  const tiers = Array.from(new Set(seats.map((r) => Format.label(r.seat.tier)))).join(', ');
  let actions = '';
  if (booking.status === 'held') {
    actions = html`<p class="small flush">${t('Pay within')} <time data-hold-clock="${booking.expires_at}"></time> ${t('or the seats are released.')}</p>
      <div class="btn-row"><a class="btn btn-primary btn-sm" href="payment.html?booking=${encodeURIComponent(booking.id)}">${t('Pay now')}</a>
        <button class="btn btn-ghost btn-sm" type="button" data-cancel="${booking.id}">${t('Release seats')}</button></div>`;
  } else if (booking.status === 'confirmed') {
    const pdf = html`<button class="btn btn-secondary btn-sm" type="button" data-tickets-pdf="${booking.id}">${t('Tickets (PDF)')}</button>`;
    actions = canCancelConfirmed(event)
      ? html`<div class="btn-row">${pdf}<button class="btn btn-danger btn-sm" type="button" data-cancel="${booking.id}">${t('Cancel booking')}</button></div>`
      : html`<div class="btn-row">${pdf}</div><p class="small muted flush">${t('Less than 24 hours to go: this booking can no longer be canceled online.')}</p>`;
  }
  return html`<article class="card booking-card" data-booking-id="${booking.id}" data-status="${booking.status}" aria-labelledby="b-${booking.id}">
    ${UI.poster(event || { name: t('Event'), category: 'other' })}
    <div class="booking-main">
      <div class="booking-top">
        <h3 id="b-${booking.id}">${event ? html`<a href="detail.html?id=${encodeURIComponent(event.id)}">${event.name}</a>` : t('Event')}</h3>
        ${statusBadge(booking.status)}
      </div>
      <div class="booking-lines">
        ${event ? html`<div><time datetime="${event.start_time}" data-event-time>${Format.when(event)}</time> · ${venue.name || ''}</div>` : ''}
        <div><strong>${seats.length === 1 ? t('1 seat:') : t('{n} seats:', { n: seats.length })}</strong> ${seatText} <span class="muted">(${tiers})</span></div>
        <div><strong>${t('Total')}</strong> ${Format.money(booking.total, booking.currency)} · ${t('booked {when}', { when: Format.dateTime(booking.created_at) })} · ${t('ref {id}', { id: booking.id.slice(0, 8).toUpperCase() })}</div>
        ${paymentLines(booking)}
      </div>
      ${actions}
      <div class="confirm-slot"></div>
    </div>
  </article>`;
}

function renderTabs() {
  const counts = { all: state.bookings.length };
  state.bookings.forEach((b) => {
    counts[b.status] = (counts[b.status] || 0) + 1;
  });
  render(
    tabsEl,
    FILTERS.map(
      (f) => html`<button type="button" class="tab" data-filter="${f}" aria-pressed="${state.filter === f}">
        ${f === 'all' ? t('All') : Data.RESERVATION_STATUS[f].label}<span class="count">${counts[f] || 0}</span></button>`,
    ),
  );
}

function renderBookings() {
  state.timers.forEach((t) => t.stop());
  state.timers = [];
  renderTabs();
  const shown = state.bookings.filter((b) => state.filter === 'all' || b.status === state.filter);
  if (!state.bookings.length) {
    render(
      listEl,
      UI.emptyState(
        t('No bookings yet'),
        t('When you hold or buy seats, they appear here.'),
        html`<p><a class="btn btn-primary" href="events.html">${t('Find something to see')}</a></p>`,
      ),
    );
    return;
  }
  if (!shown.length) {
    render(listEl, UI.emptyState(t('Nothing here'), t('No bookings with this status.')));
    return;
  }
  render(listEl, shown.map(bookingCard));
  listEl.querySelectorAll('[data-hold-clock]').forEach((el) => {
    state.timers.push(UI.countdown(el, el.dataset.holdClock, { onExpire: () => loadBookings() }));
  });
}

async function loadBookings() {
  let paymentsError = null;
  listEl.setAttribute('aria-busy', 'true');
  try {
    const [reservations, payments] = await Promise.all([
      api.reservations.getUserReservations(state.user.id, { limit: 200 }),
      api.payments.list({ limit: 200 }).catch((error) => {
        if (error.status === 401) throw error;
        paymentsError = error; // bookings still show, without payment details, and we say so
        return [];
      }),
    ]);
    await loadEvents(reservations);
    state.bookings = groupBookings(reservations, payments);
    renderBookings();
    if (paymentsError) {
      UI.showError(t('Payment details unavailable'), UI.describe(paymentsError).text + ' ' + t('Your bookings are shown without them.'));
    }
  } catch (error) {
    listEl.replaceChildren();
    UI.handleError(error);
  } finally {
    listEl.removeAttribute('aria-busy');
  }
}

function askCancel(button) {
  const card = button.closest('.booking-card');
  const booking = state.bookings.find((b) => b.id === button.dataset.cancel);
  if (!booking) return;
  const slot = card.querySelector('.confirm-slot');
  const paid = booking.payment && booking.payment.status === 'succeeded';
  const refund = paid ? booking.reservations.filter((r) => r.status === 'confirmed').reduce((s, r) => s + r.price_cents, 0) : 0;
  const held = booking.status === 'held';
  render(
    slot,
    html`<div class="confirm-box" role="group" aria-label="${t('Confirm cancellation')}">
      <p><strong>${held ? t('Release these seats?') : t('Cancel this booking?')}</strong> ${paid
        ? t('{amount} will be refunded to your card.', { amount: Format.money(refund, booking.currency) })
        : t('The seats go back on sale.')}</p>
      <div class="btn-row"><button type="button" class="btn btn-danger-solid btn-sm" data-confirm-cancel>${held ? t('Yes, release seats') : t('Yes, cancel booking')}</button>
        <button type="button" class="btn btn-ghost btn-sm" data-keep>${t('Keep booking')}</button></div>
    </div>`,
  );
  slot.querySelector('[data-keep]').addEventListener('click', () => {
    slot.replaceChildren();
    button.focus();
  });
  slot.querySelector('[data-confirm-cancel]').addEventListener('click', (e) => doCancel(booking, e.currentTarget));
  slot.querySelector('[data-confirm-cancel]').focus();
}

async function doCancel(booking, button) {
  UI.clear();
  try {
    await UI.busy(button, t('Canceling…'), () => api.reservations.cancelBooking(booking.id));
    await Promise.all([loadBookings(), loadTickets()]);
    const after = state.bookings.find((b) => b.id === booking.id);
    const p = after && after.payment;
    if (p && p.refunded_cents > 0) {
      UI.showStatus(p.card_last4
        ? t('Booking canceled. {amount} refunded to your card ending in {last4}.', { amount: Format.money(p.refunded_cents, p.currency), last4: p.card_last4 })
        : t('Booking canceled. {amount} refunded to your card.', { amount: Format.money(p.refunded_cents, p.currency) }), 'success');
    } else {
      UI.showStatus(booking.status === 'held' ? t('Seats released.') : t('Booking canceled.'), 'success');
    }
  } catch (error) {
    UI.handleError(error);
    loadBookings();
  }
}

tabsEl.addEventListener('click', (e) => {
  const tab = e.target.closest('[data-filter]');
  if (!tab) return;
  state.filter = tab.dataset.filter;
  renderBookings();
});
listEl.addEventListener('click', (e) => {
  const button = e.target.closest('[data-cancel]');
  if (button) askCancel(button);
  const pdf = e.target.closest('[data-tickets-pdf]');
  if (pdf) downloadTickets(pdf);
});

/** Every ticket of a booking, one page each, saved as a PDF. */
async function downloadTickets(button) {
  UI.clear();
  const bookingId = button.dataset.ticketsPdf;
  try {
    const pdf = await UI.busy(button, t('Preparing PDF…'), () => api.tickets.bookingPdf(bookingId));
    UI.saveFile(pdf, 'proeventa-tickets-' + bookingId.slice(0, 8).toLowerCase() + '.pdf');
  } catch (error) {
    UI.handleError(error);
  }
}

async function start() {
  if (!Auth.requireLogin()) return;
  try {
    state.user = await Auth.refreshUser();
    renderAccount(state.user);
  } catch (error) {
    accountEl.replaceChildren();
    UI.handleError(error);
    return;
  } finally {
    accountEl.removeAttribute('aria-busy');
  }
  const wanted = UI.param('status');
  if (FILTERS.includes(wanted)) state.filter = wanted;
  await Promise.all([loadBookings(), loadTickets()]);
  // profile.html#tickets (the header's "Tickets"): the list is there now, so go to it.
  if (window.location.hash === '#tickets') byId('tickets').scrollIntoView({ block: 'start' });
}

start();
