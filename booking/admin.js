// admin.html: venues with their seat rows, events (create, edit, cancel), users (disable,
// promote) and reservation oversight with filters. Admins only; the API checks that too.
(function () {
  'use strict';

  const $ = (id) => document.getElementById(id);
  const PAGE = 50;

  const state = {
    me: null,
    venues: [],
    venueSeats: new Map(), // venue id → [Seat]
    events: [],
    users: new Map(), // id → User, for names in oversight
    usersOffset: 0,
    resOffset: 0,
  };

  // ---- tabs ------------------------------------------------------------------------------

  const TABS = ['events', 'venues', 'users', 'reservations'];
  const loaded = new Set();

  function selectTab(name, focus) {
    TABS.forEach((t) => {
      const on = t === name;
      const tab = $('tab-' + t);
      tab.setAttribute('aria-selected', String(on));
      tab.tabIndex = on ? 0 : -1;
      $('panel-' + t).hidden = !on;
    });
    if (focus) $('tab-' + name).focus();
    if (location.hash !== '#' + name) history.replaceState(null, '', '#' + name);
    UI.clear();
    if (!loaded.has(name)) {
      loaded.add(name);
      if (name === 'users') loadUsers();
      if (name === 'reservations') loadReservationFilters().then(loadReservations);
    }
  }

  TABS.forEach((t, i) => {
    const tab = $('tab-' + t);
    tab.addEventListener('click', () => selectTab(t));
    tab.addEventListener('keydown', (e) => {
      if (e.key !== 'ArrowRight' && e.key !== 'ArrowLeft') return;
      e.preventDefault();
      const next = TABS[(i + (e.key === 'ArrowRight' ? 1 : TABS.length - 1)) % TABS.length];
      selectTab(next, true);
    });
  });

  function badge(text, kind) {
    return '<span class="status status-' + UI.esc(kind) + '">' + UI.esc(text) + '</span>';
  }

  // ---- venues ----------------------------------------------------------------------------

  async function loadVenues() {
    state.venues = await ApiService.events.getVenues();
    renderVenues();
    fillVenueSelect();
  }

  function rowSummary(seats) {
    const rows = new Map();
    seats.forEach((s) => {
      if (!rows.has(s.row)) rows.set(s.row, { count: 0, tiers: new Set() });
      rows.get(s.row).count += 1;
      rows.get(s.row).tiers.add(s.tier);
    });
    const names = Array.from(rows.keys()).sort((a, b) => a.localeCompare(b, undefined, { numeric: true }));
    // Consecutive rows alike are shown as one line: "A–H · 14 seats · standard".
    const lines = [];
    names.forEach((name) => {
      const r = rows.get(name);
      const key = r.count + '|' + Array.from(r.tiers).join(',');
      const last = lines[lines.length - 1];
      if (last && last.key === key) last.to = name;
      else lines.push({ key, from: name, to: name, count: r.count, tiers: Array.from(r.tiers) });
    });
    return lines
      .map((l) => '<li>Rows ' + UI.esc(l.from === l.to ? l.from : l.from + '–' + l.to) + ' · ' + l.count + ' seats · ' +
        UI.esc(l.tiers.map(Format.label).join(', ')) + '</li>')
      .join('');
  }

  function renderVenues() {
    const list = $('admin-venues');
    if (!state.venues.length) {
      list.innerHTML = UI.emptyState('No venues', 'Create the first venue with the form.');
      return;
    }
    list.innerHTML = state.venues
      .map((v) =>
        '<div class="list-item" data-venue-id="' + UI.esc(v.id) + '"><div class="grow"><h3>' + UI.esc(v.name) + '</h3>' +
        '<p>' + UI.esc(ProData.venueKind(v.kind).label) + ' · ' + UI.esc(v.location || 'no address') + ' · ' + UI.esc(v.seat_count) + ' seats</p>' +
        '<ul class="small muted" data-rows hidden style="margin:6px 0 0;padding-left:18px"></ul></div>' +
        '<button class="btn btn-ghost btn-sm" type="button" data-show-rows aria-expanded="false">Seat rows</button></div>')
      .join('');
  }

  $('admin-venues').addEventListener('click', async (e) => {
    const button = e.target.closest('[data-show-rows]');
    if (!button) return;
    const item = button.closest('[data-venue-id]');
    const rows = item.querySelector('[data-rows]');
    if (!rows.hidden) {
      rows.hidden = true;
      button.setAttribute('aria-expanded', 'false');
      return;
    }
    try {
      const seats = await venueSeats(item.dataset.venueId);
      rows.innerHTML = rowSummary(seats);
      rows.hidden = false;
      button.setAttribute('aria-expanded', 'true');
    } catch (error) {
      UI.handleError(error);
    }
  });

  async function venueSeats(id) {
    if (!state.venueSeats.has(id)) {
      const venue = await ApiService.events.getVenueById(id);
      state.venueSeats.set(id, venue.seats || []);
    }
    return state.venueSeats.get(id);
  }

  // Row groups: "rows A to H, 14 seats, standard".
  function addRowGroup(values) {
    const v = values || {};
    const wrap = document.createElement('div');
    wrap.className = 'row-group';
    const n = $('row-groups').children.length + 1;
    wrap.innerHTML =
      '<div class="field"><label for="rg-from-' + n + '">From row</label><input id="rg-from-' + n + '" data-k="from" maxlength="3" value="' + UI.esc(v.from || '') + '" required></div>' +
      '<div class="field"><label for="rg-to-' + n + '">To row</label><input id="rg-to-' + n + '" data-k="to" maxlength="3" value="' + UI.esc(v.to || '') + '"></div>' +
      '<div class="field"><label for="rg-seats-' + n + '">Seats per row</label><input id="rg-seats-' + n + '" data-k="seats" type="number" min="1" max="200" inputmode="numeric" value="' + UI.esc(v.seats || '') + '" required></div>' +
      '<div class="field"><label for="rg-tier-' + n + '">Tier</label><input id="rg-tier-' + n + '" data-k="tier" maxlength="40" value="' + UI.esc(v.tier || 'standard') + '"></div>' +
      '<button class="btn btn-ghost btn-sm" type="button" data-remove-group aria-label="Remove rows line ' + n + '">Remove</button>';
    $('row-groups').appendChild(wrap);
    updateRowSummary();
  }

  function expandRows(from, to) {
    from = from.trim().toUpperCase();
    to = (to || '').trim().toUpperCase() || from;
    if (/^[A-Z]$/.test(from) && /^[A-Z]$/.test(to)) {
      const out = [];
      const a = from.charCodeAt(0);
      const b = to.charCodeAt(0);
      for (let c = Math.min(a, b); c <= Math.max(a, b); c += 1) out.push(String.fromCharCode(c));
      return out;
    }
    if (/^\d+$/.test(from) && /^\d+$/.test(to)) {
      const out = [];
      for (let i = Math.min(+from, +to); i <= Math.max(+from, +to); i += 1) out.push(String(i));
      return out;
    }
    return from === to ? [from] : null;
  }

  function readRows() {
    const rows = [];
    const problems = [];
    Array.from($('row-groups').children).forEach((group, i) => {
      const get = (k) => group.querySelector('[data-k="' + k + '"]');
      const names = get('from').value.trim() ? expandRows(get('from').value, get('to').value) : null;
      const seats = Number(get('seats').value);
      const tier = get('tier').value.trim().toLowerCase().replace(/\s+/g, '_') || 'standard';
      if (!names) problems.push('line ' + (i + 1) + ': rows must be letters (A to H) or numbers (1 to 12)');
      if (!(seats >= 1)) problems.push('line ' + (i + 1) + ': seats per row must be at least 1');
      if (names && seats >= 1) names.forEach((row) => rows.push({ row, seats, tier }));
    });
    const seen = new Set();
    rows.forEach((r) => {
      if (seen.has(r.row)) problems.push('row ' + r.row + ' appears twice');
      seen.add(r.row);
    });
    return { rows, problems };
  }

  function updateRowSummary() {
    const { rows } = readRows();
    const seats = rows.reduce((s, r) => s + r.seats, 0);
    $('rows-summary').textContent = rows.length ? rows.length + ' row' + (rows.length === 1 ? '' : 's') + ', ' + seats + ' seats' : '';
  }

  $('add-row-group').addEventListener('click', () => {
    addRowGroup({ tier: 'standard' });
    $('row-groups').lastElementChild.querySelector('input').focus();
  });
  $('row-groups').addEventListener('input', updateRowSummary);
  $('row-groups').addEventListener('click', (e) => {
    const remove = e.target.closest('[data-remove-group]');
    if (!remove) return;
    remove.closest('.row-group').remove();
    if (!$('row-groups').children.length) addRowGroup({ tier: 'standard' });
    updateRowSummary();
  });

  $('venue-form').addEventListener('submit', async (e) => {
    e.preventDefault();
    const form = e.currentTarget;
    const alertEl = $('venue-form-alert');
    UI.clear(alertEl);
    const name = $('vn-name').value.trim();
    const { rows, problems } = readRows();
    if (!name) problems.unshift('the venue needs a name');
    if (!rows.length && !problems.length) problems.push('add at least one row of seats');
    if (problems.length) {
      UI.showError('Please check the venue', problems.join('; ').replace(/^./, (c) => c.toUpperCase()) + '.', alertEl);
      return;
    }
    const body = { name, kind: $('vn-kind').value, location: $('vn-location').value.trim() || undefined, rows };
    try {
      const venue = await UI.busy(form.querySelector('button[type="submit"]'), 'Creating…', () => ApiService.events.createVenue(body));
      form.reset();
      $('row-groups').innerHTML = '';
      addRowGroup({ tier: 'standard' });
      UI.showStatus('Venue “' + venue.name + '” created with ' + (venue.seats ? venue.seats.length : venue.seat_count) + ' seats.', 'success');
      await loadVenues();
    } catch (error) {
      UI.handleError(error, alertEl);
    }
  });

  // ---- events ----------------------------------------------------------------------------

  function fillVenueSelect() {
    const select = $('ev-venue');
    const current = select.value;
    select.innerHTML = '<option value="">Choose a venue</option>' +
      state.venues.map((v) => '<option value="' + UI.esc(v.id) + '">' + UI.esc(v.name) + ' (' + UI.esc(v.seat_count) + ' seats)</option>').join('');
    if (current) select.value = current;
  }

  async function showPriceInputs(venueId, prices, currency) {
    const box = $('ev-prices');
    if (!venueId) {
      box.innerHTML = '<p class="muted small">Choose a venue to price its tiers.</p>';
      return;
    }
    box.innerHTML = '<p class="muted small">Loading tiers…</p>';
    try {
      const seats = await venueSeats(venueId);
      const tiers = Array.from(new Set(seats.map((s) => s.tier))).sort();
      const digits = currencyDigits(currency || $('ev-currency').value);
      box.innerHTML = tiers
        .map((tier, i) => {
          const price = (prices || []).find((p) => p.tier === tier);
          const value = price ? (price.price_cents / Math.pow(10, digits)).toFixed(digits) : '';
          return '<div class="field" style="margin:0"><label for="price-' + i + '">' + UI.esc(Format.label(tier)) + '</label>' +
            '<input id="price-' + i + '" data-tier="' + UI.esc(tier) + '" type="number" min="0" step="0.01" inputmode="decimal" required value="' + value + '"></div>';
        })
        .join('');
    } catch (error) {
      box.innerHTML = '';
      UI.handleError(error, $('event-form-alert'));
    }
  }

  function currencyDigits(code) {
    try {
      return new Intl.NumberFormat('en', { style: 'currency', currency: (code || 'EUR').toUpperCase() }).resolvedOptions().maximumFractionDigits;
    } catch (_) {
      return 2;
    }
  }

  $('ev-venue').addEventListener('change', (e) => showPriceInputs(e.target.value));

  function eventItem(ev) {
    const avail = ProData.availability(ev);
    const past = new Date(ev.start_time).getTime() <= Date.now();
    return (
      '<div class="list-item" data-event-id="' + UI.esc(ev.id) + '"><div class="grow">' +
      '<h3>' + UI.esc(ev.name) + '</h3>' +
      '<p>' + UI.esc(ProData.category(ev.category).single) + ' · ' + UI.esc((ev.venue && ev.venue.name) || '') + ' · ' +
      UI.esc(Format.dateTime(ev.start_time)) + '</p>' +
      '<p>' + (ev.status === 'canceled' ? badge('Canceled', 'canceled') : past ? badge('Past', 'expired') : badge('On sale', 'on_sale')) +
      ' ' + UI.esc(ev.seats_available + ' of ' + ev.seats_total + ' seats free') + (avail.level === 'ok' ? '' : ' · ' + UI.esc(avail.text)) + '</p>' +
      '<div class="confirm-slot"></div></div>' +
      '<div class="btn-row">' +
      '<button class="btn btn-ghost btn-sm" type="button" data-edit>Edit</button>' +
      '<button class="btn btn-ghost btn-sm" type="button" data-res>Reservations</button>' +
      (ev.status !== 'canceled' ? '<button class="btn btn-danger btn-sm" type="button" data-cancel-event>Cancel event</button>' : '') +
      '</div></div>'
    );
  }

  async function loadEvents() {
    const list = $('admin-events');
    const seq = (state.eventsSeq = (state.eventsSeq || 0) + 1);
    list.setAttribute('aria-busy', 'true');
    try {
      const events = await ApiService.events.getEvents({
        include_past: $('events-include-past').checked ? 'true' : undefined,
        q: $('events-q').value.trim(),
        limit: 200,
      });
      if (seq !== state.eventsSeq) return;
      state.events = events;
      list.innerHTML = state.events.length ? state.events.map(eventItem).join('') : UI.emptyState('No events', 'Create one with the form.');
    } catch (error) {
      UI.handleError(error);
    } finally {
      if (seq === state.eventsSeq) list.removeAttribute('aria-busy');
    }
  }

  let searchTimer = null;
  $('events-q').addEventListener('input', () => {
    clearTimeout(searchTimer);
    searchTimer = setTimeout(loadEvents, 300);
  });
  $('events-include-past').addEventListener('change', loadEvents);

  function resetEventForm() {
    const form = $('event-form');
    form.reset();
    $('ev-id').value = '';
    $('ev-venue').disabled = false;
    $('event-form-title').textContent = 'New event';
    $('event-submit').textContent = 'Create event';
    $('ev-start').value = Format.toLocalInput(new Date(Date.now() + 7 * 24 * 3600 * 1000).setHours(20, 0, 0, 0));
    showPriceInputs('');
    UI.clear($('event-form-alert'));
  }

  function editEvent(ev) {
    const form = $('event-form');
    $('ev-id').value = ev.id;
    $('ev-venue').value = ev.venue_id;
    $('ev-venue').disabled = true; // an event keeps its venue: its seats belong to it
    $('ev-name').value = ev.name;
    $('ev-category').value = ev.category;
    $('ev-duration').value = ev.duration_minutes || '';
    $('ev-start').value = Format.toLocalInput(ev.start_time);
    $('ev-currency').value = ev.currency || 'EUR';
    $('ev-description').value = ev.description || '';
    $('event-form-title').textContent = 'Edit “' + ev.name + '”';
    $('event-submit').textContent = 'Save changes';
    showPriceInputs(ev.venue_id, ev.prices, ev.currency);
    $('ev-name').focus();
  }

  $('event-reset').addEventListener('click', resetEventForm);

  $('admin-events').addEventListener('click', (e) => {
    const item = e.target.closest('[data-event-id]');
    if (!item) return;
    const ev = state.events.find((x) => x.id === item.dataset.eventId);
    if (!ev) return;
    if (e.target.closest('[data-edit]')) editEvent(ev);
    if (e.target.closest('[data-res]')) {
      selectTab('reservations');
      loadReservationFilters().then(() => {
        $('res-event').value = ev.id;
        state.resOffset = 0;
        loadReservations();
      });
    }
    if (e.target.closest('[data-cancel-event]')) {
      const slot = item.querySelector('.confirm-slot');
      slot.innerHTML =
        '<div class="confirm-box"><p><strong>Cancel “' + UI.esc(ev.name) + '”?</strong> Every held and confirmed seat is canceled and paid seats are refunded. This cannot be undone.</p>' +
        '<div class="btn-row"><button class="btn btn-danger-solid btn-sm" type="button" data-confirm>Yes, cancel event</button>' +
        '<button class="btn btn-ghost btn-sm" type="button" data-keep>Keep it</button></div></div>';
      slot.querySelector('[data-keep]').addEventListener('click', () => {
        slot.innerHTML = '';
      });
      slot.querySelector('[data-confirm]').addEventListener('click', async (ev2) => {
        try {
          await UI.busy(ev2.currentTarget, 'Canceling…', () => ApiService.events.cancelEvent(ev.id));
          UI.showStatus('“' + ev.name + '” was canceled; its bookings were canceled and refunded.', 'success');
          loadEvents();
        } catch (error) {
          UI.handleError(error);
        }
      });
      slot.querySelector('[data-confirm]').focus();
    }
  });

  $('event-form').addEventListener('submit', async (e) => {
    e.preventDefault();
    const form = e.currentTarget;
    const alertEl = $('event-form-alert');
    UI.clear(alertEl);
    const editing = $('ev-id').value;
    const problems = [];
    const venueId = $('ev-venue').value;
    if (!venueId) problems.push('choose a venue');
    if (!$('ev-name').value.trim()) problems.push('give the event a name');
    const start = Format.fromLocalInput($('ev-start').value);
    if (!start) problems.push('choose when it starts');
    else if (!editing && new Date(start).getTime() <= Date.now()) problems.push('the start must be in the future');
    const currency = ($('ev-currency').value.trim() || 'EUR').toUpperCase();
    if (!/^[A-Z]{3}$/.test(currency)) problems.push('the currency is a 3-letter code like EUR');
    const digits = currencyDigits(currency);
    const prices = Array.from($('ev-prices').querySelectorAll('[data-tier]')).map((input) => {
      const value = Number(input.value);
      if (input.value === '' || !(value >= 0)) problems.push('set a price for ' + Format.label(input.dataset.tier).toLowerCase());
      return { tier: input.dataset.tier, price_cents: Math.round(value * Math.pow(10, digits)) };
    });
    if (venueId && !prices.length && !problems.length) problems.push('wait for the venue tiers to load');
    if (problems.length) {
      UI.showError('Please check the event', problems.join('; ').replace(/^./, (c) => c.toUpperCase()) + '.', alertEl);
      return;
    }
    const body = {
      name: $('ev-name').value.trim(),
      category: $('ev-category').value,
      description: $('ev-description').value.trim() || undefined,
      start_time: start,
      duration_minutes: $('ev-duration').value ? Number($('ev-duration').value) : undefined,
      prices,
      currency,
    };
    try {
      const button = $('event-submit');
      const saved = await UI.busy(button, editing ? 'Saving…' : 'Creating…', () =>
        editing ? ApiService.events.updateEvent(editing, body) : ApiService.events.createEvent(Object.assign({ venue_id: venueId }, body)));
      UI.showStatus('Event “' + saved.name + '” ' + (editing ? 'saved' : 'created') + ' for ' + Format.dateTime(saved.start_time) + '.', 'success');
      resetEventForm();
      await loadEvents();
    } catch (error) {
      UI.handleError(error, alertEl);
    }
  });

  // ---- users -----------------------------------------------------------------------------

  function userItem(u) {
    const self = state.me && u.id === state.me.id;
    return (
      '<div class="list-item" data-user-id="' + UI.esc(u.id) + '"><div class="grow">' +
      '<h3>' + UI.esc(u.name || u.email) + (self ? ' <span class="muted small">(you)</span>' : '') + '</h3>' +
      '<p>' + UI.esc(u.email) + ' · joined ' + UI.esc(Format.date(u.created_at)) + '</p>' +
      '<p>' + (u.role === 'admin' ? badge('Admin', 'admin') : badge('Customer', 'on_sale')) +
      (u.disabled ? ' ' + badge('Disabled', 'disabled') : '') + '</p></div>' +
      (self
        ? ''
        : '<div class="btn-row">' +
          '<button class="btn btn-ghost btn-sm" type="button" data-role="' + (u.role === 'admin' ? 'customer' : 'admin') + '">' +
          (u.role === 'admin' ? 'Make customer' : 'Promote to admin') + '</button>' +
          '<button class="btn ' + (u.disabled ? 'btn-secondary' : 'btn-danger') + ' btn-sm" type="button" data-disable="' + (!u.disabled) + '">' +
          (u.disabled ? 'Enable' : 'Disable') + '</button></div>') +
      '</div>'
    );
  }

  async function loadUsers() {
    const list = $('admin-users');
    const seq = (state.usersSeq = (state.usersSeq || 0) + 1);
    list.setAttribute('aria-busy', 'true');
    try {
      const users = await ApiService.auth.listUsers({ q: $('users-q').value.trim(), limit: PAGE, offset: state.usersOffset });
      if (seq !== state.usersSeq) return; // a newer search answered or will answer
      users.forEach((u) => state.users.set(u.id, u));
      list.innerHTML = users.length ? users.map(userItem).join('') : UI.emptyState('No users found', 'Try another search.');
      $('users-prev').disabled = state.usersOffset === 0;
      $('users-next').disabled = users.length < PAGE;
    } catch (error) {
      UI.handleError(error);
    } finally {
      if (seq === state.usersSeq) list.removeAttribute('aria-busy');
    }
  }

  $('user-search').addEventListener('submit', (e) => {
    e.preventDefault();
    state.usersOffset = 0;
    loadUsers();
  });
  $('users-prev').addEventListener('click', () => {
    state.usersOffset = Math.max(0, state.usersOffset - PAGE);
    loadUsers();
  });
  $('users-next').addEventListener('click', () => {
    state.usersOffset += PAGE;
    loadUsers();
  });
  $('admin-users').addEventListener('click', async (e) => {
    const item = e.target.closest('[data-user-id]');
    const button = e.target.closest('[data-role],[data-disable]');
    if (!item || !button) return;
    const changes = button.dataset.role ? { role: button.dataset.role } : { disabled: button.dataset.disable === 'true' };
    try {
      const updated = await UI.busy(button, 'Saving…', () => ApiService.auth.updateUser(item.dataset.userId, changes));
      state.users.set(updated.id, updated);
      item.outerHTML = userItem(updated);
      UI.showStatus((updated.name || updated.email) + ' is now ' +
        (changes.role ? (updated.role === 'admin' ? 'an admin' : 'a customer') : updated.disabled ? 'disabled' : 'enabled') + '.', 'success');
    } catch (error) {
      UI.handleError(error);
    }
  });

  // ---- reservations ----------------------------------------------------------------------

  let filtersLoaded = null;
  function loadReservationFilters() {
    if (!filtersLoaded) {
      filtersLoaded = (async () => {
        try {
          const [events, users] = await Promise.all([
            ApiService.events.getEvents({ include_past: 'true', limit: 200 }),
            ApiService.auth.listUsers({ limit: 200 }),
          ]);
          events.forEach((ev) => {
            if (!state.events.find((x) => x.id === ev.id)) state.events.push(ev);
          });
          users.forEach((u) => state.users.set(u.id, u));
          $('res-event').innerHTML = '<option value="">All events</option>' + events
            .map((ev) => '<option value="' + UI.esc(ev.id) + '">' + UI.esc(ev.name + ' · ' + Format.shortDate(ev.start_time) + ' ' + Format.time(ev.start_time)) + '</option>')
            .join('');
          $('res-user').innerHTML = '<option value="">All customers</option>' + users
            .map((u) => '<option value="' + UI.esc(u.id) + '">' + UI.esc((u.name ? u.name + ' · ' : '') + u.email) + '</option>')
            .join('');
        } catch (error) {
          filtersLoaded = null;
          UI.handleError(error);
        }
      })();
    }
    return filtersLoaded;
  }

  function reservationItem(r) {
    const ev = state.events.find((x) => x.id === r.event_id);
    const user = state.users.get(r.user_id);
    const active = r.status === 'held' || r.status === 'confirmed';
    return (
      '<div class="list-item" data-reservation-id="' + UI.esc(r.id) + '"><div class="grow">' +
      '<h3>Row ' + UI.esc(r.seat.row) + ' seat ' + UI.esc(r.seat.seat_number) + ' · ' + UI.esc(ev ? ev.name : 'Event') + '</h3>' +
      '<p>' + UI.esc(user ? user.email : r.user_id) + ' · ' + UI.esc(Format.label(r.seat.tier)) + ' · ' +
      UI.esc(Format.money(r.price_cents, r.currency)) + ' · booked ' + UI.esc(Format.dateTime(r.created_at)) +
      (r.status === 'held' ? ' · hold ends ' + UI.esc(Format.time(r.expires_at)) : '') + '</p>' +
      '<p>' + badge(ProData.RESERVATION_STATUS[r.status] ? ProData.RESERVATION_STATUS[r.status].label : r.status, r.status) +
      ' <span class="muted small">booking ' + UI.esc(r.booking_id.slice(0, 8).toUpperCase()) + '</span></p></div>' +
      (active ? '<button class="btn btn-danger btn-sm" type="button" data-cancel-res>Cancel' + (r.status === 'confirmed' ? ' and refund' : '') + '</button>' : '') +
      '</div>'
    );
  }

  async function loadReservations() {
    const list = $('admin-reservations');
    const seq = (state.resSeq = (state.resSeq || 0) + 1);
    list.setAttribute('aria-busy', 'true');
    try {
      const items = await ApiService.reservations.listAll({
        event_id: $('res-event').value,
        user_id: $('res-user').value,
        status: $('res-status').value,
        limit: PAGE,
        offset: state.resOffset,
      });
      if (seq !== state.resSeq) return;
      list.innerHTML = items.length ? items.map(reservationItem).join('') : UI.emptyState('No reservations', 'Nothing matches these filters.');
      $('res-count').textContent = items.length
        ? 'Showing ' + (state.resOffset + 1) + '–' + (state.resOffset + items.length)
        : '';
      $('res-prev').disabled = state.resOffset === 0;
      $('res-next').disabled = items.length < PAGE;
    } catch (error) {
      UI.handleError(error);
    } finally {
      if (seq === state.resSeq) list.removeAttribute('aria-busy');
    }
  }

  $('res-filters').addEventListener('submit', (e) => {
    e.preventDefault();
    state.resOffset = 0;
    loadReservations();
  });
  ['res-event', 'res-status', 'res-user'].forEach((id) => $(id).addEventListener('change', () => {
    state.resOffset = 0;
    loadReservations();
  }));
  $('res-prev').addEventListener('click', () => {
    state.resOffset = Math.max(0, state.resOffset - PAGE);
    loadReservations();
  });
  $('res-next').addEventListener('click', () => {
    state.resOffset += PAGE;
    loadReservations();
  });
  $('admin-reservations').addEventListener('click', async (e) => {
    const button = e.target.closest('[data-cancel-res]');
    if (!button) return;
    const item = button.closest('[data-reservation-id]');
    try {
      const updated = await UI.busy(button, 'Canceling…', () => ApiService.reservations.cancelReservation(item.dataset.reservationId));
      item.outerHTML = reservationItem(updated);
      UI.showStatus('Reservation canceled' + (updated.price_cents ? '; a paid seat is refunded.' : '.'), 'success');
    } catch (error) {
      UI.handleError(error);
    }
  });

  // ---- start -----------------------------------------------------------------------------

  async function start() {
    if (!Auth.requireLogin()) return;
    try {
      state.me = await Auth.refreshUser();
    } catch (error) {
      UI.handleError(error);
      return;
    }
    if (state.me.role !== 'admin') {
      $('admin-gate').innerHTML = UI.emptyState('Admins only', 'Your account (' + state.me.email + ') is a customer account. Ask an admin for access.',
        '<p><a class="btn btn-primary" href="Home.html">Back to the home page</a></p>');
      UI.showError('Not allowed', 'This page is for administrators.');
      return;
    }
    $('admin').hidden = false;
    ProData.CATEGORIES.forEach((c) => $('ev-category').insertAdjacentHTML('beforeend', '<option value="' + c.id + '">' + UI.esc(c.single) + '</option>'));
    ProData.VENUE_KINDS.forEach((k) => $('vn-kind').insertAdjacentHTML('beforeend', '<option value="' + k.id + '">' + UI.esc(k.label) + '</option>'));
    addRowGroup({ from: 'A', to: 'C', seats: 10, tier: 'standard' });
    resetEventForm();
    const first = TABS.includes(location.hash.slice(1)) ? location.hash.slice(1) : 'events';
    selectTab(first);
    loaded.add('events');
    loaded.add('venues');
    try {
      await Promise.all([loadVenues(), loadEvents()]);
    } catch (error) {
      UI.handleError(error);
    }
  }

  start();
})();
