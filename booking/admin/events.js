// Admin, Events tab: the event list (search as you type, past and canceled on request) with
// edit, reservations and cancel per event, and the form that creates or edits an event with a
// price for each seat tier of its venue. Its start is typed and shown on the venue's clock.
import { api } from '../api.js';
import { Data, Format } from '../data.js';
import { byId, html, render } from '../dom.js';
import { debounce, newestWins } from '../requests.js';
import * as UI from '../ui.js';
import { choosePoster } from './posters.js';
import { showReservationsOf } from './reservations.js';
import { askFirst, badge, problemSentence, state, venueSeats } from './shared.js';
import { selectTab } from './tabs.js';
import { typesBody, typesText } from './ticket-types.js';

const searches = newestWins();

/** The event form's venue choice, from the venue list (keeps the current choice). */
export function fillVenueSelect() {
  const select = byId('ev-venue');
  const current = select.value;
  render(
    select,
    html`<option value="">Choose a venue</option>
      ${state.venues.map((v) => html`<option value="${v.id}">${v.name} (${v.seat_count} seats)</option>`)}`,
  );
  if (current) select.value = current;
}

/** The time zone of the venue chosen in the event form (UTC until one is chosen). */
function chosenZone() {
  const venue = state.venues.find((v) => v.id === byId('ev-venue').value);
  return (venue && venue.time_zone) || 'UTC';
}

/** Says on whose clock the start is typed: "(Madrid time, the venue's clock)". */
function showStartZone() {
  const venueChosen = Boolean(byId('ev-venue').value);
  byId('ev-start-zone').textContent = venueChosen
    ? '(' + Format.zoneLabel(chosenZone()) + ', the venue\'s clock)'
    : '(on the venue\'s clock)';
}

function currencyDigits(code) {
  try {
    return new Intl.NumberFormat('en', { style: 'currency', currency: (code || 'EUR').toUpperCase() }).resolvedOptions().maximumFractionDigits;
  } catch (_) {
    return 2;
  }
}

/** One price input per seat tier of the venue, filled from `prices` when editing. */
async function showPriceInputs(venueId, prices, currency) {
  const box = byId('ev-prices');
  if (!venueId) {
    render(box, html`<p class="muted small">Choose a venue to price its tiers.</p>`);
    return;
  }
  render(box, html`<p class="muted small">Loading tiers…</p>`);
  try {
    const seats = await venueSeats(venueId);
    const tiers = Array.from(new Set(seats.map((s) => s.tier))).sort();
    const digits = currencyDigits(currency || byId('ev-currency').value);
    render(
      box,
      tiers.map((tier, i) => {
        const price = (prices || []).find((p) => p.tier === tier);
        const value = price ? (price.price_cents / Math.pow(10, digits)).toFixed(digits) : '';
        return html`<div class="field"><label for="price-${i}">${Format.label(tier)}</label>
          <input id="price-${i}" data-tier="${tier}" type="number" min="0" step="0.01" inputmode="decimal" required value="${value}"></div>`;
      }),
    );
  } catch (error) {
    box.replaceChildren();
    UI.handleError(error, byId('event-form-alert'));
  }
}

/** "Opens Sat 19 Dec 2026, 10:00 Berlin time · waiting room: 120 a minute, at most 500 at once, 10-minute sessions". */
function saleLine(ev) {
  const parts = [];
  if (ev.on_sale_at) parts.push('Opens ' + Format.zoned(ev.on_sale_at, Format.zoneOf(ev)));
  if (ev.accessible_release_hours != null) parts.push('Wheelchair spaces kept until ' + ev.accessible_release_hours + ' h before the start');
  if (ev.queue && ev.queue.enabled) {
    const q = ev.queue;
    parts.push('waiting room: ' + q.admit_per_minute + ' a minute, at most ' + q.max_active_buyers + ' at once, ' + q.session_minutes + '-minute sessions');
  }
  return parts.join(' · ');
}

