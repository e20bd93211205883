// queue.html?event=<id>: the waiting room of a busy sale. Joins the event's queue once (the queue
// ticket is kept in this browser, so a reload keeps the place), then polls where the buyer stands
// politely: with the last ETag (a 304 most of the time), every 2 s near the front and less often
// further back. When the answer carries the admission, it is kept with its session's end and the
// buyer goes to the seat map, where holds and the payment carry it.
import { api } from './api.js';
import { Auth } from './auth.js';
import { Format } from './data.js';
import { byId } from './dom.js';
import { t } from './i18n.js';
import * as UI from './ui.js';
import { WaitingRoom } from './waiting-room.js';

const eventId = UI.param('event');
const els = {
  panel: byId('queue-panel'),
  meta: byId('queue-meta'),
  position: byId('queue-position'),
  progress: byId('queue-progress'),
  wait: byId('queue-wait'),
};
const state = { etag: null, status: null, rejoined: false };

/** "about 3 min", "about 1 h 20 min", "less than a minute". */
function aboutWait(seconds) {
  if (seconds < 60) return t('less than a minute');
  const minutes = Math.round(seconds / 60);
  if (minutes < 60) return t('about {minutes} min', { minutes });
  return t('about {hours} h {minutes} min', { hours: Math.floor(minutes / 60), minutes: minutes % 60 });
}

function render(status) {
  els.panel.removeAttribute('aria-busy');
  if (status.position == null) {
    els.position.textContent = t('You are in the waiting room.');
    els.wait.textContent = t('The sale opens in {wait}. Everyone who is here before then gets a place in a random draw: arriving early gives no edge.', {
      wait: aboutWait(status.estimated_wait_seconds || 0),
    });
    els.progress.value = 0;
    return;
  }
  const ahead = status.ahead || 0;
  if (WaitingRoom.startAhead(eventId) == null) WaitingRoom.saveStartAhead(eventId, ahead);
  const start = Math.max(WaitingRoom.startAhead(eventId) || 0, ahead);
  els.progress.value = start ? Math.round((100 * (start - ahead)) / start) : 100;
  els.position.textContent = t('You are number {position} in line.', { position: status.position });
  els.wait.textContent = ahead
    ? t('{ahead} ahead of you; your turn comes in {wait}.', { ahead, wait: aboutWait(status.estimated_wait_seconds || 0) })
    : t('You are next.');
}

/** Seconds to the next poll: often near the front, rarely far back, never more than 10. */
function nextPollSeconds(status) {
  const wait = (status && status.estimated_wait_seconds) || 0;
  return Math.min(10, Math.max(2, Math.round(wait / 20)));
}

async function joined() {
  const ticket = WaitingRoom.ticket(eventId);
  if (ticket) return ticket;
  const place = await api.queue.join(eventId);
  WaitingRoom.saveTicket(eventId, place.queue_token);
  return place.queue_token;
}

async function poll() {
  try {
    const ticket = await joined();
    const answer = await api.queue.status(eventId, ticket, state.etag);
    if (!answer.notModified) {
      state.etag = answer.etag;
      state.status = answer.data;
      render(state.status);
    }
    const status = state.status;
    if (status && status.admission_token) {
      WaitingRoom.saveAdmission(eventId, status.admission_token, status.session_ends_at);
      UI.showStatus(t('It is your turn: taking you to the seat map…'), 'success');
      location.assign('booking.html?event=' + encodeURIComponent(eventId));
      return;
    }
    if (status && status.position != null && status.ahead === 0 && status.session_ends_at) {
      // Let through before, and the session is over: there is no second turn.
      els.position.textContent = t('Your turn in this sale has ended.');
      els.wait.textContent = '';
      return;
    }
  } catch (error) {
    if (error.code === 'queue_required' && !state.rejoined) {
      // The ticket expired or is not this event's: joining again answers the account's place.
      state.rejoined = true;
      WaitingRoom.saveTicket(eventId, null);
      state.etag = null;
    } else if (error.status === 409) {
      // No waiting room (any more): the seats are held directly.
      location.replace('booking.html?event=' + encodeURIComponent(eventId));
      return;
    } else {
      UI.handleError(error);
    }
  }
  setTimeout(poll, nextPollSeconds(state.status) * 1000);
}

async function start() {
  if (!Auth.requireLogin()) return;
  if (!eventId) {
    els.panel.hidden = true;
    UI.showError(t('No event chosen'), t('Open the seat map from an event page.'));
    return;
  }
  try {
    const event = await api.events.getEventById(eventId);
    UI.setTitle(t('Waiting room') + ' · ' + event.name);
    byId('queue-title').textContent = event.name;
    els.meta.textContent = Format.when(event);
    if (!WaitingRoom.isOn(event)) {
      location.replace('booking.html?event=' + encodeURIComponent(eventId));
      return;
    }
    if (WaitingRoom.admission(eventId)) {
      location.replace('booking.html?event=' + encodeURIComponent(eventId));
      return;
    }
  } catch (error) {
    els.panel.hidden = true;
    UI.handleError(error);
    return;
  }
  poll();
}

start();
