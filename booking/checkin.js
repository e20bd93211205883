// checkin.html: the door, for staff and admin accounts, on a phone. Pick the event and a gate,
// then scan tickets with the camera (door-camera.js) or type their code; each answer fills the
// screen, green (admitted: seat and holder) or red (already checked in: when and where; revoked;
// not a ticket; another event), is announced in a live region, and goes away on a tap, a key or
// after a few seconds. The counts come from GET /checkin/events/{id}/summary.
//
// With no network the door goes on: on opening an event it keeps the event's manifest in
// IndexedDB (door-store.js); offline it verifies a code's Ed25519 signature in the browser
// (ticket-code.js), checks it against the manifest and this gate's own admissions, answers, and
// queues the scan (its own scan_id and time) for POST /checkin/sync once the network is back,
// then lists the scans the server refused (someone else was admitted first, or it was revoked).
import { api } from './api.js';
import { Auth } from './auth.js';
import { Format } from './data.js';
import { startCamera, cameraAvailable } from './door-camera.js';
import { DoorStore } from './door-store.js';
import { byId, html, render } from './dom.js';
import { canVerify, parseCode, verifierFor } from './ticket-code.js';
import * as UI from './ui.js';

/** This browser's last event and gate, so a reload opens the same door. */
const DOOR_KEY = 'proeventa.door';
const ANSWER_MS = { green: 3000, red: 6000 };
/** A code held to the camera again right after its answer is not scanned again for this long. */
const SAME_CODE_PAUSE_MS = 2500;
/**
 * A code answered twice in a row (admitted, then "already checked in") is not read a third time
 * until it has been out of the camera's sight this long: a ticket left in view is not re-checked.
 */
const SAME_CODE_GONE_MS = 1500;
const REFRESH_EVERY_MS = 20_000;
/** A scan waits this long for the API before the door decides on its own. */
const SCAN_TIMEOUT_MS = 5000;
const SYNC_BATCH = 500;

const el = {
  setup: byId('door-setup'),
  setupForm: byId('door-setup-form'),
  eventSelect: byId('door-event'),
  gateInput: byId('door-gate'),
  door: byId('door'),
  eventName: byId('door-event-name'),
  eventTime: byId('door-event-time'),
  gateName: byId('door-gate-name'),
  change: byId('door-change'),
  network: byId('door-network'),
  admitted: byId('count-admitted'),
  toCome: byId('count-to-come'),
  sold: byId('count-sold'),
  gates: byId('door-gates'),
  waiting: byId('door-waiting'),
  video: byId('door-video'),
  cameraToggle: byId('camera-toggle'),
  cameraNote: byId('camera-note'),
  codeForm: byId('code-form'),
  codeInput: byId('door-code'),
  conflicts: byId('door-conflicts'),
  conflictList: byId('door-conflict-list'),
  answer: byId('door-answer'),
  answerTitle: byId('door-answer-title'),
  answerSeat: byId('door-answer-seat'),
  answerHolder: byId('door-answer-holder'),
  answerDetail: byId('door-answer-detail'),
  announce: byId('door-announce'),
};

const state = {
  events: [],
  event: null,
  gate: 'main',
  /** The manifest as read: { version, tickets: Map id → {seat_label, holder_name, status, admitted_at, gate}, revoked: Set } */
  list: null,
  verify: null,
  summary: null,
  waiting: 0,
  online: navigator.onLine,
  syncing: false,
  conflicts: [],
  camera: null,
  /** The answer on screen: { code, timer, returnFocus } */
  shown: null,
  checking: false,
  lastCode: null,
  lastCodeUntil: 0,
  /** When the camera last read lastCode, and how many answers in a row were for it. */
  lastCodeSeen: 0,
  lastCodeAnswers: 0,
  refreshTimer: null,
};

// ---- the manifest ------------------------------------------------------------------------

/** The first of `names` that `item` has. */
function field(item, ...names) {
  for (const name of names) if (item && item[name] !== undefined && item[name] !== null) return item[name];
  return undefined;
}

