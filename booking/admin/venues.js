// Admin, Venues tab: the venues with their seat rows on demand and their time zone (changed in
// place), and the form that creates a venue from lines of rows ("rows A to H, 14 seats,
// standard") in a time zone.
import { api } from '../api.js';
import { Data, Format } from '../data.js';
import { byId, html, render } from '../dom.js';
import * as UI from '../ui.js';
import { fillVenueSelect, loadEvents } from './events.js';
import { problemSentence, state, venueSeats } from './shared.js';

/** Reads the venues, lists them, and offers them in the event form. */
export async function loadVenues() {
  state.venues = await api.events.getVenues();
  renderVenues();
  fillVenueSelect();
}

function rowSummary(seats) {
  const rows = new Map();
  seats.forEach((s) => {
    if (!rows.has(s.row)) rows.set(s.row, { count: 0, tiers: new Set() });
    rows.get(s.row).count += 1;
    rows.get(s.row).tiers.add(s.tier);
  });
  const names = Array.from(rows.keys()).sort((a, b) => a.localeCompare(b, undefined, { numeric: true }));
  // Consecutive rows alike are shown as one line: "A–H · 14 seats · standard".
  const lines = [];
  names.forEach((name) => {
    const r = rows.get(name);
    const key = r.count + '|' + Array.from(r.tiers).join(',');
    const last = lines[lines.length - 1];
    if (last && last.key === key) last.to = name;
    else lines.push({ key, from: name, to: name, count: r.count, tiers: Array.from(r.tiers) });
  });
  return lines.map(
    (l) => html`<li>Rows ${l.from === l.to ? l.from : l.from + '–' + l.to} · ${l.count} seats · ${l.tiers.map(Format.label).join(', ')}</li>`,
  );
}

function renderVenues() {
  const list = byId('admin-venues');
  if (!state.venues.length) {
    render(list, UI.emptyState('No venues', 'Create the first venue with the form.'));
    return;
  }
  render(
    list,
    state.venues.map(
      (v) => html`<div class="list-item" data-venue-id="${v.id}">
        <div class="grow"><h3>${v.name}</h3>
          <p>${Data.venueKind(v.kind).label} · ${v.location || 'no address'} · ${v.seat_count} seats</p>
          <p class="small">Time zone <strong data-venue-zone>${v.time_zone}</strong> <span class="muted">(${Format.zoneLabel(v.time_zone)})</span></p>
          <ul class="small muted venue-rows" data-rows hidden></ul>
          <div class="zone-slot"></div></div>
        <div class="btn-row">
          <button class="btn btn-ghost btn-sm" type="button" data-show-rows aria-expanded="false">Seat rows</button>
          <button class="btn btn-ghost btn-sm" type="button" data-change-zone>Time zone</button>
          <button class="btn btn-ghost btn-sm" type="button" data-edit-layout>Edit layout</button>
        </div>
      </div>`,
    ),
  );
}

/** Adds a line of the row editor, e.g. { from: 'A', to: 'C', seats: 10, tier: 'standard' }. */
export function addRowGroup(values) {
  const v = values || {};
  const groups = byId('row-groups');
  const wrap = document.createElement('div');
  wrap.className = 'row-group';
  const n = groups.children.length + 1;
  render(
    wrap,
    html`<div class="field"><label for="rg-from-${n}">From row</label>
        <input id="rg-from-${n}" data-k="from" maxlength="3" value="${v.from || ''}" required></div>
      <div class="field"><label for="rg-to-${n}">To row</label>
        <input id="rg-to-${n}" data-k="to" maxlength="3" value="${v.to || ''}"></div>
      <div class="field"><label for="rg-seats-${n}">Seats per row</label>
        <input id="rg-seats-${n}" data-k="seats" type="number" min="1" max="200" inputmode="numeric" value="${v.seats || ''}" required></div>
      <div class="field"><label for="rg-tier-${n}">Tier</label>
        <input id="rg-tier-${n}" data-k="tier" maxlength="40" value="${v.tier || 'standard'}"></div>
      <button class="btn btn-ghost btn-sm" type="button" data-remove-group aria-label="Remove rows line ${n}">Remove</button>`,
  );
  groups.appendChild(wrap);
  updateRowSummary();
}

function expandRows(from, to) {
  from = from.trim().toUpperCase();
  to = (to || '').trim().toUpperCase() || from;
  if (/^[A-Z]$/.test(from) && /^[A-Z]$/.test(to)) {
    const out = [];
    const a = from.charCodeAt(0);
    const b = to.charCodeAt(0);
    for (let c = Math.min(a, b); c <= Math.max(a, b); c += 1) out.push(String.fromCharCode(c));
    return out;
  }
  if (/^\d+$/.test(from) && /^\d+$/.test(to)) {
    const out = [];
    for (let i = Math.min(+from, +to); i <= Math.max(+from, +to); i += 1) out.push(String(i));
    return out;
  }
  return from === to ? [from] : null;
}

function readRows() {
  const rows = [];
  const problems = [];
  Array.from(byId('row-groups').children).forEach((group, i) => {
    const get = (k) => group.querySelector('[data-k="' + k + '"]');
    const names = get('from').value.trim() ? expandRows(get('from').value, get('to').value) : null;
    const seats = Number(get('seats').value);
    const tier = get('tier').value.trim().toLowerCase().replace(/\s+/g, '_') || 'standard';
    if (!names) problems.push('line ' + (i + 1) + ': rows must be letters (A to H) or numbers (1 to 12)');
    if (!(seats >= 1)) problems.push('line ' + (i + 1) + ': seats per row must be at least 1');
    if (names && seats >= 1) names.forEach((row) => rows.push({ row, seats, tier }));
  });
  const seen = new Set();
  rows.forEach((r) => {
    if (seen.has(r.row)) problems.push('row ' + r.row + ' appears twice');
    seen.add(r.row);
  });
  return { rows, problems };
}

