// movies.html: each film once, with its showtimes grouped by day; a showtime opens its seat map.
(function () {
  'use strict';

  const form = document.getElementById('movie-filters');
  const list = document.getElementById('movie-list');
  const count = document.getElementById('movie-count');
  const venueSelect = document.getElementById('movie-venue');

  function showtimeLinks(showtimes) {
    const days = new Map();
    showtimes.forEach((s) => {
      const key = new Date(s.start_time).toDateString();
      if (!days.has(key)) days.set(key, []);
      days.get(key).push(s);
    });
    let html = '<div class="days">';
    days.forEach((items) => {
      html +=
        '<div class="day-group"><h4>' + UI.esc(Format.dayLabel(items[0].start_time)) + '</h4><div class="showtimes">' +
        items
          .map((s) => {
            const avail = ProData.availability(s);
            const label = Format.dateTime(s.start_time) + ' at ' + (s.venue ? s.venue.name : '') + ', ' + avail.text;
            return (
              '<a class="showtime" href="booking.html?event=' + encodeURIComponent(s.id) + '" aria-label="' + UI.esc(label) + '">' +
              '<strong>' + UI.esc(Format.time(s.start_time)) + '</strong><small>' + UI.esc(avail.level === 'ok' ? (s.venue ? s.venue.name : '') : avail.text) + '</small></a>'
            );
          })
          .join('') +
        '</div></div>';
    });
    return html + '</div>';
  }

  function movieBlock(showtimes) {
    const first = showtimes[0];
    const from = Math.min.apply(null, showtimes.map((s) => ProData.fromPrice(s) || Infinity));
    return (
      '<article class="card movie" data-movie="' + UI.esc(first.name) + '">' +
      UI.poster(first) +
      '<div class="movie-body">' +
      '<p class="eyebrow">' + UI.esc(Format.duration(first.duration_minutes) || 'Movie') + '</p>' +
      '<h2 class="card-title"><a href="detail.html?id=' + encodeURIComponent(first.id) + '">' + UI.esc(first.name) + '</a></h2>' +
      (first.description ? '<p class="muted">' + UI.esc(first.description) + '</p>' : '') +
      (Number.isFinite(from) ? '<p class="price">Tickets from <strong>' + UI.esc(Format.money(from, first.currency)) + '</strong></p>' : '') +
      showtimeLinks(showtimes) +
      '</div></article>'
    );
  }

  async function loadVenues() {
    try {
      const venues = await ApiService.events.getVenues();
      venues
        .filter((v) => v.kind === 'cinema')
        .forEach((v) => {
          const o = document.createElement('option');
          o.value = v.id;
          o.textContent = v.name;
          venueSelect.appendChild(o);
        });
      const wanted = new URLSearchParams(location.search).get('venue_id');
      if (wanted) venueSelect.value = wanted;
    } catch (error) {
      UI.handleError(error);
    }
  }

  let seq = 0;
  async function load() {
    const mine = ++seq; // only the newest search may fill the list
    UI.clear();
    list.setAttribute('aria-busy', 'true');
    list.innerHTML = UI.skeletons(2);
    try {
      const events = await ApiService.events.getEvents({
        category: 'movie',
        q: form.q.value.trim(),
        venue_id: venueSelect.value,
        from: Format.dayBoundary(form.from.value, false),
        to: Format.dayBoundary(form.to.value, true),
        limit: 200,
      });
      if (mine !== seq) return;
      const byTitle = new Map();
      events.forEach((e) => {
        if (!byTitle.has(e.name)) byTitle.set(e.name, []);
        byTitle.get(e.name).push(e);
      });
      if (!byTitle.size) {
        list.innerHTML = UI.emptyState('No showtimes found', 'Try other dates or clear the search.');
        count.textContent = '';
        return;
      }
      list.innerHTML = Array.from(byTitle.values()).map(movieBlock).join('');
      count.textContent = byTitle.size + ' film' + (byTitle.size === 1 ? '' : 's') + ', ' + events.length + ' showtime' + (events.length === 1 ? '' : 's');
    } catch (error) {
      list.innerHTML = '';
      UI.handleError(error);
    } finally {
      if (mine === seq) list.removeAttribute('aria-busy');
    }
  }

  form.addEventListener('submit', (e) => {
    e.preventDefault();
    load();
  });
  form.addEventListener('reset', () => setTimeout(load, 0));
  venueSelect.addEventListener('change', load);

  const params = new URLSearchParams(location.search);
  form.q.value = params.get('q') || '';
  loadVenues().then(load);
})();