/** The manifest as this page reads it (long field names, or the documented short ones). */
function readManifest(manifest) {
  const tickets = new Map();
  (field(manifest, 'tickets', 't') || []).forEach((t) => {
    tickets.set(field(t, 'id', 'i'), {
      seat_label: field(t, 'seat_label', 's') || '',
      holder_name: field(t, 'holder_name', 'h') || '',
      status: field(t, 'status', 'st') === 'used' || field(t, 'status', 'st') === 'u' ? 'used' : 'valid',
      admitted_at: field(t, 'admitted_at', 'a') || null,
      gate: field(t, 'gate', 'g') || null,
    });
  });
  const key = field(manifest, 'public_key', 'k') || {};
  return {
    version: field(manifest, 'version', 'v'),
    tickets,
    revoked: new Set(field(manifest, 'revoked', 'r') || []),
    publicKey: typeof key === 'string' ? key : field(key, 'public_key', 'k'),
  };
}

async function useManifest(manifest) {
  state.list = readManifest(manifest);
  try {
    state.verify = state.list.publicKey ? await verifierFor(state.list.publicKey) : null;
  } catch (_) {
    state.verify = null;
  }
}

/** Fetches the event's manifest and keeps it; offline, the kept one is used. */
async function loadManifest() {
  const eventId = state.event.id;
  try {
    const manifest = await api.checkin.manifest(eventId);
    if (!state.event || state.event.id !== eventId) return;
    await DoorStore.saveManifest({ ...manifest, event_id: eventId });
    await useManifest(manifest);
    setOnline(true);
  } catch (error) {
    if (!isNetworkFailure(error)) throw error;
    setOnline(false);
    const kept = await DoorStore.manifest(eventId);
    if (kept && (!state.list || state.list.version !== field(kept, 'version', 'v'))) await useManifest(kept);
  }
}

// ---- network, counts, waiting scans ------------------------------------------------------

function isNetworkFailure(error) {
  return Boolean(error && (error.status === 0 || error.status >= 500));
}

function setOnline(online) {
  const was = state.online;
  state.online = online && navigator.onLine;
  renderNetwork();
  if (!was && state.online) sync();
}

function renderNetwork() {
  el.network.dataset.online = String(state.online);
  const people = state.list ? state.list.tickets.size : 0;
  el.network.textContent = state.online
    ? 'Online' + (state.list ? ' · door list of ' + people + ' ticket' + (people === 1 ? '' : 's') + ' kept for offline use' : '')
    : 'Offline · checking tickets on this phone' + (state.list ? '' : ', but no door list is kept: codes cannot be checked');
}

function renderCounts() {
  const s = state.summary;
  el.admitted.textContent = s ? String(s.admitted) : '–';
  el.toCome.textContent = s ? String(s.to_come) : '–';
  el.sold.textContent = s ? String(s.sold) : '–';
  const gates = (s && s.gates) || [];
  el.gates.textContent = gates.length ? 'By gate: ' + gates.map((g) => g.gate + ' ' + g.admitted).join(' · ') : '';
}

function renderWaiting() {
  const n = state.waiting;
  el.waiting.dataset.waiting = String(n);
  el.waiting.classList.toggle('door-waiting-some', n > 0);
  el.waiting.textContent = n
    ? n + ' scan' + (n === 1 ? '' : 's') + ' waiting to sync' + (state.syncing ? ' · syncing…' : '')
    : 'All scans synced';
}

function renderConflicts() {
  el.conflicts.hidden = !state.conflicts.length;
  render(
    el.conflictList,
    state.conflicts.map(
      (c) => html`<li class="door-conflict" data-status="${c.status}"><strong>${c.seat_label || 'Ticket'}</strong>
        ${c.holder_name ? html` · ${c.holder_name}` : ''} <span class="muted">(scanned ${Format.time(c.scanned_at)})</span>: ${conflictText(c)}</li>`,
    ),
  );
}

function conflictText(c) {
  switch (c.status) {
    case 'already_checked_in':
      return 'already checked in' + whenAndWhere(c.checked_in_at, c.gate) + '.';
    case 'ticket_revoked':
      return 'the ticket had been revoked.';
    case 'wrong_event':
      return 'the ticket is for another event.';
    case 'invalid_ticket':
      return 'not a valid ticket.';
    case 'not_found':
      return 'no such ticket.';
    default:
      return String(c.status).replace(/_/g, ' ') + '.';
  }
}

function whenAndWhere(at, gate) {
  const when = at ? ' at ' + Format.time(at) + (sameDay(at) ? '' : ' on ' + Format.shortDate(at)) : '';
  return when + (gate ? ' (gate ' + gate + ')' : '');
}

function sameDay(at) {
  const d = new Date(at);
  const now = new Date();
  return d.toDateString() === now.toDateString();
}

