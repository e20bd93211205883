// payment.html?booking=<booking_id>: opens (or finds) the booking's payment, shows the hold
// countdown, takes the card and confirms; then a success view that links to the profile.
import { api } from './api.js';
import { Auth } from './auth.js';
import { Data, Format } from './data.js';
import { byId, html, render } from './dom.js';
import { t } from './i18n.js';
import * as UI from './ui.js';
import { WaitingRoom } from './waiting-room.js';

const root = byId('payment');
const title = byId('pay-title');
const subtitle = byId('pay-subtitle');
const bookingId = UI.param('booking');

const TEST_CARDS = [
  { number: '4242 4242 4242 4242', outcome: t('succeeds') },
  { number: '4000 0000 0000 0002', outcome: t('is declined') },
  { number: '4000 0000 0000 9995', outcome: t('has insufficient funds') },
];

/** When the countdown warns, in seconds left, most urgent last. */
const WARNINGS = [
  { at: 120, text: t('Two minutes left to pay for your seats.') },
  { at: 30, text: t('Thirty seconds left: pay now or your seats go back on sale.') },
];

const state = { booking: null, event: null, payment: null, timer: null, paying: false, testMode: false, warned: 0 };

function seatsTable(booking, event) {
  const rows = booking.reservations
    .slice()
    .sort((a, b) => String(a.seat.row).localeCompare(String(b.seat.row), undefined, { numeric: true }) || a.seat.seat_number - b.seat.seat_number);
  return html`<ul class="summary-list" aria-label=t('Seats')>
    ${rows.map(
      (r) => html`<li>
        <span><strong>${(r.seat.section ? `${r.seat.section} · ` : '') + t('Row {row} seat {n}', { row: r.seat.row, n: r.seat.seat_number })}</strong> <span class="muted small">${Format.label(r.seat.tier)}</span></span>
        <span>${Format.money(r.price_cents, r.currency || event.currency)}</span>
      </li>`,
    )}
  </ul>`;
}

function summaryPanel(booking, event, amount) {
  const venue = event.venue || {};
  return html`<aside class="panel" aria-labelledby="order-title">
    <h2 id="order-title">${t('Your order')}</h2>
    <p class="eyebrow">${Data.category(event.category).single}</p>
    <h3 class="order-event">${event.name}</h3>
    <p class="meta">${UI.icon('calendar')}<span><time datetime="${event.start_time}" data-event-time>${Format.when(event)}</time></span></p>
    <p class="meta order-venue">${UI.icon('pin')}<span>${venue.name || ''}</span></p>
    ${seatsTable(booking, event)}
    ${promoBox(booking)}
    <div class="total"><span>${t('Total')}</span><strong id="pay-total">${Format.money(amount, booking.currency)}</strong></div>
  </aside>`;
}

// A promo code: applied by a new checkout with it; the server computes the discount.
function promoBox(booking) {
  const payment = state.payment;
  if (!payment || payment.status !== 'pending') return '';
  const applied = payment.discount_cents > 0 || payment.promo_code
    ? html`<p class="small" id="promo-applied">${t('Code {code}: {amount} off', { code: payment.promo_code || '', amount: Format.money(payment.discount_cents, booking.currency) })}</p>`
    : '';
  return html`<form id="promo-form" class="field" novalidate>
    <label for="promo-code">${t('Promo code')}</label>
    <div class="btn-row"><input id="promo-code" maxlength="32" autocomplete="off" value="${payment.promo_code || ''}">
      <button class="btn btn-secondary btn-sm" type="submit" id="promo-apply">${t('Apply')}</button></div>
    <span class="hint" id="promo-error" role="alert"></span>
    ${applied}
  </form>`;
}

function wirePromo() {
  const form = byId('promo-form');
  if (!form) return;
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const code = byId('promo-code').value.trim();
    if (!code) return;
    try {
      state.payment = await UI.busy(byId('promo-apply'), t('Applying…'), () => api.payments.checkout(bookingId, undefined, code));
      state.booking = await api.reservations.getBooking(bookingId);
      showPay();
    } catch (error) {
      byId('promo-error').textContent = error.detail || t('This code cannot be used.');
    }
  });
}

