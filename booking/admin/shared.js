// What the admin tabs share: the signed-in admin, the venue and event lists, users by id (for
// names in the reservation list), each venue's seats (fetched once), the page size, and the
// status badge.
import { api } from '../api.js';
import { html } from '../dom.js';

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
