// movies.html: each film once, with its showtimes grouped by day; a showtime opens its seat map.
import { api } from './api.js';
import { Data, Format } from './data.js';
import { byId, html, render } from './dom.js';
import { t } from './i18n.js';
import { newestWins } from './requests.js';
import * as UI from './ui.js';

const form = byId('movie-filters');
const list = byId('movie-list');
const count = byId('movie-count');
const venueSelect = byId('movie-venue');
const searches = newestWins();

function showtimeLink(s, labelled) {
  const avail = Data.availability(s);
  const venueName = s.venue ? s.venue.name : '';
  const label = Format.when(s) + ' at ' + venueName + ', ' + avail.text;
  // The zone is said once per film when every showtime is in one, else on each showtime.
  const clock = Format.eventClock(s) + (labelled ? ' ' + Format.eventZoneLabel(s) : '');
  return html`<a class="showtime" href="booking.html?event=${encodeURIComponent(s.id)}" aria-label="${label}">
    <strong data-event-time>${clock}</strong><small>${avail.level === 'ok' ? venueName : avail.text}</small></a>`;
}

/** Showtimes grouped by their day at the venue. */
function showtimeLinks(showtimes) {
  const zone = Format.commonZone(showtimes);
  const days = new Map();
  showtimes.forEach((s) => {
    const key = Format.eventDayKey(s);
    if (!days.has(key)) days.set(key, []);
    days.get(key).push(s);
  });
  return html`<div class="days">
    ${zone ? html`<p class="small muted zone-note">${t("Times are {zone}, the cinema's local time.", { zone: Format.eventZoneLabel(showtimes[0]) })}</p>` : ''}
    ${Array.from(days.values()).map(
      (items) => html`<div class="day-group"><h4>${Format.eventDay(items[0])}</h4>
        <div class="showtimes">${items.map((s) => showtimeLink(s, !zone))}</div></div>`,
    )}
  </div>`;
}

function movieBlock(showtimes) {
  const first = showtimes[0];
  const from = Math.min(...showtimes.map((s) => Data.fromPrice(s) || Infinity));
  return html`<article class="card movie" data-movie="${first.name}">
    ${UI.poster(first)}
    <div class="movie-body">
      <p class="eyebrow">${Format.duration(first.duration_minutes) || t('Movie')}</p>
      <h2 class="card-title"><a href="detail.html?id=${encodeURIComponent(first.id)}">${first.name}</a></h2>
      ${first.description ? html`<p class="muted">${first.description}</p>` : ''}
      ${Number.isFinite(from) ? html`<p class="price">${t('Tickets from')} <strong>${Format.money(from, first.currency)}</strong></p>` : ''}
      ${showtimeLinks(showtimes)}
    </div>
  </article>`;
}

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
    render(list, Array.from(byTitle.values()).map(movieBlock));
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
