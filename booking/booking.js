// booking.html?event=<event_id>: the live seat map. Seats come from GET /events/events/{id}/seats,
// polled every 2 s (with If-None-Match when the server sends an ETag) so other buyers' holds show
// up at once; up to 10 seats are picked with mouse, touch or keyboard and held with one reserve.
import { api } from './api.js';
import { mountBestAvailable } from './best-available.js';
import { Auth } from './auth.js';
import { Data, Format } from './data.js';
import { byId, html, render, styled, trusted } from './dom.js';
import { t } from './i18n.js';
import { newestWins } from './requests.js';
import { TicketTypes } from './ticket-types.js';
import * as UI from './ui.js';
import { WaitingRoom } from './waiting-room.js';

const MAX_SEATS = 10;
const POLL_MS = 2000;
const eventId = UI.param('event');
// An access code (booking.html?event=…&access_code=…): it unlocks a presale and hidden ticket
// types; sent with the hold and on to the payment, whose checkout must name it.
const accessCode = (UI.param('access_code') || '').trim();

const els = {
  eyebrow: byId('booking-eyebrow'),
  title: byId('booking-title'),
  meta: byId('booking-meta'),
  hold: byId('current-hold'),
  layout: byId('booking-layout'),
  legend: byId('legend'),
  map: byId('seatmap'),
  scroll: byId('seatmap-scroll'),
  live: byId('map-live'),
  news: byId('seat-news'),
  summary: byId('summary-body'),
  total: byId('summary-total'),
  reserve: byId('reserve'),
  reserveAlert: byId('reserve-alert'),
  reserveNote: byId('reserve-note'),
  bestForm: byId('best-form'),
  bestCount: byId('best-count'),
  bestTier: byId('best-tier'),
  bestFind: byId('best-find'),
  accessForm: byId('access-form'),
  accessCode: byId('access-code'),
  accessApply: byId('access-apply'),
  accessNote: byId('access-note'),
  bestAccessible: byId('best-accessible'),
};

const state = {
  event: null,
  accessCode: null, // the access code the event was read with (it unlocked something)
  seats: new Map(), // seat_id → { seat: SeatState, el: HTMLButtonElement }
  rows: [], // [[seat_id, …] per row, in order]
  selected: [], // seat ids in the order picked
  mine: new Set(), // seats of my own current hold
  tierColour: new Map(),
  tierShape: new Map(), // tier → 0..3: tiers told apart by the seat's shape as well as its colour
  etag: null,
  order: [], // seat ids in the order of the last full map: the order of /seat-states
  states: null, // the last /seat-states string applied
  pollTimer: null,
  failures: 0,
  holdTimer: null,
  reserving: false,
  admission: null, // the waiting room's admission, while the event's queue is on
  found: [], // the reservations best available just held, shown in the summary
  layout: null, // a venue drawn in sections: its layout document, drawn by the zoomable map
  view: null, // the zoomable map (seatmap-view.js) when there is a layout
};

/** The zoomable map's module, loaded only for a venue drawn in sections (rows need none of it). */
let arenaMap = null;

const seatReads = newestWins();

/** How many seat shapes tell tiers apart (style.css, `data-tier-shape`), beside their colours. */
const TIER_SHAPES = 4;

const pickKey = () => 'proeventa.pick.' + eventId;

function seatName(seat) {
  return Data.seatName(seat);
}

function statusWord(seat) {
  if (state.selected.includes(seat.seat_id)) return t('selected');
  if (seat.status === 'held' && state.mine.has(seat.seat_id)) return t('held by you');
  return { available: t('available'), held: t('held'), sold: t('sold') }[seat.status] || seat.status;
}

/** Prices as words, formatted once each: an arena's 4,608 seat names share a few prices. */
const priceWords = new Map();

function priceWord(cents) {
  if (!priceWords.has(cents)) priceWords.set(cents, Format.money(cents, state.event.currency));
  return priceWords.get(cents);
}

/**
 * When the event's wheelchair spaces and companion seats go on general sale (its
 * `accessible_release_hours` before the start), or null when they are not held back (any more).
 */
function accessibleRelease() {
  const hours = state.event && state.event.accessible_release_hours;
  if (hours == null) return null;
  const release = new Date(state.event.start_time).getTime() - hours * 3600 * 1000;
  return release > Date.now() ? new Date(release).toISOString() : null;
}