async function refreshWaiting() {
  if (!state.event) return;
  state.waiting = (await DoorStore.waiting(state.event.id)).length;
  renderWaiting();
}

async function refreshSummary() {
  if (!state.event) return;
  const eventId = state.event.id;
  try {
    const summary = await api.checkin.summary(eventId);
    if (!state.event || state.event.id !== eventId) return;
    state.summary = summary;
    renderCounts();
    setOnline(true);
  } catch (error) {
    if (isNetworkFailure(error)) setOnline(false);
    else UI.handleError(error);
  }
}

/** Sends the scans made offline, in batches, and lists those the server refused. */
async function sync() {
  if (state.syncing || !state.event || !navigator.onLine) return;
  // Taken before the first await: the `online` event and a count refresh may both ask at once,
  // and one batch sent twice would list its conflicts twice.
  state.syncing = true;
  const eventId = state.event.id;
  let scans;
  try {
    scans = await DoorStore.waiting(eventId);
  } catch (error) {
    state.syncing = false;
    throw error;
  }
  if (!scans.length) {
    state.syncing = false;
    return;
  }
  renderWaiting();
  try {
    while (scans.length) {
      const batch = scans.slice(0, SYNC_BATCH);
      const answer = await api.checkin.sync({
        event_id: eventId,
        gate: state.gate,
        scans: batch.map((s) => ({ scan_id: s.scan_id, code: s.code, scanned_at: s.scanned_at, gate: s.gate })),
      });
      const queued = new Map(batch.map((s) => [s.scan_id, s]));
      (answer.results || []).forEach((r) => {
        if (r.status === 'admitted' || state.conflicts.some((c) => c.scan_id === r.scan_id)) return;
        const scan = queued.get(r.scan_id) || {};
        state.conflicts.unshift({
          scan_id: r.scan_id,
          status: r.status,
          seat_label: r.seat_label || scan.seat_label,
          holder_name: r.holder_name || scan.holder_name,
          scanned_at: scan.scanned_at,
          checked_in_at: r.checked_in_at,
          gate: r.gate,
        });
      });
      await DoorStore.forget((answer.results || []).map((r) => r.scan_id));
      scans = scans.slice(SYNC_BATCH);
    }
    state.online = true;
  } catch (error) {
    if (isNetworkFailure(error)) state.online = false;
    else UI.handleError(error);
  } finally {
    state.syncing = false;
    await refreshWaiting();
    renderConflicts();
    renderNetwork();
  }
  if (state.online) {
    await refreshSummary();
    loadManifest().catch(() => {});
  }
}

// ---- deciding ----------------------------------------------------------------------------

/** An answer: { color: 'green'|'red', status, title, seat, holder, detail, offline } */
function green(seat, holder, offline) {
  return { color: 'green', status: 'admitted', title: 'Admitted', seat, holder, detail: offline ? 'Checked on this phone; it syncs when the network is back.' : '' };
}

function red(status, detail, seat, holder) {
  const titles = {
    already_checked_in: 'Already checked in',
    ticket_revoked: 'Revoked',
    invalid_ticket: 'Not a valid ticket',
    wrong_event: 'Wrong event',
    not_found: 'Not on the list',
    forbidden: 'Not allowed',
    no_list: 'Cannot check',
  };
  return { color: 'red', status, title: titles[status] || 'Refused', seat: seat || '', holder: holder || '', detail };
}

/** Seat and holder of a code, from the manifest (only for display; the server or signature decides). */
function known(code) {
  const parts = parseCode(code);
  const entry = parts && state.list ? state.list.tickets.get(parts.ticketId) : null;
  return {
    ticketId: parts ? parts.ticketId : null,
    seat: (entry && entry.seat_label) || (parts ? parts.seatLabel : ''),
    holder: (entry && entry.holder_name) || '',
  };
}

async function checkOnline(code) {
  const eventId = state.event.id;
  const answer = await api.checkin.scan({ code, event_id: eventId, gate: state.gate }, { signal: AbortSignal.timeout(SCAN_TIMEOUT_MS) });
  setOnline(true);
  await DoorStore.admit({ event_id: eventId, ticket_id: answer.ticket_id, at: new Date().toISOString(), gate: state.gate, scan_id: null });
  refreshSummary();
  return green(answer.seat_label, answer.holder_name, false);
}