function eventItem(ev) {
  const avail = Data.availability(ev);
  const past = new Date(ev.start_time).getTime() <= Date.now();
  const status = ev.status === 'canceled' ? badge('Canceled', 'canceled') : past ? badge('Past', 'expired') : badge('On sale', 'on_sale');
  return html`<div class="list-item" data-event-id="${ev.id}">
    <div class="grow">
      <h3>${ev.name}</h3>
      <p>${Data.category(ev.category).single} · ${(ev.venue && ev.venue.name) || ''} · <time datetime="${ev.start_time}" data-event-time>${Format.when(ev)}</time></p>
      <p>${status} ${ev.seats_available + ' of ' + ev.seats_total + ' seats free'}${avail.level === 'ok' ? '' : ' · ' + avail.text}</p>
      ${ev.on_sale_at || (ev.queue && ev.queue.enabled) || ev.accessible_release_hours != null ? html`<p class="small muted" data-sale-opening>${saleLine(ev)}</p>` : ''}
      ${ev.queue && ev.queue.enabled ? html`<p class="small" data-queue-stats aria-live="polite"></p>` : ''}
      <div class="confirm-slot"></div>
    </div>
    <div class="btn-row">
      <button class="btn btn-ghost btn-sm" type="button" data-edit>Edit</button>
      <button class="btn btn-ghost btn-sm" type="button" data-res>Reservations</button>
      ${ev.status !== 'canceled' ? html`<button class="btn btn-ghost btn-sm" type="button" data-poster>${ev.poster ? 'Change poster' : 'Add poster'}</button>` : ''}
      ${ev.status !== 'canceled' ? html`<button class="btn btn-danger btn-sm" type="button" data-cancel-event>Cancel event</button>` : ''}
    </div>
  </div>`;
}

/** How often the waiting rooms' figures are read again while the list shows. */
const QUEUE_STATS_EVERY_MS = 5000;
let queueStatsTimer = null;

/** Fills in the live figures of every listed event behind a waiting room, then again shortly. */
async function refreshQueueStats() {
  clearTimeout(queueStatsTimer);
  const lines = Array.from(byId('admin-events').querySelectorAll('[data-queue-stats]'));
  await Promise.all(lines.map(async (line) => {
    const eventId = line.closest('[data-event-id]').dataset.eventId;
    try {
      const s = await api.queue.stats(eventId);
      line.textContent = s.waiting + ' waiting · ' + s.let_through + ' let through · ' + s.active + ' active now (' + s.joined + ' joined)';
    } catch (_) {
      line.textContent = 'Waiting room figures unavailable; trying again.';
    }
  }));
  if (lines.length && !document.hidden) queueStatsTimer = setTimeout(refreshQueueStats, QUEUE_STATS_EVERY_MS);
}
document.addEventListener('visibilitychange', () => {
  if (!document.hidden) refreshQueueStats();
});

export async function loadEvents() {
  const list = byId('admin-events');
  const ticket = searches.next();
  list.setAttribute('aria-busy', 'true');
  try {
    const events = await api.events.getEvents(
      {
        include_past: byId('events-include-past').checked ? 'true' : undefined,
        q: byId('events-q').value.trim(),
        limit: 200,
      },
      { signal: ticket.signal },
    );
    if (ticket.stale) return;
    state.events = events;
    render(list, events.length ? events.map(eventItem) : UI.emptyState('No events', 'Create one with the form.'));
    refreshQueueStats();
  } catch (error) {
    if (!ticket.stale) UI.handleError(error);
  } finally {
    if (!ticket.stale) list.removeAttribute('aria-busy');
  }
}

export function resetEventForm() {
  byId('event-form').reset();
  byId('ev-types').dataset.first = '';
  byId('ev-id').value = '';
  byId('ev-queue').dataset.had = '';
  byId('ev-venue').disabled = false;
  byId('event-form-title').textContent = 'New event';
  byId('event-submit').textContent = 'Create event';
  // A week from today at 20:00 on the clock of the venue that will be chosen.
  byId('ev-start').value = Format.toLocalInput(Date.now() + 7 * 24 * 3600 * 1000).slice(0, 10) + 'T20:00';
  showStartZone();
  showPriceInputs('');
  UI.clear(byId('event-form-alert'));
}