/** Until when, in words on the venue's clock, or null (see `accessibleRelease`). */
function accessibleUntil() {
  const release = accessibleRelease();
  return release ? Format.zoned(release, Format.zoneOf(state.event)) : null;
}

/** A wheelchair space's or companion seat's words for its accessible name ('' for other seats). */
function accessibleWord(seat) {
  const attrs = seat.attributes || [];
  const until = accessibleUntil();
  if (attrs.includes('wheelchair')) {
    return ', ' + (until ? t('wheelchair space, kept for wheelchair users until {time}', { time: until }) : t('wheelchair space'));
  }
  if (attrs.includes('companion')) {
    return ', ' + (until ? t('companion seat, kept for the companions of wheelchair users until {time}', { time: until }) : t('companion seat'));
  }
  return '';
}

function seatLabel(seat) {
  return seatName(seat) + ', ' + Format.label(seat.tier).toLowerCase() + ', ' + priceWord(seat.price_cents) + accessibleWord(seat) + ', ' + statusWord(seat);
}

function announce(text) {
  els.news.textContent = '';
  // A fresh text node makes screen readers speak it even when it repeats.
  setTimeout(() => {
    els.news.textContent = text;
  }, 30);
}

// ---- rendering -------------------------------------------------------------------------

function renderHead() {
  const e = state.event;
  const cat = Data.category(e.category);
  UI.setTitle(t('Seats') + ' · ' + e.name);
  els.eyebrow.textContent = cat.single + ' · ' + Format.eventDay(e);
  els.title.textContent = e.name;
  render(
    els.meta,
    html`<time datetime="${e.start_time}" data-event-time>${Format.when(e)}</time> · ${(e.venue && e.venue.name) || ''} · <a href="detail.html?id=${encodeURIComponent(e.id)}">${t('Details and showtimes')}</a>`,
  );
}

function renderLegend() {
  const tiers = Data.tiers(state.event.prices);
  tiers.forEach((t, i) => {
    state.tierColour.set(t.tier, t.colour);
    state.tierShape.set(t.tier, i % TIER_SHAPES);
  });
  const arena = Boolean(state.layout);
  const swatch = (tier) => arena
    ? trusted(arenaMap.tierSwatch(state.tierShape.get(tier), state.tierColour.get(tier)))
    : html`<span class="tier-swatch" data-tier-shape="${state.tierShape.get(tier)}"${styled({ 'border-color': state.tierColour.get(tier) })} aria-hidden="true"></span>`;
  // The key: open on a wide screen, one line ("Key") on a phone, so the venue is in the first screen.
  const key = document.createElement('details');
  key.className = 'map-key';
  key.open = !window.matchMedia('(max-width: 640px)').matches;
  els.legend.replaceChildren(key);
  render(
    key,
    html`<summary>${t('Key')}</summary><div class="legend-group"><p class="legend-title" id="legend-status">${t('Seat status')}</p>
        <ul class="legend" aria-labelledby="legend-status">
          <li>${state.layout ? trusted(arenaMap.stateSwatch('available')) : html`<span class="seat" aria-hidden="true"></span>`}${t('Available')}</li>
          <li>${state.layout ? trusted(arenaMap.stateSwatch('available', true)) : html`<span class="seat" aria-pressed="true" aria-hidden="true"></span>`}${t('Your pick (tick)')}</li>
          <li>${state.layout ? trusted(arenaMap.stateSwatch('held')) : html`<span class="seat" data-status="held" aria-hidden="true"></span>`}${t('Held by someone (stripes)')}</li>
          <li>${state.layout ? trusted(arenaMap.stateSwatch('sold')) : html`<span class="seat" data-status="sold" aria-hidden="true"></span>`}${t('Sold (cross)')}</li>
        </ul></div>
      <div class="legend-group"><p class="legend-title" id="legend-tiers">${t('Tiers and prices')}</p>
        <ul class="legend legend-tiers" aria-labelledby="legend-tiers">
          ${tiers.map(
            (t) => html`<li>${swatch(t.tier)}
              <span><strong>${Format.label(t.tier)}</strong> ${Format.money(t.price_cents, state.event.currency)}</span></li>`,
          )}
        </ul></div>
      ${arena ? html`<div class="legend-group"><p class="legend-title" id="legend-sections">${t('Sections: free seats')}</p>
        <ul class="legend" aria-labelledby="legend-sections">
          <li><span class="band" data-band="many" aria-hidden="true"></span>${t('Over half free')}</li>
          <li><span class="band" data-band="some" aria-hidden="true"></span>${t('Some free')}</li>
          <li><span class="band" data-band="few" aria-hidden="true"></span>${t('Few free')}</li>
          <li><span class="band" data-band="none" aria-hidden="true"></span>${t('None free')}</li>
          <li><span class="sym" aria-hidden="true">${arenaMap.SYMBOLS.wheelchair}</span>${t('Wheelchair space')}</li>
          <li><span class="sym" aria-hidden="true">${arenaMap.SYMBOLS.companion}</span>${t('Companion seat, beside a wheelchair space')}</li>
        </ul></div>` : ''}
      ${arena ? html`<p class="legend-note" id="accessible-note">${accessibleUntil()
        ? t('Wheelchair spaces and companion seats are kept for wheelchair users and their companions until {time}. Tick “I need a wheelchair space” to book one.', { time: accessibleUntil() })
        : t('Wheelchair spaces and companion seats are on general sale.')}</p>` : ''}`,
  );
}

