// What the admin tabs share: the signed-in admin, the venue and event lists, users by id (for
// names in the reservation list), each venue's seats (fetched once), the page size, and the
// status badge.
import { api } from '../api.js';
import { html, render } from '../dom.js';
import * as UI from '../ui.js';

/** Users and reservations are listed this many at a time. */
export const PAGE = 50;

export const state = {
  me: null,
  venues: [],
  events: [],
  users: new Map(), // id → User
};

const seatsByVenue = new Map(); // venue id → [Seat]

/** The seats of a venue, asked for once per page load. */
export async function venueSeats(id) {
  if (!seatsByVenue.has(id)) {
    const venue = await api.events.getVenueById(id);
    seatsByVenue.set(id, venue.seats || []);
  }
  return seatsByVenue.get(id);
}

export function badge(text, kind) {
  return html`<span class="status status-${kind}">${text}</span>`;
}

/** ["choose a venue", "give it a name"] → "Choose a venue; give it a name." */
export function problemSentence(problems) {
  return problems.join('; ').replace(/^./, (c) => c.toUpperCase()) + '.';
}

/**
 * Asks before a destructive action, naming its consequence, in the item's `.confirm-slot`:
 * `question` in bold (e.g. "Cancel this booking and refund 178.00 EUR?"), then `consequence`;
 * `yes` runs `action` (its button busy with `busyText`), "Keep it" closes the question.
 */
export function askFirst(slot, { question, consequence, yes, busyText, action }) {
  render(
    slot,
    html`<div class="confirm-box" role="group" aria-label="${question}">
      <p><strong>${question}</strong> ${consequence}</p>
      <div class="btn-row"><button class="btn btn-danger-solid btn-sm" type="button" data-confirm>${yes}</button>
        <button class="btn btn-ghost btn-sm" type="button" data-keep>Keep it</button></div>
    </div>`,
  );
  slot.querySelector('[data-keep]').addEventListener('click', () => {
    slot.replaceChildren();
  });
  const confirm = slot.querySelector('[data-confirm]');
  confirm.addEventListener('click', async () => {
    try {
      await UI.busy(confirm, busyText, action);
    } catch (error) {
      UI.handleError(error);
    }
  });
  confirm.focus();
}