// The countdown stays in view (sticky), warns at two minutes and at thirty seconds, visibly and
// through a polite live region, and offers the booking's one extension.
function timerBox() {
  return html`<div class="hold-timer hold-timer-sticky" id="hold-box">${UI.icon('clock')}
    <div class="hold-timer-body"><p><strong>${t('Your seats are held for')} <time id="hold-clock" role="timer" aria-live="off"></time></strong></p>
      <p class="small">${t('Pay before the timer runs out, or the seats go back on sale.')}</p>
      <p class="small hold-warning" id="hold-warning" role="status" aria-live="polite"></p></div>
    <button type="button" class="btn btn-secondary btn-sm" id="extend-hold">${t('More time')}</button>
  </div>`;
}

function testCardsBox() {
  return html`<div class="test-cards" id="test-cards"><strong>${t('Test cards')}</strong> — ${t('any future expiry date and any 3-digit CVC:')}
      <ul>
        ${TEST_CARDS.map(
          (c) => html`<li><span><code>${c.number}</code> ${c.outcome}</span>
            <button type="button" class="btn btn-ghost btn-sm" data-card="${c.number}" aria-label="${t('Use test card {number}', { number: c.number })}">${t('Use')}</button></li>`,
        )}
      </ul>
    </div>`;
}

function cardForm(amount, currency) {
  return html`<section class="panel" aria-labelledby="card-title">
    <h2 id="card-title">${UI.icon('card')} ${t('Card details')}</h2>
    ${state.testMode ? testCardsBox() : ''}
    <form id="card-form" novalidate autocomplete="on">
      <div class="field"><label for="cardholder">${t('Name on card')}</label>
        <input id="cardholder" name="cardholder" autocomplete="cc-name" maxlength="100"></div>
      <div class="field"><label for="card-number">${t('Card number')}</label>
        <input id="card-number" class="card-number-input" name="card_number" inputmode="numeric" autocomplete="cc-number" placeholder="1234 5678 9012 3456" maxlength="23" required aria-describedby="card-number-error">
        <span class="hint" id="card-number-error"></span></div>
      <div class="field-row">
        <div class="field"><label for="card-exp">${t('Expiry (MM/YY)')}</label>
          <input id="card-exp" name="exp" inputmode="numeric" autocomplete="cc-exp" placeholder="${t('MM/YY')}" maxlength="7" required aria-describedby="card-exp-error">
          <span class="hint" id="card-exp-error"></span></div>
        <div class="field"><label for="card-cvc">${t('CVC')}</label>
          <input id="card-cvc" name="cvc" inputmode="numeric" autocomplete="cc-csc" placeholder="123" maxlength="4" required aria-describedby="card-cvc-error">
          <span class="hint" id="card-cvc-error"></span></div>
      </div>
      <div id="pay-alert" role="alert" hidden></div>
      <button class="btn btn-primary btn-lg btn-block" type="submit" id="pay-button">${UI.icon('lock')} ${t('Pay {amount}', { amount: Format.money(amount, currency) })}</button>
      <p class="secure-note">${UI.icon('lock')} ${t('Your card number and CVC are sent once for this payment and never stored.')}</p>
    </form>
  </section>`;
}

// ---- views -----------------------------------------------------------------------------

function showPay() {
  const { booking, event, payment } = state;
  title.textContent = t('Payment');
  subtitle.textContent = t('Complete your booking before the hold runs out.');
  render(
    root,
    html`${timerBox()}<div class="pay-layout pay-layout-checkout">${cardForm(payment.amount_cents, payment.currency)}${summaryPanel(booking, event, payment.amount_cents)}</div>`,
  );
  startCountdown();
  wireExtension();
  wireForm();
  wirePromo();
}

function startCountdown() {
  if (state.timer) state.timer.stop();
  state.timer = UI.countdown(byId('hold-clock'), state.booking.expires_at, {
    onExpire: () => showExpired(),
    onTick: warnIfDue,
  });
}