function naturalRow(a, b) {
  return String(a).localeCompare(String(b), undefined, { numeric: true, sensitivity: 'base' });
}

function paintSeat(entry) {
  const { seat, el } = entry;
  const picked = state.selected.includes(seat.seat_id);
  el.dataset.status = seat.status;
  el.setAttribute('aria-pressed', picked ? 'true' : 'false');
  el.setAttribute('aria-disabled', seat.status === 'available' ? 'false' : 'true');
  if (state.mine.has(seat.seat_id) && seat.status === 'held') el.dataset.mine = 'true';
  else delete el.dataset.mine;
  const label = seatLabel(seat);
  el.setAttribute('aria-label', label);
  el.title = label;
  if (state.view) state.view.paint(seat.seat_id);
}

/**
 * A venue drawn in sections: the zoomable map (seatmap-view.js) draws the layout; each seat's
 * element takes its state here (paintSeat) as a button of the flat grid does.
 */
function renderArena(seats) {
  const given = new Map(seats.map((s) => [s.seat_id, s]));
  // The key under the map, so the venue comes first on every screen.
  els.scroll.after(els.legend);
  els.layout.classList.add('arena-map');
  els.map.classList.add('seatmap-arena');
  els.scroll.classList.add('seatmap-arena');
  state.view = new arenaMap.SeatMapView(els.map, state.layout, {
    name: t('Seat map of {venue}', { venue: (state.event.venue && state.event.venue.name) || '' }),
    tierColour: (tier) => state.tierColour.get(tier) || '#0f766e',
    tierShape: (tier) => state.tierShape.get(tier) || 0,
    seatInfo: (id) => (state.seats.get(id) || {}).seat || given.get(id) || null,
    price: (cents) => Format.money(cents, state.event.currency),
    onPick: toggle,
    announce,
  });
  seats.forEach((seat) => {
    const el = state.view.seatElement(seat.seat_id);
    if (!el) return;
    const entry = { seat, el };
    state.seats.set(seat.seat_id, entry);
    paintSeat(entry);
  });
  els.map.removeAttribute('aria-busy');
  byId('map-help').textContent = t('Use Tab to reach the map: the arrow keys move between sections and Enter zooms into one; there the arrow keys move between seats, Enter or Space picks a seat and Escape shows the whole venue. Up to 10 seats.');
}

