// theatres.html: every venue with its kind, address and size, and the next events there.
(function () {
  'use strict';

  const list = document.getElementById('venue-list');

  function venueCard(venue, events) {
    const kind = ProData.venueKind(venue.kind);
    const upcoming = events.slice(0, 4);
    return (
      '<article class="card venue-card" id="venue-' + UI.esc(venue.id) + '" tabindex="-1">' +
      UI.poster({ name: venue.name, category: venue.kind === 'cinema' ? 'movie' : venue.kind === 'arena' ? 'concert' : 'theatre' }) +
      '<div class="card-body">' +
      '<p class="eyebrow">' + UI.esc(kind.label) + '</p>' +
      '<h2 class="card-title">' + UI.esc(venue.name) + '</h2>' +
      '<p class="meta">' + UI.icon('pin') + '<span>' + UI.esc(venue.location || 'Address to be announced') + '</span></p>' +
      '<p class="meta">' + UI.icon('seat') + '<span>' + UI.esc(venue.seat_count) + ' seats</span></p>' +
      (upcoming.length
        ? '<h3 class="small muted" style="margin:8px 0 0">Next up</h3><ul class="venue-events">' +
          upcoming
            .map((e) => '<li><a href="detail.html?id=' + encodeURIComponent(e.id) + '"><span>' + UI.esc(e.name) + '</span><span>' +
              UI.esc(Format.dayLabel(e.start_time) + ' ' + Format.time(e.start_time)) + '</span></a></li>')
            .join('') +
          '</ul>' +
          (events.length > upcoming.length
            ? '<a class="small" href="' + (venue.kind === 'cinema' ? 'movies.html?venue_id=' : 'events.html?venue_id=') + encodeURIComponent(venue.id) + '">All ' + events.length + ' events here</a>'
            : '')
        : '<p class="muted small">Nothing on sale here right now.</p>') +
      '</div></article>'
    );
  }

  async function load() {
    list.innerHTML = UI.skeletons(3);
    try {
      const [venues, events] = await Promise.all([ApiService.events.getVenues(), ApiService.events.getEvents({ limit: 200 })]);
      if (!venues.length) {
        list.innerHTML = UI.emptyState('No venues yet', 'Venues appear here once they are added.');
        return;
      }
      list.innerHTML = venues.map((v) => venueCard(v, events.filter((e) => e.venue_id === v.id))).join('');
      if (location.hash) {
        const target = document.getElementById(location.hash.slice(1));
        if (target) {
          target.scrollIntoView({ block: 'start' });
          target.focus({ preventScroll: true });
        }
      }
    } catch (error) {
      list.innerHTML = '';
      UI.handleError(error);
    } finally {
      list.removeAttribute('aria-busy');
    }
  }

  load();
})();
