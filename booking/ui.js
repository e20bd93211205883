// Page furniture shared by every page: header and footer, the status areas (errors in a
// role="alert" region, always in words, never raw JSON), event cards and their drawn posters,
// and the hold countdown. Importing this module draws the header and footer.
import { ApiError } from './api.js';
import { Auth } from './auth.js';
import { Data, Format } from './data.js';
import { LANGUAGES, lang, setLanguage, t } from './i18n.js';
import { html, render, styled, trusted } from './dom.js';

/** Small inline icons (stroke drawings, no emoji, nothing fetched). */
const ICONS = {
  ticket: trusted('<path d="M3 7a2 2 0 0 1 2-2h14a2 2 0 0 1 2 2v3a2 2 0 0 0 0 4v3a2 2 0 0 1-2 2H5a2 2 0 0 1-2-2v-3a2 2 0 0 0 0-4z"/><path d="M14 5v14" stroke-dasharray="2 2"/>'),
  movie: trusted('<rect x="3" y="4" width="18" height="16" rx="2"/><path d="M7 4v16M17 4v16M3 9h4M3 15h4M17 9h4M17 15h4"/>'),
  theatre: trusted('<path d="M4 5c3 1.5 6 1.5 9 0v6a4.5 4.5 0 0 1-9 0z"/><path d="M6.5 9h.01M10.5 9h.01M7 12.5c1 .8 2 .8 3 0"/><path d="M13 8.5c2.3 1 4.7 1 7-.5v6a4.5 4.5 0 0 1-7 3.7"/><path d="M15.5 15c1-.7 2-.7 3 0M15.5 11.5h.01M18.5 11.5h.01"/>'),
  concert: trusted('<path d="M9 18V5l12-2v13"/><circle cx="6" cy="18" r="3"/><circle cx="18" cy="16" r="3"/>'),
  sport: trusted('<circle cx="12" cy="12" r="9"/><path d="M12 3v18M3 12h18M5.6 5.6c3.5 3.5 3.5 9.3 0 12.8M18.4 5.6c-3.5 3.5-3.5 9.3 0 12.8"/>'),
  comedy: trusted('<path d="M12 2a3 3 0 0 0-3 3v6a3 3 0 0 0 6 0V5a3 3 0 0 0-3-3z"/><path d="M19 10v1a7 7 0 0 1-14 0v-1M12 18v4M8 22h8"/>'),
  other: trusted('<path d="M12 3l2.7 5.5 6 .9-4.4 4.2 1 6-5.3-2.8-5.3 2.8 1-6L3.3 9.4l6-.9z"/>'),
  pin: trusted('<path d="M12 21s-7-6.2-7-11.5a7 7 0 0 1 14 0C19 14.8 12 21 12 21z"/><circle cx="12" cy="9.5" r="2.5"/>'),
  clock: trusted('<circle cx="12" cy="12" r="9"/><path d="M12 7v5l3 2"/>'),
  calendar: trusted('<rect x="3" y="5" width="18" height="16" rx="2"/><path d="M3 10h18M8 3v4M16 3v4"/>'),
  seat: trusted('<path d="M6 11V6a2 2 0 0 1 2-2h8a2 2 0 0 1 2 2v5"/><path d="M4 11h16v5H4zM6 16v4M18 16v4"/>'),
  check: trusted('<path d="M5 12.5l4.5 4.5L19 7.5"/>'),
  card: trusted('<rect x="2.5" y="5" width="19" height="14" rx="2"/><path d="M2.5 10h19M6 15h4"/>'),
  lock: trusted('<rect x="5" y="11" width="14" height="10" rx="2"/><path d="M8 11V8a4 4 0 0 1 8 0v3"/>'),
  user: trusted('<circle cx="12" cy="8" r="4"/><path d="M4 21c1.5-4 4.5-6 8-6s6.5 2 8 6"/>'),
  search: trusted('<circle cx="11" cy="11" r="7"/><path d="M20 20l-4-4"/>'),
  alert: trusted('<path d="M12 3l10 18H2z"/><path d="M12 10v4M12 17.5h.01"/>'),
  info: trusted('<circle cx="12" cy="12" r="9"/><path d="M12 11v6M12 7.5h.01"/>'),
};

export function icon(name, extraClass) {
  const drawing = ICONS[name] || ICONS.other;
  // One line: a line break in a template drops the space between the attributes.
  return html`<svg class="icon ${extraClass || ''}" viewBox="0 0 24 24" width="20" height="20" fill="none" stroke="currentColor" stroke-width="1.8" stroke-linecap="round" stroke-linejoin="round" aria-hidden="true" focusable="false">${drawing}</svg>`;
}