function renderMap(seats) {
  state.seats.clear();
  state.rows = [];
  if (state.layout) {
    renderArena(seats);
    return;
  }
  // A venue drawn as sections (issue 19) may have a row "1" in every section: its rows are keyed
  // by section and row, in the venue's order (the map's), until the zoomable map draws them.
  const sectioned = seats.some((s) => s.section);
  const rowKey = (s) => (s.section ? `${s.section} · ${s.row}` : s.row);
  const byRow = new Map();
  seats.forEach((s) => {
    const key = rowKey(s);
    if (!byRow.has(key)) byRow.set(key, []);
    byRow.get(key).push(s);
  });
  const rowNames = sectioned ? Array.from(byRow.keys()) : Array.from(byRow.keys()).sort(naturalRow);
  const fragment = document.createDocumentFragment();
  const stage = document.createElement('div');
  stage.className = 'stage';
  stage.textContent = state.event.venue && state.event.venue.kind === 'cinema' ? 'SCREEN' : 'STAGE';
  stage.setAttribute('aria-hidden', 'true');
  fragment.appendChild(stage);
  rowNames.forEach((rowName) => {
    const rowSeats = byRow.get(rowName).sort((a, b) => a.seat_number - b.seat_number);
    const row = document.createElement('div');
    row.className = 'seat-row';
    row.setAttribute('role', 'group');
    const first = byRow.get(rowName)[0];
    const rowLabel = t('Row {row}', { row: first.row });
    row.setAttribute('aria-label', first.section ? `${first.section} · ${rowLabel}` : rowLabel);
    const label = document.createElement('span');
    label.className = 'row-label';
    label.textContent = rowName;
    label.setAttribute('aria-hidden', 'true');
    row.appendChild(label);
    const ids = [];
    rowSeats.forEach((seat) => {
      const el = document.createElement('button');
      el.type = 'button';
      el.className = 'seat';
      el.tabIndex = -1;
      el.dataset.seatId = seat.seat_id;
      el.dataset.row = seat.row;
      el.dataset.number = seat.seat_number;
      el.style.setProperty('--tier', state.tierColour.get(seat.tier) || '#0f766e');
      el.dataset.tierShape = String(state.tierShape.get(seat.tier) || 0);
      const n = document.createElement('span');
      n.className = 'seat-n';
      n.setAttribute('aria-hidden', 'true');
      n.textContent = seat.seat_number;
      el.appendChild(n);
      const entry = { seat, el };
      state.seats.set(seat.seat_id, entry);
      paintSeat(entry);
      row.appendChild(el);
      ids.push(seat.seat_id);
    });
    const end = label.cloneNode(true);
    row.appendChild(end);
    state.rows.push(ids);
    fragment.appendChild(row);
  });
  els.map.replaceChildren(fragment);
  els.map.removeAttribute('aria-busy');
  const first = seats.find((s) => s.status === 'available') || seats[0];
  if (first) state.seats.get(first.seat_id).el.tabIndex = 0;
  fitSeats();
}

/**
 * Seats as large as the room allows (22–30 px). A big hall takes the full width on a desktop,
 * with the summary under it; what still does not fit scrolls inside the map's own box.
 */
function fitSeats() {
  const widest = Math.max(1, ...state.rows.map((r) => r.length));
  const needed = (px) => widest * (px + 4) + 2 * 26 + 16;
  const desktop = window.matchMedia('(min-width: 961px)').matches;
  els.layout.classList.toggle('wide-map', desktop && needed(26) > els.layout.clientWidth - 360);
  const room = els.scroll.clientWidth;
  const size = Math.max(22, Math.min(30, Math.floor((room - needed(0)) / widest)));
  els.map.style.setProperty('--seat', size + 'px');
  const overflow = els.scroll.scrollWidth - els.scroll.clientWidth;
  if (overflow > 0 && !state.centred) {
    state.centred = true;
    els.scroll.scrollLeft = overflow / 2; // the middle of the hall first
  }
}

function renderSummary() {
  const currency = state.event.currency;
  const chosen = state.selected.map((id) => state.seats.get(id)).filter(Boolean).map((e) => e.seat);
  const total = chosen.reduce((sum, s) => sum + TicketTypes.price(state.event, s), 0);
  const found = chosen.length ? [] : state.found;
  if (found.length) {
    render(
      els.summary,
      html`<p><strong>${t('Best available found these seats, held for you:')}</strong></p>
      <ul class="summary-list" id="found-seats" aria-label="${t('Seats found for you')}">
        ${found.map(
          (r) => html`<li data-seat-id="${r.seat_id}">
            <span><strong>${seatName(r.seat)}</strong> <span class="muted small">${Format.label(r.seat.tier)}</span></span>
            <span>${Format.money(r.price_cents, currency)}</span>
          </li>`,
        )}
      </ul>`,
    );
  } else if (!chosen.length) {
    render(els.summary, html`<p class="muted">${t('No seats picked yet. Choose up to {n} on the map.', { n: MAX_SEATS })}</p>`);
  } else {
    render(
      els.summary,
      html`<ul class="summary-list" aria-label="${t('Picked seats')}">
        ${chosen.map(
          (s) => html`<li>
            <span><strong>${seatName(s)}</strong> <span class="muted small">${Format.label(s.tier)}</span> ${TicketTypes.picker(state.event, s)}</span>
            <span>${Format.money(TicketTypes.price(state.event, s), currency)} <button type="button" class="remove" data-remove="${s.seat_id}" aria-label="${t('Remove {seat}', { seat: seatName(s) })}">${t('Remove')}</button></span>
          </li>`,
        )}
      </ul>`,
    );
  }
  const foundTotal = found.reduce((sum, r) => sum + r.price_cents, 0);
  els.total.textContent = Format.money(found.length ? foundTotal : total, currency);
  els.reserve.hidden = found.length > 0;
  els.reserve.disabled = !chosen.length || state.reserving;
  els.reserve.textContent = chosen.length
    ? chosen.length === 1 ? t('Reserve 1 seat') : t('Reserve {n} seats', { n: chosen.length })
    : t('Reserve seats');
  try {
    if (chosen.length) sessionStorage.setItem(pickKey(), JSON.stringify(state.selected));
    else sessionStorage.removeItem(pickKey());
  } catch (_) {
    /* private mode: the pick just isn't remembered */
  }
}

