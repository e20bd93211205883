// detail.html?id=<event_id>: one event or movie showtime — what, where, when, its other
// showtimes, prices per tier and availability, and the way to its seat map.
import { api } from './api.js';
import { Data, Format } from './data.js';
import { byId, html, render, styled } from './dom.js';
import { t } from './i18n.js';
import * as UI from './ui.js';
import { showWaitlist } from './waitlist.js';

const root = byId('detail');
const id = UI.param('id');

function fact(iconName, term, value) {
  return html`<div class="fact">${UI.icon(iconName)}<dl><dt>${term}</dt><dd>${value}</dd></dl></div>`;
}

function showtimes(event, siblings) {
  if (siblings.length <= 1) return '';
  // The zone is said once when every date is in one, else on each date.
  const zone = Format.commonZone(siblings);
  const links = siblings.map((s) => {
    const current = s.id === event.id;
    const label = Format.when(s) + (s.venue ? ' ' + t('at {venue}', { venue: s.venue.name }) : '') + (current ? ' ' + t('(this one)') : '');
    const clock = Format.eventClock(s) + (zone ? '' : ' ' + Format.eventZoneLabel(s));
    return html`<a class="showtime" href="detail.html?id=${encodeURIComponent(s.id)}"${current ? html` aria-current="true"` : ''} aria-label="${label}">
      <strong data-event-time>${clock}</strong><small>${Format.eventDay(s)}</small></a>`;
  });
  return html`<section class="section" aria-labelledby="showtimes-title">
    <h2 id="showtimes-title">${event.category === 'movie' ? t('Showtimes') : t('Other dates')}</h2>
    ${zone ? html`<p class="small muted zone-note">${t("Times are {zone}, the venue's local time.", { zone: Format.eventZoneLabel(event) })}</p>` : ''}
    <div class="showtimes">${links}</div>
  </section>`;
}

/** On sale, not started, every seat taken: the waiting list is open. */
function soldOut(event) {
  return event.status !== 'canceled' && new Date(event.start_time).getTime() > Date.now() && event.seats_available === 0;
}

function tickets(event) {
  const avail = Data.availability(event);
  const tiers = Data.tiers(event.prices);
  const pct = event.seats_total ? Math.round((100 * event.seats_available) / event.seats_total) : 0;
  const started = new Date(event.start_time).getTime() <= Date.now();
  const canBook = event.status !== 'canceled' && !started && event.seats_available > 0;
  return html`<aside class="panel sticky-panel" aria-labelledby="prices-title">
    <h2 id="prices-title">${t('Tickets')}</h2>
    <table class="price-table"><caption class="visually-hidden">${t('Prices per seat tier')}</caption>
      <thead><tr><th scope="col">${t('Tier')}</th><th scope="col">${t('Price')}</th></tr></thead>
      <tbody>
        ${tiers.map(
          (t) => html`<tr><td><span class="tier-dot"${styled({ background: t.colour })}></span>${Format.label(t.tier)}</td>
            <td><strong>${Format.money(t.price_cents, event.currency)}</strong></td></tr>`,
        )}
      </tbody>
    </table>
    <p class="small muted flush">${t('Availability')}</p>
    <div class="availability-bar" role="img" aria-label="${t('{pct}% of seats free', { pct })}"><span${styled({ width: pct + '%' })}></span></div>
    <p class="small"><span class="pill pill-${avail.level}">${avail.text}</span></p>
    ${canBook
      ? html`<a class="btn btn-primary btn-lg btn-block" id="choose-seats" href="booking.html?event=${encodeURIComponent(event.id)}">${t('Choose seats')}</a>
        <p class="small muted book-note">${t('Pick seats on the live map; they are held for you while you pay.')}</p>`
      : html`<button class="btn btn-primary btn-lg btn-block" type="button" disabled>
        ${event.status === 'canceled' ? t('Canceled') : started ? t('Already started') : t('Sold out')}</button>`}
    ${soldOut(event) ? html`<section class="waitlist" id="waitlist" aria-labelledby="waitlist-title">
        <h3 id="waitlist-title">${t('Waiting list')}</h3><div id="waitlist-body"></div></section>` : ''}
  </aside>`;
}

function renderEvent(event, siblings) {
  const cat = Data.category(event.category);
  const venue = event.venue || {};
  const avail = Data.availability(event);
  UI.setTitle(event.name);
  const movie = event.category === 'movie';
  render(
    root,
    html`<p class="back-link"><a href="${movie ? 'movies.html' : 'events.html'}">&larr; ${movie ? t('All movies') : t('All events')}</a></p>
      <div class="detail">
        <div>
          ${UI.poster(event, 'poster-lg')}
          <p class="eyebrow detail-eyebrow">${cat.single}</p>
          <h1 id="event-name">${event.name}</h1>
          ${event.status === 'canceled'
            ? html`<div class="notice notice-warning">${UI.icon('alert')}
              <div><strong>${t('This event was canceled.')}</strong> ${t('Every booking was canceled and paid seats refunded.')}</div></div>`
            : ''}
          <div class="facts">
            ${fact('calendar', t('When'), html`<time datetime="${event.start_time}" data-event-time id="event-when">${Format.when(event)}</time>`)}
            ${fact('pin', t('Where'), html`${venue.id ? UI.venueLink(venue) : venue.name || ''}${venue.location ? html`<br><span class="muted small">${venue.location}</span>` : ''}`)}
            ${event.duration_minutes ? fact('clock', t('Duration'), Format.duration(event.duration_minutes)) : ''}
            ${fact('seat', t('Seats'), avail.text)}
          </div>
          ${event.description ? html`<p>${event.description}</p>` : ''}
          ${showtimes(event, siblings)}
        </div>
        ${tickets(event)}
      </div>`,
  );
}

const browseEvents = html`<p><a class="btn btn-primary" href="events.html">${t('Browse events')}</a></p>`;

async function load() {
  if (!id) {
    render(root, UI.emptyState(t('No event chosen'), t('Pick an event from the list.'), browseEvents));
    root.removeAttribute('aria-busy');
    return;
  }
  try {
    const event = await api.events.getEventById(id);
    let siblings = [event];
    try {
      const same = await api.events.getEvents({ q: event.name, category: event.category, limit: 100 });
      siblings = same.filter((e) => e.name === event.name);
      if (!siblings.some((e) => e.id === event.id)) siblings = [event].concat(siblings);
      siblings.sort((a, b) => String(a.start_time).localeCompare(String(b.start_time)));
    } catch (_) {
      siblings = [event];
    }
    renderEvent(event, siblings);
    if (soldOut(event)) showWaitlist(byId('waitlist-body'), event);
  } catch (error) {
    root.replaceChildren();
    if (UI.isMissingEvent(error)) {
      UI.setTitle(t('Event not found'));
      render(root, UI.eventNotFound());
    } else {
      UI.handleError(error);
    }
  } finally {
    root.removeAttribute('aria-busy');
  }
}

load();
