// Finding events, on a 1280 px desktop and a 375 px phone: events.html shows one card per film
// with all its showtimes, sorts by name, keeps to the next 7 days on each venue's own clock, keeps
// to one city, finds "Hamlet" from the typo "Hamlte"; a card's venue link opens venue.html with
// the address, an OpenStreetMap link (a plain link: nothing is loaded from it), the seat count
// and what is on there. The expected sets are worked out from the API's answers and Node's Intl,
// not with the site's code.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  api,
  clearScreenshots,
  horizontalOverflow,
  launchBrowser,
  newGuardedContext,
  screenshot,
  settled,
  startServer,
} from '../lib/harness.mjs';

const PREFIX = 'discovery';
const LIMIT = { timeout: 90_000 };
const SCREENS = [
  { name: 'desktop', options: { viewport: { width: 1280, height: 900 } } },
  { name: 'phone', options: { viewport: { width: 375, height: 812 }, isMobile: true, hasTouch: true, deviceScaleFactor: 1 } },
];

/** "2026-12-12": an instant's day on the clock of `timeZone`. */
function dayIn(instant, timeZone) {
  return new Intl.DateTimeFormat('en-CA', { timeZone, year: 'numeric', month: '2-digit', day: '2-digit' }).format(new Date(instant));
}

/** "2026-12-12" + n days. */
function plusDays(day, n) {
  const [y, m, d] = day.split('-').map(Number);
  return new Date(Date.UTC(y, m - 1, d + n)).toISOString().slice(0, 10);
}

/** The event ids a results list shows: its event cards' and its films' showtimes'. */
async function shownIds(page) {
  return page.evaluate(() => {
    const list = document.getElementById('event-list');
    const cards = Array.from(list.querySelectorAll('.event-card')).map((c) => c.dataset.eventId);
    const showtimes = Array.from(list.querySelectorAll('.movie a.showtime')).map((a) => new URL(a.href).searchParams.get('event'));
    return cards.concat(showtimes).sort();
  });
}

async function cardTitles(page) {
  return (await page.locator('#event-list .card-title').allTextContents()).map((t) => t.trim());
}