// ---- picking ---------------------------------------------------------------------------

function toggle(seatId) {
  const entry = state.seats.get(seatId);
  if (!entry) return;
  const { seat } = entry;
  const index = state.selected.indexOf(seatId);
  if (index >= 0) {
    state.selected.splice(index, 1);
    announce(t('{seat} removed. {n} selected.', { seat: seatName(seat), n: state.selected.length }));
  } else if (seat.status !== 'available') {
    announce(t('{seat} is {status} and cannot be picked.', { seat: seatName(seat), status: statusWord(seat) }));
    return;
  } else if (state.selected.length >= MAX_SEATS) {
    UI.showStatus(t('You can pick up to {n} seats in one booking.', { n: MAX_SEATS }), 'warning');
    announce(t('Limit reached: {n} seats.', { n: MAX_SEATS }));
    return;
  } else {
    state.selected.push(seatId);
    announce(t('{seat} selected, {price}. {n} selected.', { seat: seatName(seat), price: Format.money(seat.price_cents, state.event.currency), n: state.selected.length }));
  }
  UI.clear(byId('page-status'));
  paintSeat(entry);
  renderSummary();
}

function position(seatId) {
  for (let r = 0; r < state.rows.length; r += 1) {
    const c = state.rows[r].indexOf(seatId);
    if (c >= 0) return [r, c];
  }
  return [0, 0];
}

function focusSeat(seatId) {
  const entry = state.seats.get(seatId);
  if (!entry) return;
  els.map.querySelectorAll('.seat[tabindex="0"]').forEach((el) => {
    el.tabIndex = -1;
  });
  entry.el.tabIndex = 0;
  entry.el.focus();
}

function onKey(e) {
  const target = e.target.closest('.seat');
  if (!target) return;
  const [r, c] = position(target.dataset.seatId);
  let next = null;
  const rowAt = (i) => state.rows[Math.max(0, Math.min(state.rows.length - 1, i))];
  switch (e.key) {
    case 'ArrowRight': next = state.rows[r][Math.min(c + 1, state.rows[r].length - 1)]; break;
    case 'ArrowLeft': next = state.rows[r][Math.max(c - 1, 0)]; break;
    case 'ArrowDown': { const row = rowAt(r + 1); next = row[Math.min(c, row.length - 1)]; break; }
    case 'ArrowUp': { const row = rowAt(r - 1); next = row[Math.min(c, row.length - 1)]; break; }
    case 'Home': next = state.rows[r][0]; break;
    case 'End': next = state.rows[r][state.rows[r].length - 1]; break;
    default: return;
  }
  e.preventDefault();
  if (next) focusSeat(next);
}

els.map.addEventListener('click', (e) => {
  const target = e.target.closest('.seat');
  if (!target) return;
  focusSeat(target.dataset.seatId);
  toggle(target.dataset.seatId);
});
els.map.addEventListener('keydown', onKey);
TicketTypes.listen(els.summary, renderSummary);
els.summary.addEventListener('click', (e) => {
  const button = e.target.closest('[data-remove]');
  if (button) toggle(button.dataset.remove);
});
window.addEventListener('resize', () => state.rows.length && fitSeats());

// ---- live updates ----------------------------------------------------------------------

