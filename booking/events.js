// events.html: every event on sale, with search, category and date filters kept in the URL.
(function () {
  'use strict';

  const PAGE = 24;
  const form = document.getElementById('event-filters');
  const list = document.getElementById('event-list');
  const count = document.getElementById('event-count');
  const more = document.getElementById('more-events');
  const category = document.getElementById('filter-category');
  let offset = 0;
  let shown = 0;

  ProData.CATEGORIES.forEach((c) => {
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
    if (form.category.value) parts.push(ProData.category(form.category.value).label.toLowerCase());
    if (form.q.value.trim()) parts.push('matching “' + form.q.value.trim() + '”');
    if (form.from.value) parts.push('from ' + Format.shortDate(form.from.value + 'T00:00'));
    if (form.to.value) parts.push('until ' + Format.shortDate(form.to.value + 'T00:00'));
    return parts.join(' ');
  }

  let seq = 0;
  async function load(append) {
    const mine = ++seq; // only the newest search may fill the list
    UI.clear();
    if (!append) {
      offset = 0;
      shown = 0;
      list.innerHTML = UI.skeletons(6);
    }
    list.setAttribute('aria-busy', 'true');
    more.hidden = true;
    try {
      const filters = Object.assign(apiFilters(), { limit: PAGE, offset });
      if (form.from.value && form.to.value && filters.from > filters.to) {
        list.innerHTML = '';
        count.textContent = '';
        UI.showError('Check the dates', 'The “From” date must be before the “To” date.');
        return;
      }
      const events = await ApiService.events.getEvents(filters);
      if (mine !== seq) return;
      if (!append) list.innerHTML = '';
      list.insertAdjacentHTML('beforeend', events.map(UI.eventCard).join(''));
      shown += events.length;
      offset += events.length;
      more.hidden = events.length < PAGE;
      const what = describeFilters();
      if (!shown) {
        list.innerHTML = UI.emptyState('Nothing found', 'No events ' + (what || 'on sale') + '. Try other filters.',
          '<p><a class="btn btn-secondary" href="events.html">Show everything</a></p>');
        count.textContent = '';
      } else {
        count.textContent = shown + (more.hidden ? '' : '+') + ' event' + (shown === 1 ? '' : 's') + (what ? ' · ' + what : '');
      }
    } catch (error) {
      if (!append) list.innerHTML = '';
      UI.handleError(error);
    } finally {
      if (mine === seq) list.removeAttribute('aria-busy');
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
  more.addEventListener('click', () => load(true));

  filtersFromUrl();
  load(false);
})();