function refusal(error, code) {
  const k = known(code);
  const body = error.body || {};
  switch (error.code) {
    case 'already_checked_in':
      return red('already_checked_in', 'Checked in' + whenAndWhere(body.checked_in_at, body.gate) + '.', k.seat, k.holder);
    case 'ticket_revoked':
      return red('ticket_revoked', 'This ticket was canceled and does not admit anyone.', k.seat, k.holder);
    case 'wrong_event':
      return red('wrong_event', 'This ticket is for another event.', k.seat, '');
    case 'invalid_ticket':
      return red('invalid_ticket', 'This code is not a ProEventa ticket, or it was altered.');
    case 'not_found':
      return red('not_found', 'No ticket has this code.');
    case 'forbidden':
      return red('forbidden', 'This account may not check tickets. Ask an admin for the staff role.');
    default:
      return red(error.code, UI.describe(error).text);
  }
}

/** The door's own decision, from the kept manifest and this gate's admissions; queues the scan. */
async function checkOffline(code) {
  const eventId = state.event.id;
  if (!state.list || !state.verify) {
    return red('no_list', 'No network, and no door list on this phone for this event: open the event once while online.');
  }
  const claims = await state.verify(code);
  if (!claims) return red('invalid_ticket', 'This code is not a ProEventa ticket, or it was altered.');
  if (claims.eventId !== eventId) return red('wrong_event', 'This ticket is for another event.', claims.seatLabel, '');
  const entry = state.list.tickets.get(claims.ticketId);
  const seat = (entry && entry.seat_label) || claims.seatLabel;
  const holder = (entry && entry.holder_name) || '';
  if (state.list.revoked.has(claims.ticketId)) {
    return red('ticket_revoked', 'This ticket was canceled and does not admit anyone.', seat, holder);
  }
  const here = await DoorStore.admission(eventId, claims.ticketId);
  if (here) return red('already_checked_in', 'Checked in' + whenAndWhere(here.at, here.gate) + '.', seat, holder);
  if (entry && entry.status === 'used') {
    return red('already_checked_in', 'Checked in' + whenAndWhere(entry.admitted_at, entry.gate) + '.', seat, holder);
  }
  if (!entry) return red('not_found', 'This ticket is not on the door list kept on this phone.', seat, '');
  const scan = {
    scan_id: crypto.randomUUID(),
    event_id: eventId,
    code,
    scanned_at: new Date().toISOString(),
    gate: state.gate,
    ticket_id: claims.ticketId,
    seat_label: seat,
    holder_name: holder,
  };
  await DoorStore.enqueue(scan);
  await DoorStore.admit({ event_id: eventId, ticket_id: claims.ticketId, at: scan.scanned_at, gate: state.gate, scan_id: scan.scan_id });
  await refreshWaiting();
  return green(seat, holder, true);
}

async function decide(code) {
  if (state.online && navigator.onLine) {
    try {
      return await checkOnline(code);
    } catch (error) {
      if (error && error.status === 401) {
        UI.handleError(error);
        return null;
      }
      if (!isNetworkFailure(error)) {
        refreshSummary(); // a refusal may mean the counts moved (a revocation, another gate)
        return refusal(error, code);
      }
      setOnline(false);
    }
  }
  return checkOffline(code);
}

/** One code, from the camera or the form: decided, then shown. */
async function check(code, source) {
  const text = String(code || '').trim();
  if (!text || !state.event || state.checking || state.shown) return;
  state.checking = true;
  try {
    const answer = await decide(text);
    if (answer) show(answer, text, source);
  } catch (error) {
    UI.handleError(error);
  } finally {
    state.checking = false;
  }
}

// ---- the answer on screen ----------------------------------------------------------------

function show(answer, code, source) {
  state.lastCodeAnswers = code === state.lastCode ? state.lastCodeAnswers + 1 : 1;
  el.answer.className = 'door-answer door-answer-' + answer.color;
  el.answer.dataset.status = answer.status;
  el.answer.dataset.color = answer.color;
  el.answerTitle.textContent = answer.title;
  el.answerSeat.textContent = answer.seat || '';
  el.answerHolder.textContent = answer.holder || '';
  el.answerDetail.textContent = answer.detail || '';
  el.answer.hidden = false;
  const returnFocus = source === 'camera' ? el.cameraToggle : el.codeInput;
  state.shown = { code, returnFocus, timer: setTimeout(dismiss, ANSWER_MS[answer.color]) };
  el.answer.focus({ preventScroll: true });
  // Emptied first, so the same answer twice in a row is announced twice.
  const words = [answer.title, answer.seat, answer.holder, answer.detail].filter(Boolean).join('. ');
  el.announce.textContent = '';
  setTimeout(() => {
    el.announce.textContent = words;
  }, 50);
}