const NAV = [
  { href: 'Home.html', label: t('Home') },
  { href: 'movies.html', label: t('Movies') },
  { href: 'events.html', label: t('Events') },
  { href: 'theatres.html', label: t('Venues') },
];

function currentFile() {
  return (window.location.pathname.split('/').pop() || 'Home.html').toLowerCase();
}

function renderHeader() {
  const header = document.getElementById('site-header');
  if (!header) return;
  const user = Auth.getUser();
  const file = currentFile();
  const links = NAV.slice();
  // Everyone signed in may buy, so everyone has tickets; the door is for staff and admins.
  if (user) links.push({ href: 'profile.html#tickets', label: t('Tickets'), page: 'ticket.html' });
  if (user && (user.role === 'staff' || user.role === 'admin')) links.push({ href: 'checkin.html', label: t('Door') });
  if (user && user.role === 'admin') links.push({ href: 'admin.html', label: t('Admin') });
  const items = links.map((l) => {
    const current =
      l.href.toLowerCase() === file || l.page === file || (file === 'detail.html' && l.href === 'events.html');
    return html`<li><a href="${l.href}"${current ? html` aria-current="page"` : ''}>${l.label}</a></li>`;
  });
  const account = user
    ? html`<a class="account-link" href="profile.html"${file === 'profile.html' ? html` aria-current="page"` : ''}>
        ${icon('user')}<span class="account-name">${user.name || user.email}</span></a>
        <button type="button" class="btn btn-ghost btn-sm" data-action="logout">${t('Log out')}</button>`
    : html`<a class="btn btn-primary btn-sm" href="${Auth.loginUrl()}">${t('Log in')}</a>`;
  render(
    header,
    html`<a class="skip-link" href="#main">${t('Skip to content')}</a>
      <div class="container header-inner">
        <a class="brand" href="Home.html">${icon('ticket', 'brand-icon')}<span>Pro<strong>Eventa</strong></span></a>
        <nav class="main-nav" aria-label="${t('Main')}"><ul>${items}</ul></nav>
        <div class="account">${account}</div>
      </div>`,
  );
  const logout = header.querySelector('[data-action="logout"]');
  if (logout) {
    logout.addEventListener('click', () => {
      Auth.logout();
      window.location.assign('Home.html');
    });
  }
}

/** The language picker of every footer: each language named in its own words. */
function languageSwitcher() {
  const current = lang();
  return html`<p class="language-switcher"><label for="site-language">${t('Language')}</label>
    <select id="site-language">${LANGUAGES.map(
      (l) => html`<option value="${l.code}" lang="${l.code}"${l.code === current ? html` selected` : ''}>${l.name}</option>`,
    )}</select></p>`;
}

function renderFooter() {
  const footer = document.getElementById('site-footer');
  if (!footer) return;
  render(
    footer,
    html`<div class="container footer-inner">
      <p><strong>ProEventa</strong> — ${t('tickets for movies, theatre and live events.')}</p>
      <nav aria-label="${t('Footer')}"><a href="events.html">${t('All events')}</a><a href="theatres.html">${t('Venues')}</a>
        <a href="profile.html">${t('My bookings')}</a><a href="terms.html">${t('Terms')}</a><a href="privacy.html">${t('Privacy')}</a></nav>
      <p class="muted small">${t('Seats are held for you for a few minutes while you pay. Prices include all fees.')}</p>
      ${languageSwitcher()}
    </div>`,
  );
  const switcher = footer.querySelector('#site-language');
  if (switcher) switcher.addEventListener('change', () => setLanguage(switcher.value));
}

/** "card_number is not valid" → "Card number is not valid." */
function sentence(text) {
  const t = String(text).replace(/\b([a-z]+(?:_[a-z]+)+)\b/g, (m) => m.replace(/_/g, ' ')).trim();
  return (t.charAt(0).toUpperCase() + t.slice(1)).replace(/([^.!?])$/, '$1.');
}