describe('finding events: films grouped, sort, dates, city, typo search, venue page', () => {
  let server;
  let browser;
  const guards = [];
  let events;

  before(async () => {
    clearScreenshots(PREFIX);
    server = await startServer();
    browser = await launchBrowser();
    events = await api(server.api, 'GET', '/events/events?limit=200');
    assert.ok(events.some((e) => e.category === 'movie'), 'the demo has films');
  });

  after(async () => {
    await browser?.close();
    await server?.stop();
  });

  for (const screen of SCREENS) {
    test(`on a ${screen.name}`, LIMIT, async () => {
      const guard = await newGuardedContext(browser, screen.options);
      guards.push(guard);
      const page = await guard.context.newPage();
      const shot = (name) => screenshot(page, PREFIX, `${screen.name}-${name}`);

      // One card per film, holding every showtime of it; every other event its own card.
      await page.goto(`${server.site}/events.html`);
      await page.locator('#event-list .movie').first().waitFor();
      await settled(page);
      const films = new Map();
      events.filter((e) => e.category === 'movie').forEach((e) => films.set(e.name, (films.get(e.name) || 0) + 1));
      for (const [name, showtimes] of films) {
        const card = page.locator(`#event-list .movie[data-movie="${name}"]`);
        assert.equal(await card.count(), 1, `one card for ${name}`);
        assert.equal(await card.locator('a.showtime').count(), showtimes, `every showtime of ${name}`);
      }
      assert.equal(await page.locator('#event-list .card').count(), films.size + events.filter((e) => e.category !== 'movie').length);
      assert.deepEqual(await shownIds(page), events.map((e) => e.id).sort());
      if (screen.name === 'phone') {
        const overflow = await horizontalOverflow(page);
        assert.ok(overflow.scrollWidth <= overflow.clientWidth, `nothing scrolls sideways: ${JSON.stringify(overflow)}`);
      }
      await shot('grouped');

      // Without a search the default order is the soonest first, and the sort menu says so.
      const defaultSort = page.locator('#filter-sort option[value=""]');
      assert.equal((await defaultSort.textContent()).trim(), 'Soonest first');

      // Sorted by name: the cards' titles in alphabetical order.
      await page.locator('#filter-sort').selectOption('name');
      await page.waitForURL(/sort=name/);
      await settled(page);
      const titles = await cardTitles(page);
      const sorted = titles.slice().sort((a, b) => a.toLowerCase().localeCompare(b.toLowerCase()));
      assert.deepEqual(titles, sorted, 'titles A to Z');
      await shot('by-name');

      // Next 7 days: today and the six days after, each event on its own venue's clock.
      await page.getByRole('button', { name: 'Next 7 days' }).click();
      await page.waitForURL(/when=week/);
      await settled(page);
      const week = events
        .filter((e) => {
          const today = dayIn(new Date(), e.venue.time_zone);
          const day = dayIn(e.start_time, e.venue.time_zone);
          return day >= today && day <= plusDays(today, 6);
        })
        .map((e) => e.id)
        .sort();
      assert.ok(week.length > 0 && week.length < events.length, 'the demo has events inside and outside the week');
      assert.deepEqual(await shownIds(page), week);
      assert.equal(await page.getByRole('button', { name: 'Next 7 days' }).getAttribute('aria-pressed'), 'true');
      await shot('next-7-days');

      // One city: Hamburg's venue only (the shortcut cleared first).
      await page.getByRole('button', { name: 'Any date' }).click();
      await settled(page);
      await page.locator('#filter-city').selectOption('Hamburg');
      await page.waitForURL(/city=Hamburg/);
      await settled(page);
      const inHamburg = events.filter((e) => e.venue.location.endsWith('Hamburg')).map((e) => e.id).sort();
      assert.ok(inHamburg.length > 0);
      assert.deepEqual(await shownIds(page), inHamburg);
      await shot('hamburg');

      // A typo still finds the play, first.
      await page.goto(`${server.site}/events.html`);
      await settled(page);
      await page.locator('#filter-q').fill('Hamlte');
      assert.equal((await defaultSort.textContent()).trim(), 'Best match', 'a search is ordered by the best match');
      await page.locator('#event-filters').getByRole('button', { name: 'Search' }).click();
      await page.waitForURL(/q=Hamlte/);
      await settled(page);
      const found = await cardTitles(page);
      assert.equal(found[0], 'Hamlet', `Hamlet first: ${found.join(', ')}`);
      await shot('typo');

      // The venue page, from a card's venue link.
      const concert = events.find((e) => e.venue.location.endsWith('Hamburg'));
      await page.goto(`${server.site}/events.html?city=Hamburg`);
      await settled(page);
      await page.locator(`.event-card[data-event-id="${concert.id}"] .venue-link`).click();
      await page.waitForURL(/venue\.html\?id=/);
      await settled(page);
      const venue = await api(server.api, 'GET', `/events/venues/${concert.venue.id}`);
      assert.equal((await page.locator('#venue-name').textContent()).trim(), venue.name);
      assert.equal((await page.locator('#venue-address').textContent()).trim(), venue.location);
      const map = await page.locator('#venue-map').getAttribute('href');
      assert.equal(map, `https://www.openstreetmap.org/search?query=${encodeURIComponent(venue.location)}`);
      assert.match(await page.locator('#venue-seats').textContent(), new RegExp(`^${venue.seat_count} seats`));
      const here = (await page.locator('#venue-events .event-card').evaluateAll((cards) => cards.map((c) => c.dataset.eventId))).sort();
      assert.deepEqual(here, events.filter((e) => e.venue.id === venue.id).map((e) => e.id).sort(), "what's on there");
      if (screen.name === 'phone') {
        const overflow = await horizontalOverflow(page);
        assert.ok(overflow.scrollWidth <= overflow.clientWidth, `nothing scrolls sideways: ${JSON.stringify(overflow)}`);
      }
      await shot('venue');
    });
  }

  test('no request left the machine and no page threw', LIMIT, async () => {
    assert.ok(guards.length > 0);
    for (const guard of guards) {
      assert.deepEqual(guard.blocked, []);
      assert.deepEqual(guard.pageErrors, []);
    }
  });
});