/** Shows (and says, politely) the most urgent warning due, once each. */
function warnIfDue(left) {
  const due = WARNINGS.filter((w) => left <= w.at && left > 0).length;
  const box = byId('hold-box');
  if (box) box.classList.toggle('hold-timer-warning', due > 0);
  if (due <= state.warned) return;
  state.warned = due;
  const warning = byId('hold-warning');
  if (warning) warning.textContent = WARNINGS[due - 1].text;
}

/** The booking's one extension: the store refuses a second, so the button goes once it is used. */
function wireExtension() {
  const button = byId('extend-hold');
  if (!button) return;
  const used = () => {
    button.remove();
  };
  if (sessionStorage.getItem('proeventa.extended.' + bookingId)) used();
  button.addEventListener('click', async () => {
    try {
      const extended = await UI.busy(button, t('Extending…'), () => api.reservations.extendBooking(bookingId));
      state.booking = extended;
      // The warnings already due at the new time are not said again; the later ones still are.
      const left = Math.max(0, Math.round((new Date(extended.expires_at).getTime() - Date.now()) / 1000));
      state.warned = WARNINGS.filter((w) => left <= w.at).length;
      sessionStorage.setItem('proeventa.extended.' + bookingId, '1');
      used();
      startCountdown();
      byId('hold-warning').textContent = t('Your seats are held a little longer: the timer shows the new time.');
    } catch (error) {
      if (error.code === 'hold_expired') {
        showExpired(UI.describe(error).text);
        return;
      }
      if (error.code === 'extension_used') {
        sessionStorage.setItem('proeventa.extended.' + bookingId, '1');
        used();
      }
      UI.handleError(error, byId('pay-alert'));
    }
  });
}

function showSuccess(payment) {
  if (state.timer) state.timer.stop();
  const { booking, event } = state;
  title.textContent = t('Booking confirmed');
  subtitle.textContent = t('Enjoy the show!');
  UI.setTitle(t('Booking confirmed'));
  const amount = payment ? payment.amount_cents : booking.total_cents;
  render(
    root,
    html`<div class="pay-layout">
      <section class="panel success-view" aria-labelledby="success-title">
        <div class="success-badge">${UI.icon('check')}</div>
        <h2 id="success-title">${t('Payment successful — your seats are confirmed')}</h2>
        <p>${payment && payment.card_last4 ? t('{amount} paid with the card ending in {last4}.', { amount: Format.money(amount, booking.currency), last4: payment.card_last4 }) : t('{amount} paid.', { amount: Format.money(amount, booking.currency) })}</p>
        <p class="muted small">${t('Booking reference')} <strong>${booking.id.slice(0, 8).toUpperCase()}</strong></p>
        <div class="btn-row btn-row-center">
          <a class="btn btn-primary" href="profile.html#tickets" id="to-tickets">${t('View my tickets')}</a>
          <a class="btn btn-secondary" href="profile.html" id="to-profile">${t('View my bookings')}</a>
          <a class="btn btn-ghost" href="events.html">${t('Find more events')}</a></div>
      </section>
      ${summaryPanel(booking, event, amount)}
    </div>`,
  );
  const status = byId('page-status');
  UI.showStatus(t('Payment successful. Your booking is confirmed.'), 'success', status);
}

function showExpired(message) {
  if (state.timer) state.timer.stop();
  const event = state.event;
  title.textContent = t('Your hold has expired');
  subtitle.textContent = t('The seats went back on sale.');
  render(
    root,
    html`<section class="panel success-view" aria-labelledby="expired-title">
      <div class="success-badge success-badge-warning">${UI.icon('clock')}</div>
      <h2 id="expired-title">${t('Time ran out for these seats')}</h2>
      <p>${message || t('Your hold ended before payment, so the seats were released. Nothing was charged.')}</p>
      <div class="btn-row btn-row-center">
        ${event ? html`<a class="btn btn-primary" id="pick-again" href="booking.html?event=${encodeURIComponent(event.id)}">${t('Pick seats again')}</a>` : ''}
        <a class="btn btn-secondary" href="profile.html">${t('My bookings')}</a></div>
    </section>`,
  );
  UI.showError(t('Your hold has expired'), t('The seats were released. Pick seats again to book.'));
}

/** A booking's status in words ("Canceled"). */
const statusLabel = (status) => (Data.RESERVATION_STATUS[status] || { label: status }).label;