/** What an API error means for a person: {title, text}. */
export function describe(error) {
  const e = error || {};
  // The API's `detail` sentences are English: other languages say the site's own words instead.
  const detail = lang() === 'en' ? e.detail || '' : '';
  const ref = e.requestId ? ' ' + t('(reference {id})', { id: e.requestId.slice(0, 8) }) : '';
  switch (e.code) {
    case 'network_error':
      return { title: t('Connection problem'), text: t("We couldn't reach ProEventa. Check your connection and try again.") };
    case 'invalid_credentials':
      return { title: t('Log in failed'), text: detail || t("That e-mail and password don't match an account.") };
    case 'unauthorized':
    case 'token_expired':
      return { title: t('Please log in'), text: t('Your session has ended. Log in again to continue.') };
    case 'email_taken':
      return { title: t('Account exists'), text: (detail || t('This e-mail already has an account.')) + ' ' + t('Log in instead.') };
    case 'seat_unavailable':
      return {
        title: t('Seat no longer available'),
        text: (detail || t('Someone else just took one of your seats.')) + ' ' + t('The seat map is up to date again: please pick other seats.'),
      };
    case 'not_sold_out':
      return { title: t('Seats still free'), text: detail || t('Seats are still free: pick them on the seat map.') };
    case 'hold_limit_reached':
      return {
        title: t('Seat limit reached'),
        text: (detail || t('You hold as many seats for this event as one account may.')) + ' ' + t('Pay for or cancel seats you hold to pick more.'),
      };
    case 'card_declined':
      return { title: t('Card declined'), text: (detail || t('The card was declined; try another card.')) + ' ' + t('Nothing was charged.') };
    case 'insufficient_funds':
      return { title: t('Insufficient funds'), text: (detail || t('The card has insufficient funds; try another card.')) + ' ' + t('Nothing was charged.') };
    case 'hold_expired':
      return { title: t('Your hold expired'), text: (detail || t('The hold on your seats ran out.')) + ' ' + t('Nothing was charged.') };
    case 'invalid_state':
      return { title: t('Not possible right now'), text: detail || t('This booking cannot be changed in its current state.') };
    case 'ticket_revoked':
      return { title: t('Ticket revoked'), text: detail || t('This ticket was canceled and no longer admits anyone.') };
    case 'already_checked_in':
      return { title: t('Already checked in'), text: detail || t('This ticket has already been used at the door.') };
    case 'invalid_token':
      return {
        title: t('This link does not work any more'),
        text: t('A password reset link works once and for a short time only. Ask for a new one.'),
      };
    case 'invalid_ticket':
      return { title: t('Not a valid ticket'), text: detail || t('This code is not a ProEventa ticket.') };
    case 'wrong_event':
      return { title: t('Wrong event'), text: detail || t('This ticket is for another event.') };
    case 'venue_in_use':
      return { title: t("The layout can't change now"), text: detail || t('An event of this venue is on sale, or a seat left out was booked.') };
    case 'forbidden':
      return { title: t('Not allowed'), text: detail || t("Your account can't do this.") };
    case 'not_found':
      return { title: t('Not found'), text: detail || t("We couldn't find what you were looking for.") };
    case 'validation_failed':
    case 'invalid_request':
    case 'invalid_json':
      return { title: t('Please check your details'), text: detail ? sentence(detail) : t('Some fields are not valid.') };
    case 'rate_limited': {
      const wait = Number(e.retryAfter);
      return {
        title: t('Too many attempts'),
        text: !(wait > 0)
          ? t('Please wait a little and try again.')
          : wait > 60 ? t('Please wait {n} minutes and try again.', { n: Math.ceil(wait / 60) }) : t('Please wait a minute and try again.'),
      };
    }
    case 'unavailable':
      return { title: t('Temporarily unavailable'), text: t('ProEventa is briefly unavailable. Please try again in a moment.') + ref };
    default:
      if (e.status >= 500) return { title: t('Something went wrong'), text: t('Something went wrong on our side. Please try again.') + ref };
      if (e instanceof Error && !(e instanceof ApiError)) {
        return { title: t('Something went wrong'), text: t('The page hit an unexpected problem. Please reload it.') };
      }
      return { title: t('Request failed'), text: detail || t('The request could not be completed. Please try again.') };
  }
}

function notice(el, kind, title, text) {
  if (!el) return;
  el.className = 'notice notice-' + kind;
  render(
    el,
    html`${icon(kind === 'error' ? 'alert' : kind === 'success' ? 'check' : 'info', 'notice-icon')}
      <div>${title ? html`<strong class="notice-title">${title}</strong> ` : ''}<span class="notice-text">${text || ''}</span></div>`,
  );
  el.hidden = false;
}

/** Shows an error in the page's role="alert" area (or the one given). */
export function showError(title, text, target) {
  const el = target || document.getElementById('page-alert');
  notice(el, 'error', title, text);
  if (el && el.getBoundingClientRect().top < 0) el.scrollIntoView({ block: 'center', behavior: 'smooth' });
}

/** Shows news in the page's role="status" area (or the one given). */
export function showStatus(text, kind, target, title) {
  notice(target || document.getElementById('page-status'), kind || 'info', title || '', text);
}

