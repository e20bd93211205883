// Home.html: what is on — the next showtime of each movie, live events coming up, the venues.
(function () {
  'use strict';

  const moviesEl = document.getElementById('featured-movies');
  const eventsEl = document.getElementById('featured-events');
  const venuesEl = document.getElementById('home-venues');

  function venueCard(venue) {
    const kind = ProData.venueKind(venue.kind);
    return (
      '<article class="card venue-card">' +
      UI.poster({ name: venue.name, category: venue.kind === 'cinema' ? 'movie' : venue.kind === 'arena' ? 'concert' : 'theatre' }) +
      '<div class="card-body">' +
      '<p class="eyebrow">' + UI.esc(kind.label) + '</p>' +
      '<h3 class="card-title"><a class="stretched" href="theatres.html#venue-' + UI.esc(venue.id) + '">' + UI.esc(venue.name) + '</a></h3>' +
      '<p class="meta">' + UI.icon('pin') + '<span>' + UI.esc(venue.location || '') + '</span></p>' +
      '<p class="meta">' + UI.icon('seat') + '<span>' + UI.esc(venue.seat_count) + ' seats</span></p>' +
      '</div></article>'
    );
  }

  async function load() {
    moviesEl.innerHTML = UI.skeletons(4);
    eventsEl.innerHTML = UI.skeletons(4);
    try {
      const [events, venues] = await Promise.all([
        ApiService.events.getEvents({ limit: 200 }),
        ApiService.events.getVenues(),
      ]);
      // One card per film: its next showtime (the list is soonest first).
      const seen = new Set();
      const movies = events.filter((e) => e.category === 'movie' && !seen.has(e.name) && seen.add(e.name));
      const live = events.filter((e) => e.category !== 'movie');
      moviesEl.innerHTML = movies.length
        ? movies.slice(0, 4).map(UI.eventCard).join('')
        : UI.emptyState('No movies right now', 'New showtimes are added every week.');
      eventsEl.innerHTML = live.length
        ? live.slice(0, 8).map(UI.eventCard).join('')
        : UI.emptyState('No events on sale', 'Check back soon for concerts, plays and more.');
      venuesEl.innerHTML = venues.slice(0, 6).map(venueCard).join('');
    } catch (error) {
      moviesEl.innerHTML = '';
      eventsEl.innerHTML = '';
      UI.handleError(error);
    } finally {
      moviesEl.removeAttribute('aria-busy');
      eventsEl.removeAttribute('aria-busy');
    }
  }

  load();
})();
