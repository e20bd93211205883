// events.html: every event on sale, with search, category and date filters kept in the URL.
import { api } from './api.js';
import { Data, Format } from './data.js';
import { append, byId, html, render } from './dom.js';
import { inSentence, t } from './i18n.js';
import { newestWins, Pager } from './requests.js';
import * as UI from './ui.js';

const form = byId('event-filters');
const list = byId('event-list');
const count = byId('event-count');
const more = byId('more-events');
const category = byId('filter-category');
const pager = new Pager(24);
const searches = newestWins();

Data.CATEGORIES.forEach((c) => {
  const option = document.createElement('option');
  option.value = c.id;
  option.textContent = c.label;
  category.appendChild(option);
});

function filtersFromUrl() {
  const params = new URLSearchParams(location.search);
  form.q.value = params.get('q') || '';
  form.category.value = params.get('category') || '';
  form.from.value = params.get('from') || '';
  form.to.value = params.get('to') || '';
  form.venue_id.value = params.get('venue_id') || '';
}

function apiFilters() {
  return {
    q: form.q.value.trim(),
    category: form.category.value,
    venue_id: form.venue_id.value,
    from: Format.dayBoundary(form.from.value, false),
    to: Format.dayBoundary(form.to.value, true),
  };
}

function describeFilters() {
  const parts = [];
  if (form.category.value) parts.push(inSentence(Data.category(form.category.value).label));
  if (form.q.value.trim()) parts.push(t('matching “{q}”', { q: form.q.value.trim() }));
  if (form.from.value) parts.push(t('from {date}', { date: Format.shortDate(form.from.value + 'T00:00') }));
  if (form.to.value) parts.push(t('until {date}', { date: Format.shortDate(form.to.value + 'T00:00') }));
  return parts.join(' ');
}

/** A fresh search, or (`nextPage`) the next page of the current one added below. */
async function load(nextPage) {
  const ticket = searches.next(); // only the newest search may fill the list
  UI.clear();
  if (!nextPage) {
    pager.reset();
    render(list, UI.skeletons(6));
  }
  list.setAttribute('aria-busy', 'true');
  more.hidden = true;
  try {
    const filters = Object.assign(apiFilters(), pager.query);
    if (form.from.value && form.to.value && filters.from > filters.to) {
      list.replaceChildren();
      count.textContent = '';
      UI.showError(t('Check the dates'), t('The “From” date must be before the “To” date.'));
      return;
    }
    const events = await api.events.getEvents(filters, { signal: ticket.signal });
    if (ticket.stale) return;
    if (!nextPage) list.replaceChildren();
    append(list, events.map((e) => UI.eventCard(e)));
    more.hidden = !pager.received(events.length);
    const shown = pager.offset + events.length;
    const what = describeFilters();
    if (!shown) {
      render(
        list,
        UI.emptyState(
          t('Nothing found'),
          what ? t('No events {what}. Try other filters.', { what }) : t('No events on sale. Try other filters.'),
          html`<p><a class="btn btn-secondary" href="events.html">${t('Show everything')}</a></p>`,
        ),
      );
      count.textContent = '';
    } else {
      count.textContent = (shown === 1 && more.hidden ? t('1 event') : t('{n} events', { n: shown + (more.hidden ? '' : '+') })) + (what ? ' · ' + what : '');
    }
  } catch (error) {
    if (ticket.stale) return;
    if (!nextPage) list.replaceChildren();
    UI.handleError(error);
  } finally {
    if (!ticket.stale) list.removeAttribute('aria-busy');
  }
}

form.addEventListener('submit', (e) => {
  e.preventDefault();
  const params = new URLSearchParams();
  ['q', 'category', 'from', 'to', 'venue_id'].forEach((k) => {
    const v = form[k].value.trim();
    if (v) params.set(k, v);
  });
  history.replaceState(null, '', 'events.html' + (params.toString() ? '?' + params : ''));
  load(false);
});
form.addEventListener('reset', () => {
  setTimeout(() => {
    history.replaceState(null, '', 'events.html');
    load(false);
  }, 0);
});
category.addEventListener('change', () => form.requestSubmit());
more.addEventListener('click', () => {
  pager.forward();
  load(true);
});

filtersFromUrl();
load(false);