function dismiss() {
  if (!state.shown) return;
  clearTimeout(state.shown.timer);
  state.lastCode = state.shown.code;
  state.lastCodeUntil = Date.now() + SAME_CODE_PAUSE_MS;
  state.lastCodeSeen = Date.now();
  const focus = state.shown.returnFocus;
  state.shown = null;
  el.answer.hidden = true;
  if (focus === el.codeInput) {
    el.codeInput.value = '';
  }
  focus.focus({ preventScroll: true });
}

el.answer.addEventListener('click', dismiss);
el.answer.addEventListener('keydown', (e) => {
  if (e.key === 'Enter' || e.key === ' ' || e.key === 'Escape') {
    e.preventDefault();
    dismiss();
  }
});

// ---- camera and form ---------------------------------------------------------------------

function onCameraCode(code) {
  const now = Date.now();
  const same = code === state.lastCode;
  const stayedInView = same && now - state.lastCodeSeen < SAME_CODE_GONE_MS;
  if (same) state.lastCodeSeen = now;
  if (state.shown || state.checking) return;
  if (same && (now < state.lastCodeUntil || (state.lastCodeAnswers >= 2 && stayedInView))) return;
  check(code, 'camera');
}

async function toggleCamera() {
  if (state.camera) {
    state.camera.stop();
    state.camera = null;
    el.video.hidden = true;
    el.cameraToggle.textContent = 'Start camera';
    el.cameraNote.textContent = '';
    return;
  }
  el.cameraToggle.disabled = true;
  el.cameraNote.textContent = 'Starting the camera…';
  try {
    el.video.hidden = false;
    state.camera = await startCamera(el.video, onCameraCode);
    el.video.dataset.reader = state.camera.kind;
    el.cameraToggle.textContent = 'Stop camera';
    el.cameraNote.textContent = 'Hold the ticket’s QR code in front of the camera.';
  } catch (error) {
    el.video.hidden = true;
    el.cameraNote.textContent = error.message;
  } finally {
    el.cameraToggle.disabled = false;
  }
}

el.cameraToggle.addEventListener('click', toggleCamera);
el.codeForm.addEventListener('submit', (e) => {
  e.preventDefault();
  check(el.codeInput.value, 'form');
});

// ---- choosing the event and gate ---------------------------------------------------------

function remembered() {
  try {
    return JSON.parse(window.localStorage.getItem(DOOR_KEY)) || {};
  } catch (_) {
    return {};
  }
}

function renderEventOptions(selectedId) {
  render(
    el.eventSelect,
    state.events.map(
      (e) => html`<option value="${e.id}"${e.id === selectedId ? html` selected` : ''}>${e.name} · ${Format.whenShort(e)}</option>`,
    ),
  );
}

/** Events staff may open: not canceled, newest past ones and upcoming ones, soonest first. */
async function loadEvents() {
  const all = (await api.events.getEvents({ include_past: true, limit: 200 })) || [];
  const since = Date.now() - 2 * 24 * 3600 * 1000;
  state.events = all
    .filter((e) => e.status !== 'canceled' && Date.parse(e.start_time) >= since)
    .sort((a, b) => String(a.start_time).localeCompare(String(b.start_time)));
}