function showClosed(booking) {
  if (state.timer) state.timer.stop();
  title.textContent = t('Booking') + ' · ' + statusLabel(booking.status);
  render(
    root,
    UI.emptyState(
      t('This booking is {status}', { status: statusLabel(booking.status).toLowerCase() }),
      t('It can no longer be paid. You can pick new seats any time.'),
      html`<div class="btn-row btn-row-center">
        <a class="btn btn-primary" href="booking.html?event=${encodeURIComponent(booking.event_id)}">${t('Pick seats again')}</a>
        <a class="btn btn-secondary" href="profile.html">${t('My bookings')}</a></div>`,
    ),
  );
}

// ---- the card form ---------------------------------------------------------------------

function formatNumber(value) {
  return value.replace(/\D/g, '').slice(0, 19).replace(/(\d{4})(?=\d)/g, '$1 ');
}

function fieldError(input, message) {
  const hint = byId(input.id + '-error');
  input.setAttribute('aria-invalid', message ? 'true' : 'false');
  if (hint) {
    hint.textContent = message || '';
    hint.style.color = message ? 'var(--danger)' : '';
  }
}

function readCard(form) {
  const number = form.card_number.value.replace(/[\s-]/g, '');
  const exp = form.exp.value.replace(/\s/g, '').match(/^(\d{1,2})\/?(\d{2}|\d{4})$/);
  const cvc = form.cvc.value.trim();
  const problems = [];
  fieldError(form.card_number, '');
  fieldError(form.exp, '');
  fieldError(form.cvc, '');
  if (!/^\d{12,19}$/.test(number)) {
    fieldError(form.card_number, t('Enter the 12 to 19 digits on the card.'));
    problems.push(form.card_number);
  }
  let month = 0;
  let year = 0;
  if (exp) {
    month = Number(exp[1]);
    year = Number(exp[2].length === 2 ? '20' + exp[2] : exp[2]);
    const now = new Date();
    if (month < 1 || month > 12) {
      fieldError(form.exp, t('The month must be 01 to 12.'));
      problems.push(form.exp);
    } else if (year < now.getFullYear() || (year === now.getFullYear() && month < now.getMonth() + 1)) {
      fieldError(form.exp, t('This card has expired.'));
      problems.push(form.exp);
    }
  } else {
    fieldError(form.exp, t('Enter the expiry as MM/YY.'));
    problems.push(form.exp);
  }
  if (!/^\d{3,4}$/.test(cvc)) {
    fieldError(form.cvc, t('Enter the 3 or 4 digits on the back.'));
    problems.push(form.cvc);
  }
  return {
    problems,
    card: { card_number: number, exp_month: month, exp_year: year, cvc, cardholder: form.cardholder.value.trim() || undefined },
  };
}

