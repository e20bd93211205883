// events.html: everything on sale, one card per film with its showtimes and one per other event;
// search (the server's: title, venue, city, description, accents and one typo forgiven, best
// match first), sort, category and city filters, and dates: a range or a shortcut (today, this
// weekend, next 7 days), each day counted on the clock of the event's own venue. Kept in the URL.
import { api } from './api.js';
import { Data, Format } from './data.js';
import { byId, html, render } from './dom.js';
import { inSentence, t } from './i18n.js';
import { newestWins } from './requests.js';
import * as UI from './ui.js';

const form = byId('event-filters');
const list = byId('event-list');
const count = byId('event-count');
const category = byId('filter-category');
const city = byId('filter-city');
const shortcuts = Array.from(form.querySelectorAll('[data-when]'));
const searches = newestWins();
const FIELDS = ['q', 'category', 'city', 'sort', 'when', 'from', 'to', 'venue_id'];
const SHORTCUT_WORDS = { today: t('today'), weekend: t('this weekend'), week: t('in the next 7 days') };

Data.CATEGORIES.forEach((c) => {
  const option = document.createElement('option');
  option.value = c.id;
  option.textContent = c.label;
  category.appendChild(option);
});

/** The cities of every venue, once each, in the city filter. */
async function loadCities(wanted) {
  try {
    const venues = await api.events.getVenues();
    const cities = Array.from(new Set(venues.map((v) => Format.cityOf(v.location)).filter(Boolean))).sort();
    cities.forEach((name) => {
      const option = document.createElement('option');
      option.value = name;
      option.textContent = name;
      city.appendChild(option);
    });
  } catch (error) {
    UI.handleError(error);
  }
  if (wanted && !Array.from(city.options).some((o) => o.value === wanted)) {
    const option = document.createElement('option');
    option.value = wanted;
    option.textContent = wanted;
    city.appendChild(option);
  }
  city.value = wanted || '';
}

/** The default order is the best match for a search and the soonest first without one: the menu's
 * first choice says which it is now. */
function nameDefaultSort() {
  form.sort.options[0].textContent = form.q.value.trim() ? t('Best match') : t('Soonest first');
}

function filtersFromUrl() {
  const params = new URLSearchParams(location.search);
  FIELDS.forEach((k) => {
    if (k !== 'city') form[k].value = params.get(k) || '';
  });
  showShortcut();
  nameDefaultSort();
  return params.get('city') || '';
}

function showShortcut() {
  shortcuts.forEach((b) => b.setAttribute('aria-pressed', String(b.dataset.when === form.when.value)));
}

/**
 * The days an event must fall on, at its venue: a shortcut's, else the date range's. The server
 * is asked a day wider on each side (its dates are UTC days); `keep` decides on the venue's clock.
 */
function dayFilter() {
  const when = form.when.value;
  const today = new Date().toISOString().slice(0, 10);
  if (when) {
    return {
      from: Format.addDays(today, -1),
      to: Format.addDays(today, 9),
      keep: (e) => {
        const days = Format.shortcutDays(when, Format.zoneOf(e));
        const key = Format.eventDayKey(e);
        return Boolean(days) && key >= days.from && key <= days.to;
      },
    };
  }
  const from = form.from.value;
  const to = form.to.value;
  return {
    from: from ? Format.addDays(from, -1) : '',
    to: to ? Format.addDays(to, 1) : '',
    keep: (e) => {
      const key = Format.eventDayKey(e);
      return (!from || key >= from) && (!to || key <= to);
    },
  };
}

function describeFilters() {
  const parts = [];
  if (form.category.value) parts.push(inSentence(Data.category(form.category.value).label));
  if (city.value) parts.push(t('in {city}', { city: city.value }));
  if (form.q.value.trim()) parts.push(t('matching “{q}”', { q: form.q.value.trim() }));
  if (form.when.value) parts.push(SHORTCUT_WORDS[form.when.value] || '');
  if (!form.when.value && form.from.value) parts.push(t('from {date}', { date: Format.shortDate(form.from.value + 'T00:00') }));
  if (!form.when.value && form.to.value) parts.push(t('until {date}', { date: Format.shortDate(form.to.value + 'T00:00') }));
  return parts.filter(Boolean).join(' ');
}