/** Applies a fresh seat map; returns the picked seats that someone else took meanwhile. */
function apply(seats) {
  if (!state.seats.size) {
    renderMap(seats);
    return [];
  }
  const lost = [];
  seats.forEach((seat) => {
    const entry = state.seats.get(seat.seat_id);
    if (!entry) return;
    const before = entry.seat.status;
    entry.seat = seat;
    if (seat.status !== 'available' && state.selected.includes(seat.seat_id)) {
      state.selected.splice(state.selected.indexOf(seat.seat_id), 1);
      lost.push(seat);
    }
    if (before !== seat.status) {
      entry.el.classList.remove('seat-changed');
      if (seat.status !== 'available') {
        void entry.el.offsetWidth; // restart the pulse
        entry.el.classList.add('seat-changed');
      }
    }
    paintSeat(entry);
  });
  if (lost.length) {
    renderSummary();
    const names = lost.map(seatName).join(', ');
    UI.showStatus(lost.length === 1 ? t('{seats} was just taken by another buyer and removed from your pick.', { seats: names }) : t('{seats} were just taken by another buyer and removed from your pick.', { seats: names }), 'warning');
  }
  return lost;
}

function markLive(ok) {
  els.live.classList.toggle('stale', !ok);
  els.live.textContent = ok ? t('Live · updated {time}', { time: Format.time(new Date()) + ':' + String(new Date().getSeconds()).padStart(2, '0') }) : t('Reconnecting…');
}

/**
 * Reads the seat map and applies it. When reads overlap (a poll in flight while a reserve
 * refreshes at once) only the newest is applied, so an older map never paints over a newer one;
 * the older read is left to finish rather than aborted and its answer is dropped (null).
 */
async function refreshSeats(force) {
  const ticket = seatReads.next();
  let answer;
  try {
    answer = await api.events.getSeats(eventId, { etag: force ? null : state.etag });
  } catch (error) {
    if (ticket.stale) return null;
    throw error;
  }
  if (ticket.stale) return null;
  if (answer.etag) state.etag = answer.etag;
  if (!answer.notModified && Array.isArray(answer.seats)) {
    apply(answer.seats);
    state.order = answer.seats.map((seat) => seat.seat_id);
    state.states = null;
  }
  return answer;
}

/**
 * Reads the seats' live states alone (`/seat-states`: a few bytes where the map is a few hundred
 * KB) and applies them in the map's order. A simple request with no header of its own, so no CORS
 * preflight: the browser's cache revalidates it with the ETag (a 304 while nothing moved). A
 * states string that does not fit the map (the venue changed) reads the whole map again.
 */
async function refreshStates() {
  if (!state.order.length) return refreshSeats(false);
  const ticket = seatReads.next();
  let answer;
  try {
    answer = await api.events.getSeatStates(eventId);
  } catch (error) {
    if (ticket.stale) return null;
    throw error;
  }
  if (ticket.stale || !answer) return null;
  if (answer.states === state.states) return answer;
  const statuses = Data.seatStates(answer.states);
  if (!statuses || statuses.length !== state.order.length) return refreshSeats(true);
  apply(state.order.map((id, i) => Object.assign({}, state.seats.get(id).seat, { status: statuses[i] })));
  state.states = answer.states;
  return answer;
}

async function poll() {
  clearTimeout(state.pollTimer);
  try {
    await refreshStates();
    state.failures = 0;
    markLive(true);
  } catch (error) {
    state.failures += 1;
    markLive(false);
    if (state.failures === 3) {
      const d = UI.describe(error);
      UI.showError(t('Seat map not updating'), d.text + ' ' + t('We keep trying.'));
    }
  }
  if (state.failures === 0) {
    const alert = byId('page-alert');
    if (alert.textContent.indexOf(t('Seat map not updating')) >= 0) UI.clear(alert);
  }
  state.pollTimer = setTimeout(poll, POLL_MS);
}

// ---- my current hold -------------------------------------------------------------------

async function loadMyHold() {
  const user = Auth.getUser();
  if (!user) return;
  let held;
  try {
    held = await api.reservations.getUserReservations(user.id, { status: 'held', limit: 200 });
  } catch (error) {
    if (error.status === 401) return; // token gone: the page still works without an account
    UI.handleError(error);
    return;
  }
  const mine = held.filter((r) => r.event_id === eventId && r.status === 'held' && new Date(r.expires_at) > new Date());
  if (!mine.length) {
    state.mine.clear();
    els.hold.replaceChildren();
    return;
  }
  const bookingId = mine[0].booking_id;
  const seats = mine.filter((r) => r.booking_id === bookingId);
  state.mine = new Set(seats.map((r) => r.seat_id));
  state.seats.forEach(paintSeat);
  showHold(bookingId, seats);
}