async function openDoor(eventId, gate) {
  let event = state.events.find((e) => e.id === eventId);
  if (!event) event = await api.events.getEventById(eventId).catch(() => null);
  if (!event) {
    UI.showError('Event not found', 'Pick the event again.');
    return;
  }
  stopRefresh();
  state.event = event;
  state.gate = gate;
  state.list = null;
  state.verify = null;
  state.summary = null;
  state.conflicts = [];
  try {
    // The event itself too: with the API out of reach, a reload still opens this door.
    const venue = event.venue ? { name: event.venue.name, time_zone: event.venue.time_zone } : null;
    const kept = { id: event.id, name: event.name, start_time: event.start_time, venue };
    window.localStorage.setItem(DOOR_KEY, JSON.stringify({ event_id: event.id, gate, event: kept }));
  } catch (_) {
    // Private mode: the door still works, it just forgets the choice.
  }
  el.eventName.textContent = event.name;
  el.eventTime.textContent = Format.when(event) + (event.venue ? ' · ' + event.venue.name : '');
  el.gateName.textContent = gate;
  el.setup.hidden = true;
  el.door.hidden = false;
  renderCounts();
  renderConflicts();
  await refreshWaiting();
  renderNetwork();
  try {
    await loadManifest();
  } catch (error) {
    UI.handleError(error);
  }
  renderNetwork();
  await refreshSummary();
  sync();
  state.refreshTimer = setInterval(() => {
    if (!navigator.onLine) return;
    refreshSummary().then(() => (state.online ? loadManifest().catch(() => {}) : null));
    sync();
  }, REFRESH_EVERY_MS);
  el.codeInput.focus();
}

function stopRefresh() {
  if (state.refreshTimer) clearInterval(state.refreshTimer);
  state.refreshTimer = null;
}

el.setupForm.addEventListener('submit', (e) => {
  e.preventDefault();
  UI.clear();
  const gate = el.gateInput.value.trim();
  if (!el.eventSelect.value) {
    UI.showError('No event', 'Pick the event this door is for.');
    return;
  }
  if (!gate || gate.length > 40) {
    UI.showError('Gate name', 'Name this gate in 1 to 40 characters, such as “main”.');
    el.gateInput.focus();
    return;
  }
  openDoor(el.eventSelect.value, gate);
});

el.change.addEventListener('click', () => {
  stopRefresh();
  if (state.camera) toggleCamera();
  state.event = null;
  el.door.hidden = true;
  el.setup.hidden = false;
  el.eventSelect.focus();
});

window.addEventListener('online', () => {
  state.online = true;
  renderNetwork();
  sync().then(() => refreshSummary());
});
window.addEventListener('offline', () => {
  state.online = false;
  renderNetwork();
});

async function start() {
  if (!Auth.requireLogin()) return;
  // Keeps this page's files, so it opens again with no network (door-sw.js).
  if ('serviceWorker' in navigator) navigator.serviceWorker.register('door-sw.js').catch(() => {});
  let user;
  let reachable = true;
  try {
    user = await Auth.refreshUser();
  } catch (error) {
    // The API out of reach (the site is up): the door goes on with the account kept at login.
    if (!isNetworkFailure(error) || !Auth.getUser()) {
      UI.handleError(error);
      return;
    }
    reachable = false;
    user = Auth.getUser();
  }
  if (user.role !== 'staff' && user.role !== 'admin') {
    el.setup.removeAttribute('aria-busy');
    byId('door-intro').textContent = 'This page is for door staff.';
    UI.showError('Not allowed', 'Only staff and admin accounts can check tickets. Ask an admin to give your account the staff role.');
    return;
  }
  if (!(await canVerify())) {
    UI.showStatus('This browser cannot check ticket signatures itself, so the door needs the network for every scan.', 'info');
  }
  if (!cameraAvailable()) el.cameraNote.textContent = 'No camera here: type or paste codes.';
  el.setup.hidden = false;
  const saved = remembered();
  if (!reachable || !navigator.onLine) {
    // No API: open the last door this phone opened, from what it kept (manifest, admissions, queue).
    el.setup.removeAttribute('aria-busy');
    setOnline(false);
    if (saved.event && saved.event.id) {
      state.events = [saved.event];
      renderEventOptions(saved.event.id);
      await openDoor(saved.event.id, saved.gate || 'main');
    } else {
      UI.showError('No network', 'This phone has no door list kept yet: open the event once while online.');
    }
    return;
  }
  try {
    await loadEvents();
    const wanted = UI.param('event') || saved.event_id;
    renderEventOptions(wanted);
    if (saved.gate) el.gateInput.value = saved.gate;
    if (UI.param('gate')) el.gateInput.value = UI.param('gate');
    if (!state.events.length) UI.showStatus('No events to open: none is coming up.', 'info');
    if (UI.param('event') && state.events.some((e) => e.id === UI.param('event'))) {
      el.setup.removeAttribute('aria-busy');
      await openDoor(UI.param('event'), el.gateInput.value.trim() || 'main');
    }
  } catch (error) {
    UI.handleError(error);
  } finally {
    el.setup.removeAttribute('aria-busy');
  }
}

start();