/** Movie showtimes of one title together (a film card), every other event alone, in the server's order. */
function groups(events) {
  const cards = new Map();
  events.forEach((e) => {
    const key = e.category === 'movie' ? 'film:' + e.name : 'event:' + e.id;
    if (!cards.has(key)) cards.set(key, []);
    cards.get(key).push(e);
  });
  return Array.from(cards.values());
}

async function load() {
  const ticket = searches.next(); // only the newest search may fill the list
  UI.clear();
  render(list, UI.skeletons(6));
  list.setAttribute('aria-busy', 'true');
  try {
    if (!form.when.value && form.from.value && form.to.value && form.from.value > form.to.value) {
      list.replaceChildren();
      count.textContent = '';
      UI.showError(t('Check the dates'), t('The “From” date must be before the “To” date.'));
      return;
    }
    const days = dayFilter();
    const query = {
      q: form.q.value.trim(),
      category: form.category.value,
      city: city.value,
      sort: form.sort.value,
      venue_id: form.venue_id.value,
      from: days.from,
      to: days.to,
      limit: 200,
    };
    const events = (await api.events.getEvents(query, { signal: ticket.signal })).filter(days.keep);
    if (ticket.stale) return;
    const cards = groups(events);
    const what = describeFilters();
    if (!cards.length) {
      render(
        list,
        UI.emptyState(
          t('Nothing found'),
          what ? t('No events {what}. Try other filters.', { what }) : t('No events on sale. Try other filters.'),
          html`<p><a class="btn btn-secondary" href="events.html">${t('Show everything')}</a></p>`,
        ),
      );
      count.textContent = '';
      return;
    }
    render(list, cards.map((items) => (items[0].category === 'movie' ? UI.filmCard(items) : UI.eventCard(items[0]))));
    const films = cards.filter((items) => items[0].category === 'movie').length;
    const others = cards.length - films;
    const counted = [];
    if (films) counted.push(films === 1 ? t('1 film') : t('{n} films', { n: films }));
    if (others) counted.push(others === 1 ? t('1 event') : t('{n} events', { n: others }));
    const both = counted.length === 2 ? t('{films} and {events}', { films: counted[0], events: counted[1] }) : counted[0];
    count.textContent = both + (what ? ' · ' + what : '');
  } catch (error) {
    if (ticket.stale) return;
    list.replaceChildren();
    UI.handleError(error);
  } finally {
    if (!ticket.stale) list.removeAttribute('aria-busy');
  }
}

function search() {
  const params = new URLSearchParams();
  FIELDS.forEach((k) => {
    const v = (k === 'city' ? city.value : form[k].value).trim();
    if (v) params.set(k, v);
  });
  history.replaceState(null, '', 'events.html' + (params.toString() ? '?' + params : ''));
  load();
}

form.addEventListener('submit', (e) => {
  e.preventDefault();
  search();
});
form.addEventListener('reset', () => {
  setTimeout(() => {
    form.when.value = '';
    form.venue_id.value = '';
    showShortcut();
    history.replaceState(null, '', 'events.html');
    load();
  }, 0);
});
[category, city, form.sort].forEach((select) => select.addEventListener('change', search));
shortcuts.forEach((button) =>
  button.addEventListener('click', () => {
    form.when.value = button.dataset.when;
    form.from.value = '';
    form.to.value = '';
    showShortcut();
    search();
  }),
);
[form.from, form.to].forEach((input) =>
  input.addEventListener('change', () => {
    form.when.value = '';
    showShortcut();
  }),
);

form.q.addEventListener('input', nameDefaultSort);
form.addEventListener('reset', () => setTimeout(nameDefaultSort, 0));

const wantedCity = filtersFromUrl();
loadCities(wantedCity).then(load);