function showHold(bookingId, reservations) {
  if (state.holdTimer) state.holdTimer.stop();
  const names = Data.seatList(reservations);
  render(
    els.hold,
    html`<div class="hold-timer" id="hold-box">${UI.icon('clock')}
      <div class="hold-timer-body"><p><strong>${t('You are holding {seats}.', { seats: names })}</strong></p>
        <p role="timer" aria-live="off">${t('Time left to pay:')} <time id="hold-clock"></time></p></div>
      <div class="btn-row"><a class="btn btn-primary btn-sm" href="payment.html?booking=${encodeURIComponent(bookingId)}">${t('Continue to payment')}</a>
        <button class="btn btn-ghost btn-sm" type="button" id="release-hold">${t('Release')}</button></div>
    </div>`,
  );
  state.holdTimer = UI.countdown(byId('hold-clock'), reservations[0].expires_at, {
    onExpire: () => {
      render(
        els.hold,
        html`<div class="notice notice-warning" role="status">${UI.icon('clock')}
          <div><strong>${t('Your hold on {seats} has expired.', { seats: names })}</strong> ${t('The seats were released. Pick again below.')}</div></div>`,
      );
      state.mine.clear();
      state.found = [];
      renderSummary();
      refreshSeats(true).catch(() => {});
    },
  });
  byId('release-hold').addEventListener('click', async (e) => {
    try {
      await UI.busy(e.currentTarget, t('Releasing…'), () => api.reservations.cancelBooking(bookingId));
      if (state.holdTimer) state.holdTimer.stop();
      state.mine.clear();
      state.found = [];
      renderSummary();
      els.hold.replaceChildren();
      UI.showStatus(t('Seats {seats} released.', { seats: names }), 'success');
      await refreshSeats(true);
    } catch (error) {
      UI.handleError(error);
    }
  });
}

// ---- reserving -------------------------------------------------------------------------

async function reserve() {
  if (!state.selected.length || state.reserving) return;
  UI.clear(els.reserveAlert);
  if (!Auth.isLoggedIn()) {
    renderSummary(); // remembers the pick for after login
    Auth.redirectToLogin();
    return;
  }
  state.reserving = true;
  const picked = state.selected.slice();
  try {
    const booking = await UI.busy(els.reserve, t('Holding your seats…'), () =>
      api.reservations.makeReservation(
        {
          event_id: eventId,
          seat_ids: picked,
          ticket_types: TicketTypes.body(state.event, picked),
          access_code: state.accessCode || undefined,
        },
        undefined,
        undefined,
        state.admission,
      ));
    try {
      sessionStorage.removeItem(pickKey());
    } catch (_) {
      /* nothing remembered */
    }
    clearTimeout(state.pollTimer);
    state.pollTimer = null;
    const code = state.accessCode ? '&code=' + encodeURIComponent(state.accessCode) : '';
    location.assign('payment.html?booking=' + encodeURIComponent(booking.id) + code);
    return;
  } catch (error) {
    if (error.code === 'seat_unavailable' || error.status === 409) {
      try {
        await refreshSeats(true);
      } catch (_) {
        /* the poll will catch up */
      }
    }
    if (error.status === 401) renderSummary();
    UI.clear(byId('page-status')); // the alert below says it all
    UI.handleError(error, els.reserveAlert);
  } finally {
    state.reserving = false;
    renderSummary();
  }
}

els.reserve.addEventListener('click', reserve);

// "Have an access code?": checked by reading the event with it, then the page is loaded again
// with it, so the ticket types it unlocks are offered and the hold carries it.
els.accessForm.addEventListener('submit', async (e) => {
  e.preventDefault();
  const code = els.accessCode.value.trim();
  if (!code) return;
  els.accessNote.textContent = '';
  try {
    await UI.busy(els.accessApply, t('Unlocking…'), () => api.events.getEventById(eventId, code));
  } catch (error) {
    els.accessNote.textContent = error.detail || t('This access code cannot be used.');
    return;
  }
  const url = new URL(location.href);
  url.searchParams.set('access_code', code);
  location.assign(url.toString());
});

