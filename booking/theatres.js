// theatres.html: every venue with its kind, address and size, and the next events there.
import { api } from './api.js';
import { Data, Format } from './data.js';
import { byId, html, render } from './dom.js';
import { t } from './i18n.js';
import * as UI from './ui.js';

const list = byId('venue-list');

function upcomingList(venue, events) {
  const upcoming = events.slice(0, 4);
  if (!upcoming.length) return html`<p class="muted small">${t('Nothing on sale here right now.')}</p>`;
  const all = (venue.kind === 'cinema' ? 'movies.html?venue_id=' : 'events.html?venue_id=') + encodeURIComponent(venue.id);
  return html`<h3 class="small muted venue-next-title">${t('Next up')}</h3>
    <ul class="venue-events">
      ${upcoming.map(
        (e) => html`<li><a href="detail.html?id=${encodeURIComponent(e.id)}"><span>${e.name}</span><span>
          <time datetime="${e.start_time}" data-event-time>${Format.whenShort(e)}</time></span></a></li>`,
      )}
    </ul>
    ${events.length > upcoming.length ? html`<a class="small" href="${all}">${t('All {n} events here', { n: events.length })}</a>` : ''}`;
}

function venueCard(venue, events) {
  const kind = Data.venueKind(venue.kind);
  return html`<article class="card venue-card" id="venue-${venue.id}" tabindex="-1">
    ${UI.poster({ name: venue.name, category: venue.kind === 'cinema' ? 'movie' : venue.kind === 'arena' ? 'concert' : 'theatre' })}
    <div class="card-body">
      <p class="eyebrow">${kind.label}</p>
      <h2 class="card-title">${venue.name}</h2>
      <p class="meta">${UI.icon('pin')}<span>${venue.location || t('Address to be announced')}</span></p>
      <p class="meta">${UI.icon('seat')}<span>${t('{n} seats', { n: venue.seat_count })}</span></p>
      <p class="meta">${UI.icon('clock')}<span>${t('Times in {zone}', { zone: Format.zoneLabel(venue.time_zone) })}</span></p>
      ${upcomingList(venue, events)}
    </div>
  </article>`;
}

async function load() {
  render(list, UI.skeletons(3));
  try {
    const [venues, events] = await Promise.all([api.events.getVenues(), api.events.getEvents({ limit: 200 })]);
    if (!venues.length) {
      render(list, UI.emptyState(t('No venues yet'), t('Venues appear here once they are added.')));
      return;
    }
    render(
      list,
      venues.map((v) => venueCard(v, events.filter((e) => e.venue_id === v.id))),
    );
    if (location.hash) {
      const target = document.getElementById(location.hash.slice(1));
      if (target) {
        target.scrollIntoView({ block: 'start' });
        target.focus({ preventScroll: true });
      }
    }
  } catch (error) {
    list.replaceChildren();
    UI.handleError(error);
  } finally {
    list.removeAttribute('aria-busy');
  }
}

load();