/** Empties and hides the given status area, or both of the page's. */
export function clear(target) {
  const els = target ? [target] : [document.getElementById('page-alert'), document.getElementById('page-status')];
  els.forEach((el) => {
    if (el) {
      el.hidden = true;
      el.replaceChildren();
    }
  });
}

/**
 * The one way pages report a failed call: a 401 goes to login.html?next=<this page>; everything
 * else becomes words in the alert area. Returns the description shown.
 */
export function handleError(error, target) {
  if (error && error.name === 'AbortError') return null;
  if (error && error.status === 401 && error.code !== 'invalid_credentials') {
    Auth.clear();
    Auth.redirectToLogin();
    return describe(error);
  }
  if (!(error instanceof ApiError)) console.error(error);
  const d = describe(error);
  showError(d.title, d.text, target);
  return d;
}

/** Puts a button into a busy state while `work` runs. */
export async function busy(button, text, work) {
  const label = Array.from(button.childNodes);
  button.disabled = true;
  button.setAttribute('aria-busy', 'true');
  if (text) button.textContent = text;
  try {
    return await work();
  } finally {
    button.disabled = false;
    button.removeAttribute('aria-busy');
    button.replaceChildren(...label);
  }
}

const POSTER_HUES = {
  movie: [250, 280],
  theatre: [335, 15],
  concert: [205, 265],
  sport: [160, 195],
  comedy: [20, 45],
  other: [225, 255],
};

/** Which width of a poster a browser picks: about a quarter of a desktop, all of a phone. */
const POSTER_SIZES = { card: '(min-width: 900px) 25vw, 100vw', 'poster-lg': '(min-width: 900px) 50vw, 100vw' };

/** An event's uploaded poster (its two sizes in srcset, loaded lazily), else a drawn one. */
export function poster(event, extraClass) {
  const image = event.poster;
  if (image && image.small && image.large) {
    return html`<div class="poster poster-image ${extraClass || ''}"><img src="${image.small}" srcset="${image.small + ' 480w, ' + image.large + ' 1200w'}" sizes="${POSTER_SIZES[extraClass] || POSTER_SIZES.card}" alt="${t('Poster of {name}', { name: event.name })}" loading="lazy" decoding="async"></div>`;
  }
  return drawnPoster(event, extraClass);
}

/** A drawn poster for an event: a gradient and the category's mark; never a network image. */
function drawnPoster(event, extraClass) {
  const [h1, h2] = POSTER_HUES[event.category] || POSTER_HUES.other;
  let hash = 0;
  for (const ch of String(event.name || '')) hash = (hash * 31 + ch.charCodeAt(0)) >>> 0;
  const shift = (hash % 30) - 15;
  const angle = 120 + (hash % 90);
  const background =
    'radial-gradient(circle at ' + (20 + (hash % 60)) + '% ' + (10 + ((hash >> 3) % 50)) + '%, rgba(255,255,255,.28), transparent 45%),' +
    'radial-gradient(circle at ' + (70 - (hash % 40)) + '% 110%, rgba(0,0,0,.35), transparent 55%),' +
    'linear-gradient(' + angle + 'deg, hsl(' + (h1 + shift) + ' 62% 30%), hsl(' + (h2 + shift) + ' 70% 48%))';
  return html`<div class="poster ${extraClass || ''}"${styled({ background })} aria-hidden="true">
    <span class="poster-mark">${icon(event.category || 'other')}</span>
    <span class="poster-title">${event.name}</span>
  </div>`;
}

/** An event as a card linking to its detail page. */
export function eventCard(event) {
  const cat = Data.category(event.category);
  const from = Data.fromPrice(event);
  const avail = Data.availability(event);
  const venue = event.venue || {};
  return html`<article class="card event-card" data-event-id="${event.id}">
    ${poster(event)}
    <div class="card-body">
      <p class="eyebrow">${cat.single} · <time datetime="${event.start_time}" data-event-time>${Format.whenShort(event)}</time></p>
      <h3 class="card-title"><a class="stretched" href="detail.html?id=${encodeURIComponent(event.id)}">${event.name}</a></h3>
      <p class="meta">${icon('pin')}<span>${venue.id ? venueLink(venue) : ''}${venue.location ? ' · ' + venue.location.split(',').pop().trim() : ''}</span></p>
      <div class="card-foot">
        ${from !== null ? html`<span class="price">${t('from')} <strong>${Format.money(from, event.currency)}</strong></span>` : html`<span></span>`}
        <span class="pill pill-${avail.level}">${avail.text}</span>
      </div>
    </div>
  </article>`;
}

