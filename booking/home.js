// Home.html: what is on — the next showtime of each movie, live events coming up, the venues.
import { api } from './api.js';
import { Data } from './data.js';
import { byId, html, render } from './dom.js';
import { t } from './i18n.js';
import * as UI from './ui.js';

const moviesEl = byId('featured-movies');
const eventsEl = byId('featured-events');
const venuesEl = byId('home-venues');

function venueCard(venue) {
  const kind = Data.venueKind(venue.kind);
  return html`<article class="card venue-card">
    ${UI.poster({ name: venue.name, category: venue.kind === 'cinema' ? 'movie' : venue.kind === 'arena' ? 'concert' : 'theatre' })}
    <div class="card-body">
      <p class="eyebrow">${kind.label}</p>
      <h3 class="card-title"><a class="stretched" href="theatres.html#venue-${venue.id}">${venue.name}</a></h3>
      <p class="meta">${UI.icon('pin')}<span>${venue.location || ''}</span></p>
      <p class="meta">${UI.icon('seat')}<span>${t('{n} seats', { n: venue.seat_count })}</span></p>
    </div>
  </article>`;
}

async function load() {
  render(moviesEl, UI.skeletons(4));
  render(eventsEl, UI.skeletons(4));
  try {
    const [events, venues] = await Promise.all([api.events.getEvents({ limit: 200 }), api.events.getVenues()]);
    // One card per film: its next showtime (the list is soonest first).
    const seen = new Set();
    const movies = events.filter((e) => e.category === 'movie' && !seen.has(e.name) && seen.add(e.name));
    const live = events.filter((e) => e.category !== 'movie');
    render(
      moviesEl,
      movies.length
        ? movies.slice(0, 4).map((e) => UI.eventCard(e))
        : UI.emptyState(t('No movies right now'), t('New showtimes are added every week.')),
    );
    render(
      eventsEl,
      live.length
        ? live.slice(0, 8).map((e) => UI.eventCard(e))
        : UI.emptyState(t('No events on sale'), t('Check back soon for concerts, plays and more.')),
    );
    render(venuesEl, venues.slice(0, 6).map(venueCard));
  } catch (error) {
    moviesEl.replaceChildren();
    eventsEl.replaceChildren();
    UI.handleError(error);
  } finally {
    moviesEl.removeAttribute('aria-busy');
    eventsEl.removeAttribute('aria-busy');
  }
}

load();