// Best available beside the map (booking/best-available.js): the seats it finds show as this
// buyer's hold, as a hold of picked seats does.
const best = mountBestAvailable({ els, state, eventId, refreshSeats, paintSeat, showHold, announce, renderSummary });

// ---- the waiting room ------------------------------------------------------------------

/**
 * An event behind its waiting room: the buyer needs its admission (else back to the line), and
 * sees how long the session lasts; when it ends, holds are refused, so the map says so.
 */
function admitted() {
  const admission = WaitingRoom.admission(eventId);
  if (!admission) {
    location.replace(WaitingRoom.url(eventId));
    return false;
  }
  state.admission = admission.token;
  const box = byId('queue-session');
  box.hidden = false;
  UI.countdown(byId('queue-clock'), admission.endsAt, {
    onExpire() {
      WaitingRoom.endSession(eventId);
      state.admission = null;
      UI.showError(t('Your session has ended'), t('Your time to pick seats in this sale is over.'), els.reserveAlert);
    },
  });
  return true;
}

// ---- start -----------------------------------------------------------------------------

function restorePick() {
  let ids = [];
  try {
    ids = JSON.parse(sessionStorage.getItem(pickKey()) || '[]');
  } catch (_) {
    ids = [];
  }
  state.selected = ids.filter((id) => {
    const entry = state.seats.get(id);
    return entry && entry.seat.status === 'available';
  }).slice(0, MAX_SEATS);
  state.selected.forEach((id) => paintSeat(state.seats.get(id)));
  if (state.selected.length) UI.showStatus(t('Your picked seats are still here. Reserve them when you are ready.'), 'info');
}

/**
 * The venue's layout, when it is drawn in named sections (an arena): the zoomable map shows it.
 * A venue of plain rows keeps the flat grid of rows; without the layout the grid is drawn too.
 */
async function loadLayout() {
  const venueId = state.event.venue_id || (state.event.venue && state.event.venue.id);
  if (!venueId) return;
  try {
    const layout = await api.events.getVenueLayout(venueId);
    if (layout && Array.isArray(layout.sections) && layout.sections.some((s) => s.name)) {
      arenaMap = await import('./seatmap-view.js');
      state.layout = layout;
    }
  } catch (_) {
    state.layout = null; // the rows still show
  }
}

/** The event, with the ticket types the page's access code unlocks; a code that unlocks nothing
 * here is said so beside its field, and the event shown as anyone sees it. */
async function loadEvent() {
  if (!accessCode) return api.events.getEventById(eventId);
  els.accessCode.value = accessCode;
  try {
    const event = await api.events.getEventById(eventId, accessCode);
    state.accessCode = accessCode;
    els.accessNote.textContent = t('Access code {code} applied.', { code: accessCode });
    return event;
  } catch (error) {
    if (error.code !== 'invalid_code') throw error;
    els.accessNote.textContent = error.detail || t('This access code cannot be used.');
    return api.events.getEventById(eventId);
  }
}

async function start() {
  if (!eventId) {
    els.layout.hidden = true;
    UI.showError(t('No event chosen'), t('Open the seat map from an event page.'));
    els.title.textContent = t('Choose your seats');
    return;
  }
  try {
    state.event = await loadEvent();
  } catch (error) {
    els.layout.hidden = true;
    if (UI.isMissingEvent(error)) {
      UI.setTitle(t('Event not found'));
      els.title.textContent = t('Choose your seats');
      const missing = document.createElement('div');
      els.layout.before(missing);
      render(missing, UI.eventNotFound());
    } else {
      UI.handleError(error);
    }
    return;
  }
  renderHead();
  const started = new Date(state.event.start_time).getTime() <= Date.now();
  if (state.event.status === 'canceled' || started) {
    els.layout.hidden = true;
    UI.showError(state.event.status === 'canceled' ? t('Event canceled') : t('Event started'),
      state.event.status === 'canceled' ? t('This event was canceled; its seats cannot be booked.') : t('This event has already started; its seats cannot be booked any more.'));
    return;
  }
  if (WaitingRoom.isOn(state.event) && !admitted()) return;
  await loadLayout();
  renderLegend();
  best.renderTiers();
  try {
    await refreshSeats(true);
    markLive(true);
  } catch (error) {
    UI.handleError(error);
  }
  restorePick();
  renderSummary();
  await loadMyHold();
  state.pollTimer = setTimeout(poll, POLL_MS);
}

start();
