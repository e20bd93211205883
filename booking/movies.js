// movies.html: each film once, with its showtimes grouped by day; a showtime opens its seat map.
import { api } from './api.js';
import { Format } from './data.js';
import { byId, html, render } from './dom.js';
import { t } from './i18n.js';
import { newestWins } from './requests.js';
import * as UI from './ui.js';

const form = byId('movie-filters');
const list = byId('movie-list');
const count = byId('movie-count');
const venueSelect = byId('movie-venue');
const searches = newestWins();

async function loadVenues() {
  try {
    const venues = await api.events.getVenues();
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

async function load() {
  const ticket = searches.next(); // only the newest search may fill the list
  UI.clear();
  list.setAttribute('aria-busy', 'true');
  render(list, UI.skeletons(2));
  try {
    const events = await api.events.getEvents(
      {
        category: 'movie',
        q: form.q.value.trim(),
        venue_id: venueSelect.value,
        from: Format.dayBoundary(form.from.value, false),
        to: Format.dayBoundary(form.to.value, true),
        limit: 200,
      },
      { signal: ticket.signal },
    );
    if (ticket.stale) return;
    const byTitle = new Map();
    events.forEach((e) => {
      if (!byTitle.has(e.name)) byTitle.set(e.name, []);
      byTitle.get(e.name).push(e);
    });
    if (!byTitle.size) {
      render(list, UI.emptyState(t('No showtimes found'), t('Try other dates or clear the search.')));
      count.textContent = '';
      return;
    }
    render(list, Array.from(byTitle.values()).map((showtimes) => UI.filmCard(showtimes)));
    count.textContent =
      (byTitle.size === 1 ? t('1 film') : t('{n} films', { n: byTitle.size })) + ', ' + (events.length === 1 ? t('1 showtime') : t('{n} showtimes', { n: events.length }));
  } catch (error) {
    if (ticket.stale) return;
    list.replaceChildren();
    UI.handleError(error);
  } finally {
    if (!ticket.stale) list.removeAttribute('aria-busy');
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