function showtimeLink(s, labelled) {
  const avail = Data.availability(s);
  const venueName = s.venue ? s.venue.name : '';
  const label = t('{when} at {venue}, {availability}', { when: Format.when(s), venue: venueName, availability: avail.text });
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

/** A link to a venue's page, named after it (above a card's stretched link). */
export function venueLink(venue) {
  return html`<a class="venue-link" href="venue.html?id=${encodeURIComponent(venue.id)}">${venue.name || t('Venue')}</a>`;
}

/** One card per film: its poster, description, lowest price and every showtime given, by day. */
export function filmCard(showtimes) {
  const first = showtimes[0];
  const from = Math.min(...showtimes.map((s) => Data.fromPrice(s) || Infinity));
  return html`<article class="card movie" data-movie="${first.name}">
    ${poster(first)}
    <div class="movie-body">
      <p class="eyebrow">${Format.duration(first.duration_minutes) || t('Movie')}</p>
      <h2 class="card-title"><a href="detail.html?id=${encodeURIComponent(first.id)}">${first.name}</a></h2>
      ${first.description ? html`<p class="muted">${first.description}</p>` : ''}
      ${Number.isFinite(from) ? html`<p class="price">${t('Tickets from')} <strong>${Format.money(from, first.currency)}</strong></p>` : ''}
      ${showtimeLinks(showtimes)}
    </div>
  </article>`;
}

/** Skeleton cards while a list loads. */
export function skeletons(count) {
  return Array.from(
    { length: count },
    () => html`<div class="card skeleton" aria-hidden="true"><div class="poster"></div><div class="card-body"><span></span><span></span></div></div>`,
  );
}

/** "Nothing here" with a title, a sentence and an optional action (an html result). */
export function emptyState(title, text, action) {
  return html`<div class="empty">${icon('search', 'empty-icon')}<h3>${title}</h3><p>${text}</p>${action}</div>`;
}

/** The in-page answer to a mistyped or stale event link, with links onward. */
export function eventNotFound() {
  return html`<section class="panel not-found" id="event-not-found" aria-labelledby="event-not-found-title">
    <h2 id="event-not-found-title">${t("We couldn't find that event")}</h2>
    <p>${t('The link may be mistyped, or the event is no longer listed.')}</p>
    <div class="btn-row btn-row-center">
      <a class="btn btn-primary" href="events.html">${t('Browse events')}</a>
      <a class="btn btn-secondary" href="theatres.html">${t('Venues')}</a>
      <a class="btn btn-ghost" href="Home.html">${t('Home')}</a></div>
  </section>`;
}

/** Whether an API error means the event link leads nowhere (unknown or malformed id). */
export function isMissingEvent(error) {
  return Boolean(error) && (error.status === 404 || error.code === 'invalid_request');
}

/**
 * A countdown to `expiresAt` written into `el` every second. Calls onTick(secondsLeft) on each
 * tick and onExpire once when it reaches zero. Returns { stop, remaining() }.
 */
export function countdown(el, expiresAt, options) {
  const opts = options || {};
  const end = new Date(expiresAt).getTime();
  let timer = null;
  let done = false;
  const remaining = () => Math.max(0, Math.round((end - Date.now()) / 1000));
  const tick = () => {
    const left = remaining();
    el.textContent = Format.clock(left);
    el.setAttribute('datetime', 'PT' + Math.floor(left / 60) + 'M' + (left % 60) + 'S');
    const box = el.closest('.hold-timer');
    if (box) box.classList.toggle('hold-timer-low', left <= 60);
    if (opts.onTick) opts.onTick(left);
    if (left <= 0 && !done) {
      done = true;
      clearInterval(timer);
      if (opts.onExpire) opts.onExpire();
    }
  };
  tick();
  if (!done) timer = setInterval(tick, 1000);
  return {
    stop() {
      clearInterval(timer);
    },
    remaining,
  };
}

/**
 * Saves a Blob (a PDF or .ics the API made) under `filename` through a temporary blob: link; the
 * URL is released once the browser has had time to start the download.
 */
export function saveFile(blob, filename) {
  const url = URL.createObjectURL(blob);
  const link = document.createElement('a');
  link.href = url;
  link.download = filename;
  link.hidden = true;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}

/** Reads one query parameter of this page. */
export function param(name) {
  return new URLSearchParams(window.location.search).get(name);
}

export function setTitle(text) {
  document.title = text ? text + ' · ProEventa' : 'ProEventa';
}

renderHeader();
renderFooter();
window.addEventListener('proeventa:session', renderHeader);
// Log in or out in another tab: keep this tab's header true.
window.addEventListener('storage', (e) => {
  if (!e.key || e.key.indexOf('proeventa.') === 0) renderHeader();
});