function updateRowSummary() {
  const { rows } = readRows();
  const seats = rows.reduce((s, r) => s + r.seats, 0);
  byId('rows-summary').textContent = rows.length ? rows.length + ' row' + (rows.length === 1 ? '' : 's') + ', ' + seats + ' seats' : '';
}

async function toggleRows(button) {
  const item = button.closest('[data-venue-id]');
  const rows = item.querySelector('[data-rows]');
  if (!rows.hidden) {
    rows.hidden = true;
    button.setAttribute('aria-expanded', 'false');
    return;
  }
  try {
    const seats = await venueSeats(item.dataset.venueId);
    render(rows, rowSummary(seats));
    rows.hidden = false;
    button.setAttribute('aria-expanded', 'true');
  } catch (error) {
    UI.handleError(error);
  }
}

/** The inline form that changes a venue's time zone: its events are then shown on the new clock. */
function askZone(item, venue) {
  const slot = item.querySelector('.zone-slot');
  const n = venue.id.slice(0, 8);
  render(
    slot,
    html`<form class="confirm-box" data-zone-form novalidate>
      <div class="field"><label for="zone-${n}">Time zone of ${venue.name}</label>
        <input id="zone-${n}" list="time-zones" value="${venue.time_zone}" autocomplete="off" spellcheck="false" required></div>
      <p class="small muted">Every time of its events is then shown on this clock, on the site and on tickets.</p>
      <div data-zone-alert role="alert" hidden></div>
      <div class="btn-row"><button class="btn btn-primary btn-sm" type="submit">Save time zone</button>
        <button class="btn btn-ghost btn-sm" type="button" data-keep>Keep ${venue.time_zone}</button></div>
    </form>`,
  );
  const form = slot.querySelector('[data-zone-form]');
  form.querySelector('[data-keep]').addEventListener('click', () => slot.replaceChildren());
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const alertEl = form.querySelector('[data-zone-alert]');
    UI.clear(alertEl);
    const time_zone = form.querySelector('input').value.trim();
    try {
      const saved = await UI.busy(form.querySelector('button[type="submit"]'), 'Saving…', () =>
        api.events.updateVenue(venue.id, { time_zone }),
      );
      UI.showStatus('“' + saved.name + '” is now on ' + Format.zoneLabel(saved.time_zone) + ' (' + saved.time_zone + ').', 'success');
      await Promise.all([loadVenues(), loadEvents()]);
    } catch (error) {
      UI.handleError(error, alertEl);
    }
  });
  form.querySelector('input').focus();
}

/** Offers the browser's IANA zones as suggestions for the time zone fields. */
function fillZoneSuggestions() {
  const zones = typeof Intl.supportedValuesOf === 'function' ? Intl.supportedValuesOf('timeZone') : [];
  render(
    byId('time-zones'),
    ['UTC'].concat(zones.filter((z) => z.includes('/'))).map((z) => html`<option value="${z}"></option>`),
  );
}

async function createVenue(e) {
  e.preventDefault();
  const form = e.currentTarget;
  const alertEl = byId('venue-form-alert');
  UI.clear(alertEl);
  const name = byId('vn-name').value.trim();
  const { rows, problems } = readRows();
  if (!name) problems.unshift('the venue needs a name');
  if (!rows.length && !problems.length) problems.push('add at least one row of seats');
  if (problems.length) {
    UI.showError('Please check the venue', problemSentence(problems), alertEl);
    return;
  }
  const body = {
    name,
    kind: byId('vn-kind').value,
    location: byId('vn-location').value.trim() || undefined,
    time_zone: byId('vn-zone').value.trim() || undefined,
    rows,
  };
  try {
    const venue = await UI.busy(form.querySelector('button[type="submit"]'), 'Creating…', () => api.events.createVenue(body));
    form.reset();
    byId('row-groups').replaceChildren();
    addRowGroup({ tier: 'standard' });
    UI.showStatus(
      'Venue “' + venue.name + '” created with ' + (venue.seats ? venue.seats.length : venue.seat_count) + ' seats, on ' +
        Format.zoneLabel(venue.time_zone) + '.',
      'success',
    );
    await loadVenues();
  } catch (error) {
    UI.handleError(error, alertEl);
  }
}

export function setupVenues() {
  Data.VENUE_KINDS.forEach((k) => {
    const option = document.createElement('option');
    option.value = k.id;
    option.textContent = k.label;
    byId('vn-kind').appendChild(option);
  });
  byId('admin-venues').addEventListener('click', (e) => {
    const button = e.target.closest('[data-show-rows]');
    if (button) toggleRows(button);
    const zone = e.target.closest('[data-change-zone]');
    if (zone) {
      const item = zone.closest('[data-venue-id]');
      const venue = state.venues.find((v) => v.id === item.dataset.venueId);
      if (venue) askZone(item, venue);
    }
  });
  fillZoneSuggestions();
  byId('add-row-group').addEventListener('click', () => {
    addRowGroup({ tier: 'standard' });
    byId('row-groups').lastElementChild.querySelector('input').focus();
  });
  byId('row-groups').addEventListener('input', updateRowSummary);
  byId('row-groups').addEventListener('click', (e) => {
    const remove = e.target.closest('[data-remove-group]');
    if (!remove) return;
    remove.closest('.row-group').remove();
    if (!byId('row-groups').children.length) addRowGroup({ tier: 'standard' });
    updateRowSummary();
  });
  byId('venue-form').addEventListener('submit', createVenue);
  addRowGroup({ from: 'A', to: 'C', seats: 10, tier: 'standard' });
}
