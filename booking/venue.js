// venue.html?id=<venue_id>: a venue's address with a link to it on OpenStreetMap (a plain link:
// no map tiles are loaded), its seats by tier, its clock, and what is on there: one card per film
// with its showtimes, one per other event, soonest first.
import { api } from './api.js';
import { Data, Format } from './data.js';
import { byId, html, render } from './dom.js';
import { t } from './i18n.js';
import * as UI from './ui.js';

const root = byId('venue');
const id = UI.param('id');
const browseEvents = html`<p><a class="btn btn-primary" href="events.html">${t('Browse events')}</a></p>`;

/** openstreetmap.org's search for the venue's address (its name when it has none). */
function mapLink(venue) {
  const place = venue.location || venue.name;
  return 'https://www.openstreetmap.org/search?query=' + encodeURIComponent(place);
}

/** "120 seats: 80 Standard, 40 VIP". */
function seatSummary(venue) {
  const tiers = new Map();
  (venue.seats || []).forEach((s) => tiers.set(s.tier, (tiers.get(s.tier) || 0) + 1));
  const parts = Array.from(tiers, ([tier, n]) => n + ' ' + Format.label(tier));
  if (parts.length < 2) return t('{n} seats', { n: venue.seat_count });
  return t('{n} seats: {tiers}', { n: venue.seat_count, tiers: parts.join(', ') });
}

function whatsOn(events) {
  if (!events.length) return UI.emptyState(t('Nothing on sale here right now'), t('Look at every venue’s events instead.'), browseEvents);
  const cards = new Map();
  events.forEach((e) => {
    const key = e.category === 'movie' ? 'film:' + e.name : 'event:' + e.id;
    if (!cards.has(key)) cards.set(key, []);
    cards.get(key).push(e);
  });
  return html`<div class="grid event-results" id="venue-events">
    ${Array.from(cards.values()).map((items) => (items[0].category === 'movie' ? UI.filmCard(items) : UI.eventCard(items[0])))}
  </div>`;
}

function renderVenue(venue, events) {
  UI.setTitle(venue.name);
  const kind = Data.venueKind(venue.kind);
  render(
    root,
    html`<p class="back-link"><a href="events.html">← ${t('All events')}</a></p>
      <div class="page-head venue-head">
        <p class="eyebrow">${kind.label}</p>
        <h1 id="venue-name">${venue.name}</h1>
      </div>
      <div class="facts venue-facts">
        <div class="fact">${UI.icon('pin')}<dl><dt>${t('Address')}</dt><dd><span id="venue-address">${venue.location || t('Address to be announced')}</span><br>
          <a id="venue-map" href="${mapLink(venue)}" rel="noopener" target="_blank">${t('Show on OpenStreetMap')}</a></dd></dl></div>
        <div class="fact">${UI.icon('seat')}<dl><dt>${t('Seats')}</dt><dd id="venue-seats">${seatSummary(venue)}</dd></dl></div>
        <div class="fact">${UI.icon('clock')}<dl><dt>${t('Local time')}</dt><dd>${t('Times here are {zone}', { zone: Format.zoneLabel(venue.time_zone) })}</dd></dl></div>
      </div>
      <section class="section" aria-labelledby="whats-on">
        <h2 id="whats-on">${t('What’s on')}</h2>
        ${whatsOn(events)}
      </section>`,
  );
}

async function load() {
  if (!id) {
    render(root, UI.emptyState(t('No venue chosen'), t('Pick a venue from an event.'), browseEvents));
    root.removeAttribute('aria-busy');
    return;
  }
  try {
    const [venue, events] = await Promise.all([
      api.events.getVenueById(id),
      api.events.getEvents({ venue_id: id, limit: 200 }),
    ]);
    renderVenue(venue, events);
  } catch (error) {
    root.replaceChildren();
    if (error.status === 404 || error.code === 'invalid_request') {
      render(root, UI.emptyState(t('We couldn’t find that venue'), t('This venue does not exist or the link is not complete.'), browseEvents));
    } else {
      UI.handleError(error);
    }
  } finally {
    root.removeAttribute('aria-busy');
  }
}

load();