function editEvent(ev) {
  byId('ev-id').value = ev.id;
  const first = (ev.ticket_types || [])[0] || {};
  byId('ev-types').value = typesText(ev, currencyDigits(ev.currency || 'EUR'));
  byId('ev-types').dataset.first = JSON.stringify({ name: first.name, quota: first.quota, hadMore: (ev.ticket_types || []).length > 1 });
  byId('ev-first-type').value = first.name && first.name !== 'standard' ? first.name : '';
  byId('ev-venue').value = ev.venue_id;
  byId('ev-venue').disabled = true; // an event keeps its venue: its seats belong to it
  byId('ev-name').value = ev.name;
  byId('ev-category').value = ev.category;
  byId('ev-duration').value = ev.duration_minutes || '';
  byId('ev-start').value = Format.toZonedInput(ev.start_time, Format.zoneOf(ev));
  showStartZone();
  byId('ev-currency').value = ev.currency || 'EUR';
  byId('ev-description').value = ev.description || '';
  byId('ev-opens').value = ev.on_sale_at ? Format.toZonedInput(ev.on_sale_at, Format.zoneOf(ev)) : '';
  byId('ev-accessible-hours').value = ev.accessible_release_hours == null ? '' : String(ev.accessible_release_hours);
  byId('ev-queue').checked = Boolean(ev.queue && ev.queue.enabled);
  byId('ev-queue').dataset.had = ev.queue ? 'yes' : '';
  if (ev.queue) {
    byId('ev-queue-pace').value = ev.queue.admit_per_minute;
    byId('ev-queue-active').value = ev.queue.max_active_buyers;
    byId('ev-queue-session').value = ev.queue.session_minutes;
  }
  byId('event-form-title').textContent = 'Edit “' + ev.name + '”';
  byId('event-submit').textContent = 'Save changes';
  showPriceInputs(ev.venue_id, ev.prices, ev.currency);
  byId('ev-name').focus();
}

function askCancel(item, ev) {
  askFirst(item.querySelector('.confirm-slot'), {
    question: 'Cancel “' + ev.name + '”?',
    consequence: 'Every held and confirmed seat is canceled and paid seats are refunded. This cannot be undone.',
    yes: 'Yes, cancel event',
    busyText: 'Canceling…',
    action: async () => {
      await api.events.cancelEvent(ev.id);
      UI.showStatus('“' + ev.name + '” was canceled; its bookings were canceled and refunded.', 'success');
      loadEvents();
    },
  });
}

