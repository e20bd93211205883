// detail.html?id=<event_id>: one event or movie showtime — what, where, when, its other
// showtimes, prices per tier and availability, and the way to its seat map.
(function () {
  'use strict';

  const root = document.getElementById('detail');
  const id = UI.param('id');

  function fact(iconName, term, value) {
    return '<div class="fact">' + UI.icon(iconName) + '<dl style="margin:0"><dt>' + UI.esc(term) + '</dt><dd>' + value + '</dd></dl></div>';
  }

  function showtimesHtml(event, siblings) {
    if (siblings.length <= 1) return '';
    return (
      '<section class="section" aria-labelledby="showtimes-title"><h2 id="showtimes-title">' +
      (event.category === 'movie' ? 'Showtimes' : 'Other dates') + '</h2><div class="showtimes">' +
      siblings
        .map((s) => {
          const current = s.id === event.id;
          return (
            '<a class="showtime" href="detail.html?id=' + encodeURIComponent(s.id) + '"' + (current ? ' aria-current="true"' : '') +
            ' aria-label="' + UI.esc(Format.dateTime(s.start_time) + (s.venue ? ' at ' + s.venue.name : '') + (current ? ' (this one)' : '')) + '">' +
            '<strong>' + UI.esc(Format.time(s.start_time)) + '</strong><small>' + UI.esc(Format.dayLabel(s.start_time)) + '</small></a>'
          );
        })
        .join('') +
      '</div></section>'
    );
  }

  function render(event, siblings) {
    const cat = ProData.category(event.category);
    const venue = event.venue || {};
    const avail = ProData.availability(event);
    const tiers = ProData.tiers(event.prices);
    const pct = event.seats_total ? Math.round((100 * event.seats_available) / event.seats_total) : 0;
    const started = new Date(event.start_time).getTime() <= Date.now();
    const canBook = event.status !== 'canceled' && !started && event.seats_available > 0;
    UI.setTitle(event.name);
    root.innerHTML =
      '<p style="margin-top:20px"><a href="' + (event.category === 'movie' ? 'movies.html' : 'events.html') + '">&larr; ' +
      (event.category === 'movie' ? 'All movies' : 'All events') + '</a></p>' +
      '<div class="detail">' +
      '<div>' +
      UI.poster(event, 'poster-lg') +
      '<p class="eyebrow" style="margin-top:18px">' + UI.esc(cat.single) + '</p>' +
      '<h1 id="event-name">' + UI.esc(event.name) + '</h1>' +
      (event.status === 'canceled' ? '<div class="notice notice-warning">' + UI.icon('alert') + '<div><strong>This event was canceled.</strong> Every booking was canceled and paid seats refunded.</div></div>' : '') +
      '<div class="facts">' +
      fact('calendar', 'When', UI.esc(Format.dateTime(event.start_time))) +
      fact('pin', 'Where', UI.esc(venue.name || '') + (venue.location ? '<br><span class="muted small">' + UI.esc(venue.location) + '</span>' : '')) +
      (event.duration_minutes ? fact('clock', 'Duration', UI.esc(Format.duration(event.duration_minutes))) : '') +
      fact('seat', 'Seats', UI.esc(avail.text)) +
      '</div>' +
      (event.description ? '<p>' + UI.esc(event.description) + '</p>' : '') +
      showtimesHtml(event, siblings) +
      '</div>' +
      '<aside class="panel sticky-panel" aria-labelledby="prices-title">' +
      '<h2 id="prices-title">Tickets</h2>' +
      '<table class="price-table"><caption class="visually-hidden">Prices per seat tier</caption>' +
      '<thead><tr><th scope="col">Tier</th><th scope="col">Price</th></tr></thead><tbody>' +
      tiers
        .map((t) => '<tr><td><span class="tier-dot" style="background:' + t.colour + '"></span>' + UI.esc(Format.label(t.tier)) +
          '</td><td><strong>' + UI.esc(Format.money(t.price_cents, event.currency)) + '</strong></td></tr>')
        .join('') +
      '</tbody></table>' +
      '<p class="small muted" style="margin:0">Availability</p>' +
      '<div class="availability-bar" role="img" aria-label="' + UI.esc(pct + '% of seats free') + '"><span style="width:' + pct + '%"></span></div>' +
      '<p class="small"><span class="pill pill-' + avail.level + '">' + UI.esc(avail.text) + '</span></p>' +
      (canBook
        ? '<a class="btn btn-primary btn-lg btn-block" id="choose-seats" href="booking.html?event=' + encodeURIComponent(event.id) + '">Choose seats</a>' +
          '<p class="small muted" style="margin-top:10px">Pick seats on the live map; they are held for you while you pay.</p>'
        : '<button class="btn btn-primary btn-lg btn-block" type="button" disabled>' +
          (event.status === 'canceled' ? 'Canceled' : started ? 'Already started' : 'Sold out') + '</button>') +
      '</aside>' +
      '</div>';
  }

  async function load() {
    if (!id) {
      root.innerHTML = UI.emptyState('No event chosen', 'Pick an event from the list.', '<p><a class="btn btn-primary" href="events.html">Browse events</a></p>');
      root.removeAttribute('aria-busy');
      return;
    }
    try {
      const event = await ApiService.events.getEventById(id);
      let siblings = [event];
      try {
        const same = await ApiService.events.getEvents({ q: event.name, category: event.category, limit: 100 });
        siblings = same.filter((e) => e.name === event.name);
        if (!siblings.some((e) => e.id === event.id)) siblings = [event].concat(siblings);
        siblings.sort((a, b) => String(a.start_time).localeCompare(String(b.start_time)));
      } catch (_) {
        siblings = [event];
      }
      render(event, siblings);
    } catch (error) {
      root.innerHTML = '';
      if (error.status === 404 || error.code === 'invalid_request') {
        root.innerHTML = UI.emptyState('Event not found', 'This event does not exist or is no longer listed.', '<p><a class="btn btn-primary" href="events.html">Browse events</a></p>');
      }
      UI.handleError(error);
    } finally {
      root.removeAttribute('aria-busy');
    }
  }

  load();
})();