function wireForm() {
  const form = byId('card-form');
  const alertEl = byId('pay-alert');
  const button = byId('pay-button');
  form.card_number.addEventListener('input', () => {
    form.card_number.value = formatNumber(form.card_number.value);
  });
  form.exp.addEventListener('input', (e) => {
    const digits = form.exp.value.replace(/\D/g, '').slice(0, 4);
    form.exp.value = digits.length > 2 || (digits.length === 2 && e.inputType !== 'deleteContentBackward') ? digits.slice(0, 2) + '/' + digits.slice(2) : digits;
  });
  const testCards = byId('test-cards');
  if (testCards) testCards.addEventListener('click', (e) => {
    const use = e.target.closest('[data-card]');
    if (!use) return;
    form.card_number.value = use.dataset.card;
    if (!form.exp.value) form.exp.value = '12/' + String((new Date().getFullYear() + 3) % 100).padStart(2, '0');
    if (!form.cvc.value) form.cvc.value = '123';
    form.card_number.focus();
  });
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    if (state.paying) return;
    UI.clear(alertEl);
    const { problems, card } = readCard(form);
    if (problems.length) {
      UI.showError(t('Please check your card details'), t('Some fields need fixing before we can charge the card.'), alertEl);
      problems[0].focus();
      return;
    }
    state.paying = true;
    try {
      // Bought through a waiting room: the sale ends the buyer's session there, freeing the slot.
      const eventId = state.booking && state.booking.event_id;
      const admission = eventId ? WaitingRoom.admission(eventId) : null;
      const paid = await UI.busy(button, t('Paying…'), () =>
        api.payments.confirm(state.payment.id, card, undefined, admission && admission.token));
      if (admission) WaitingRoom.endSession(eventId);
      state.payment = paid;
      try {
        state.booking = await api.reservations.getBooking(bookingId);
      } catch (_) {
        /* the success view can do with what it has */
      }
      showSuccess(paid);
    } catch (error) {
      if (error.code === 'hold_expired') {
        showExpired((UI.describe(error).text));
        return;
      }
      if (error.code === 'code_exhausted') {
        // Nothing was charged and the seats are still held: open the payment again at full price.
        state.payment = await api.payments.checkout(bookingId).catch(() => state.payment);
        showPay();
        UI.handleError(error, byId('pay-alert'));
        return;
      }
      if (error.code === 'validation_failed' && /card_number/.test(error.detail)) fieldError(form.card_number, t('This card number is not valid.'));
      if (error.code === 'validation_failed' && /exp_/.test(error.detail)) fieldError(form.exp, t('Check the expiry date.'));
      if (error.code === 'validation_failed' && /cvc/.test(error.detail)) fieldError(form.cvc, t('Check the CVC.'));
      UI.handleError(error, alertEl);
      if (error.code === 'card_declined' || error.code === 'insufficient_funds') form.card_number.select();
    } finally {
      state.paying = false;
    }
  });
}

// ---- start -----------------------------------------------------------------------------

async function openPayment() {
  try {
    // The access code the seats were held with (a presale, a hidden ticket type) pays for them.
    return await api.payments.checkout(bookingId, undefined, UI.param('code') || undefined);
  } catch (error) {
    if (error.code === 'invalid_state') {
      // A payment may already be open for this booking (a reload, another tab): use it.
      const existing = await api.payments.findForBooking(bookingId);
      if (existing && (existing.status === 'pending' || existing.status === 'succeeded')) return existing;
    }
    throw error;
  }
}

async function start() {
  if (!Auth.requireLogin()) return;
  if (!bookingId) {
    root.removeAttribute('aria-busy');
    render(
      root,
      UI.emptyState(
        t('No booking to pay'),
        t('Pick seats first; you are brought here to pay for them.'),
        html`<p><a class="btn btn-primary" href="events.html">${t('Browse events')}</a></p>`,
      ),
    );
    return;
  }
  render(root, html`<div class="panel"><p class="muted">${t('Preparing your payment…')}</p></div>`);
  try {
    // Test cards only when the server says no real money moves; unknown means no.
    state.testMode = await api.payments
      .config()
      .then((c) => c.test_mode === true)
      .catch(() => false);
    state.booking = await api.reservations.getBooking(bookingId);
    state.event = await api.events.getEventById(state.booking.event_id);
    if (state.booking.status === 'confirmed') {
      state.payment = await api.payments.findForBooking(bookingId).catch(() => null);
      showSuccess(state.payment);
      return;
    }
    if (state.booking.status === 'expired') {
      showExpired();
      return;
    }
    if (state.booking.status !== 'held') {
      showClosed(state.booking);
      return;
    }
    state.payment = await openPayment();
    if (state.payment.status === 'succeeded') {
      showSuccess(state.payment);
      return;
    }
    // Checkout extends the hold: show the new deadline.
    state.booking = await api.reservations.getBooking(bookingId);
    if (state.booking.status !== 'held') {
      if (state.booking.status === 'expired') showExpired();
      else showClosed(state.booking);
      return;
    }
    showPay();
  } catch (error) {
    if (error.code === 'hold_expired') {
      showExpired();
      return;
    }
    root.replaceChildren();
    const d = UI.handleError(error);
    if (d && error.status !== 401) {
      render(
        root,
        UI.emptyState(d.title, t('We could not prepare this payment.'), html`<p><a class="btn btn-primary" href="profile.html">${t('My bookings')}</a></p>`),
      );
    }
  } finally {
    root.removeAttribute('aria-busy');
  }
}

start();