async function saveEvent(e) {
  e.preventDefault();
  const alertEl = byId('event-form-alert');
  UI.clear(alertEl);
  const editing = byId('ev-id').value;
  const problems = [];
  const venueId = byId('ev-venue').value;
  if (!venueId) problems.push('choose a venue');
  if (!byId('ev-name').value.trim()) problems.push('give the event a name');
  const start = Format.fromZonedInput(byId('ev-start').value, chosenZone());
  if (!start) problems.push('choose when it starts');
  else if (!editing && new Date(start).getTime() <= Date.now()) problems.push('the start must be in the future');
  const currency = (byId('ev-currency').value.trim() || 'EUR').toUpperCase();
  if (!/^[A-Z]{3}$/.test(currency)) problems.push('the currency is a 3-letter code like EUR');
  const digits = currencyDigits(currency);
  const prices = Array.from(byId('ev-prices').querySelectorAll('[data-tier]')).map((input) => {
    const value = Number(input.value);
    if (input.value === '' || !(value >= 0)) problems.push('set a price for ' + Format.label(input.dataset.tier).toLowerCase());
    return { tier: input.dataset.tier, price_cents: Math.round(value * Math.pow(10, digits)) };
  });
  if (venueId && !prices.length && !problems.length) problems.push('wait for the venue tiers to load');
  const firstType = byId('ev-types').dataset.first ? JSON.parse(byId('ev-types').dataset.first) : {};
  const firstName = byId('ev-first-type').value.trim().toLowerCase();
  if (firstName) firstType.name = firstName;
  const ticketTypes = typesBody(byId('ev-types').value, prices, digits, firstType, problems);
  const opensInput = byId('ev-opens').value;
  const opens = opensInput ? Format.fromZonedInput(opensInput, chosenZone()) : null;
  if (opensInput && !opens) problems.push('choose when the sale opens');
  else if (opens && start && new Date(opens).getTime() >= new Date(start).getTime()) problems.push('the sale must open before the event starts');
  const whole = (id, low, high) => {
    const value = Number(byId(id).value);
    return Number.isInteger(value) && value >= low && value <= high ? value : null;
  };
  const queue = {
    enabled: byId('ev-queue').checked,
    admit_per_minute: whole('ev-queue-pace', 1, 100000),
    max_active_buyers: whole('ev-queue-active', 1, 100000),
    session_minutes: whole('ev-queue-session', 1, 120),
  };
  if (queue.enabled && queue.admit_per_minute === null) problems.push('let 1 to 100000 buyers through per minute');
  if (queue.enabled && queue.max_active_buyers === null) problems.push('allow 1 to 100000 buyers at once');
  if (queue.enabled && queue.session_minutes === null) problems.push('give a session of 1 to 120 minutes');
  const hoursInput = byId('ev-accessible-hours').value.trim();
  const accessibleHours = hoursInput === '' ? null : whole('ev-accessible-hours', 0, 8760);
  if (hoursInput !== '' && accessibleHours === null) problems.push('keep accessible seats 0 to 8760 whole hours before the start');
  if (problems.length) {
    UI.showError('Please check the event', problemSentence(problems), alertEl);
    return;
  }
  const body = {
    name: byId('ev-name').value.trim(),
    category: byId('ev-category').value,
    description: byId('ev-description').value.trim() || undefined,
    start_time: start,
    duration_minutes: byId('ev-duration').value ? Number(byId('ev-duration').value) : undefined,
    prices,
    ticket_types: ticketTypes,
    currency,
    // Editing: empty clears the opening; a waiting room switched off keeps its settings.
    on_sale_at: opens || (editing ? null : undefined),
    queue: queue.enabled || (byId('ev-queue').dataset.had && !Object.values(queue).includes(null)) ? queue : undefined,
    // Editing: empty puts wheelchair spaces and companion seats on general sale.
    accessible_release_hours: accessibleHours !== null ? accessibleHours : (editing ? null : undefined),
  };
  try {
    const saved = await UI.busy(byId('event-submit'), editing ? 'Saving…' : 'Creating…', () =>
      editing ? api.events.updateEvent(editing, body) : api.events.createEvent(Object.assign({ venue_id: venueId }, body)),
    );
    UI.showStatus('Event “' + saved.name + '” ' + (editing ? 'saved' : 'created') + ' for ' + Format.when(saved) + '.', 'success');
    resetEventForm();
    await loadEvents();
  } catch (error) {
    UI.handleError(error, alertEl);
  }
}

export function setupEvents() {
  Data.CATEGORIES.forEach((c) => {
    const option = document.createElement('option');
    option.value = c.id;
    option.textContent = c.single;
    byId('ev-category').appendChild(option);
  });
  byId('ev-venue').addEventListener('change', (e) => {
    showStartZone();
    showPriceInputs(e.target.value);
  });
  byId('events-q').addEventListener('input', debounce(loadEvents, 300));
  byId('events-include-past').addEventListener('change', loadEvents);
  byId('event-reset').addEventListener('click', resetEventForm);
  byId('event-form').addEventListener('submit', saveEvent);
  byId('admin-events').addEventListener('click', (e) => {
    const item = e.target.closest('[data-event-id]');
    if (!item) return;
    const ev = state.events.find((x) => x.id === item.dataset.eventId);
    if (!ev) return;
    if (e.target.closest('[data-edit]')) editEvent(ev);
    if (e.target.closest('[data-res]')) {
      selectTab('reservations');
      showReservationsOf(ev.id);
    }
    if (e.target.closest('[data-cancel-event]')) askCancel(item, ev);
    if (e.target.closest('[data-poster]')) choosePoster(item, ev, loadEvents);
  });
  resetEventForm();
}
