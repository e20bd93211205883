// Every page at phone width (375 px): it loads, and nothing scrolls sideways
// (document.documentElement.scrollWidth <= 375); the browsing pages on a desktop too.
// Screenshots of each for a person to look at.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  ADMIN,
  CUSTOMER,
  api,
  clearScreenshots,
  horizontalOverflow,
  launchBrowser,
  newGuardedContext,
  screenshot,
  settled,
  startServer,
  uiLogin,
} from '../lib/harness.mjs';

const PREFIX = 'mobile';
const LIMIT = { timeout: 60_000 };
const WIDTH = 375;

describe('phone width (375 px)', () => {
  let server;
  let browser;
  let guard;
  let page;
  let movie;
  let arenaEvent;

  before(async () => {
    clearScreenshots(PREFIX);
    clearScreenshots('desktop');
    server = await startServer();
    browser = await launchBrowser();
    guard = await newGuardedContext(browser, { viewport: { width: WIDTH, height: 812 }, isMobile: true, hasTouch: true, deviceScaleFactor: 1 });
    page = await guard.context.newPage();
    const events = await api(server.api, 'GET', '/events/events?limit=200');
    movie = events.find((e) => e.category === 'movie');
    arenaEvent = events.find((e) => e.venue.kind === 'arena'); // the widest seat map
  });

  after(async () => {
    await browser?.close();
    await server?.stop();
  });

  async function check(name, ready) {
    await ready();
    await settled(page);
    const o = await horizontalOverflow(page);
    await screenshot(page, PREFIX, name);
    assert.ok(o.scrollWidth <= WIDTH, `${name}: page is ${o.scrollWidth} px wide at ${WIDTH} px; too wide: ${o.widest.join(', ')}`);
  }

  const anonymous = [
    ['home', 'Home.html', () => page.locator('#featured-events .event-card').first().waitFor()],
    ['movies', 'movies.html', () => page.locator('.movie .showtime').first().waitFor()],
    ['events', 'events.html', () => page.locator('#event-list .event-card').first().waitFor()],
    ['venues', 'theatres.html', () => page.locator('.venue-card').first().waitFor()],
    ['login', 'login.html', () => page.locator('#login-form').waitFor()],
  ];
  for (const [name, path, ready] of anonymous) {
    test(`${path} fits`, LIMIT, async () => {
      await page.goto(`${server.site}/${path}`);
      await check(name, ready);
    });
  }

  test('detail.html fits', LIMIT, async () => {
    await page.goto(`${server.site}/detail.html?id=${movie.id}`);
    await check('detail', () => page.getByRole('link', { name: 'Choose seats' }).waitFor());
  });

  test('booking.html fits, even with the widest hall (the map scrolls inside its own box)', LIMIT, async () => {
    await page.goto(`${server.site}/booking.html?event=${arenaEvent.id}`);
    await check('booking-arena', () => page.locator('#seatmap .seat').first().waitFor());
    // The key stays compact, so the first row of seats is in the first screen, above the sticky total.
    const { seatBottom, visible } = await page.evaluate(() => ({
      seatBottom: document.querySelector('#seatmap .seat').getBoundingClientRect().bottom + window.scrollY,
      visible: window.innerHeight - document.querySelector('.summary').getBoundingClientRect().height,
    }));
    assert.ok(seatBottom <= visible, `the first seats end at ${Math.round(seatBottom)} px, below the first screen's ${Math.round(visible)} px`);
    // The arena's three tiers are told apart by the seats' shape, not by their colour alone.
    const shapes = await page.evaluate(() => {
      const byTier = new Map();
      for (const seat of document.querySelectorAll('#seatmap .seat')) {
        const style = getComputedStyle(seat);
        byTier.set(seat.dataset.tierShape, `${style.borderTopLeftRadius} ${style.borderTopStyle}`);
      }
      return Array.from(byTier.values());
    });
    assert.equal(shapes.length, 3, `three tiers: ${shapes}`);
    assert.equal(new Set(shapes).size, 3, `each tier its own shape: ${shapes}`);
    await page.locator('#seatmap .seat[data-status="available"]').nth(30).click();
    await page.locator('#summary-body li').first().waitFor();
    await check('booking-picked', () => page.locator('#reserve:not([disabled])').waitFor());
  });

  test('profile.html and payment.html fit', LIMIT, async () => {
    await uiLogin(page, server.site, CUSTOMER);
    const token = await page.evaluate(() => localStorage.getItem('proeventa.token'));
    const seats = await api(server.api, 'GET', `/events/events/${movie.id}/seats`);
    const booking = await api(server.api, 'POST', '/reservations/reservations/reserve', {
      token,
      body: { event_id: movie.id, seat_ids: seats.slice(0, 3).map((s) => s.seat_id) },
    });
    await page.goto(`${server.site}/payment.html?booking=${booking.id}`);
    await check('payment', () => page.locator('#card-form').waitFor());
    await page.goto(`${server.site}/profile.html`);
    await check('profile', () => page.locator(`.booking-card[data-booking-id="${booking.id}"]`).waitFor());
  });

  test('admin.html fits, every tab', LIMIT, async () => {
    await page.getByRole('button', { name: 'Log out' }).click();
    await page.waitForURL(/\/Home\.html$/);
    await uiLogin(page, server.site, ADMIN, 'admin.html');
    await check('admin-events', () => page.locator('#admin-events .list-item').first().waitFor());
    await page.getByRole('tab', { name: 'Venues' }).click();
    await check('admin-venues', () => page.locator('#admin-venues .list-item').first().waitFor());
    await page.getByRole('tab', { name: 'Users' }).click();
    await check('admin-users', () => page.locator('#admin-users .list-item').first().waitFor());
    await page.getByRole('tab', { name: 'Reservations' }).click();
    await check('admin-reservations', () => page.locator('#admin-reservations .list-item').first().waitFor());
  });

  test('checkin.html fits: the door, opened by the admin', LIMIT, async () => {
    await page.goto(`${server.site}/checkin.html`);
    await check('door-setup', () => page.locator('#door-event option').first().waitFor({ state: 'attached' }));
    await page.getByRole('button', { name: 'Open the door' }).click();
    await check('door', () => page.locator('#count-sold', { hasText: /^\d+$/ }).waitFor());
  });

  test('the browsing pages on a desktop (1280 px)', LIMIT, async () => {
    const desktop = await newGuardedContext(browser, { viewport: { width: 1280, height: 900 } });
    const p = await desktop.context.newPage();
    const pages = [
      ['movies', 'movies.html', () => p.locator('.movie .showtime').first().waitFor()],
      ['events', 'events.html?category=concert', () => p.locator('#event-list .event-card').first().waitFor()],
      ['venues', 'theatres.html', () => p.locator('.venue-card .venue-events').first().waitFor()],
      ['login', 'login.html', () => p.locator('#login-form').waitFor()],
    ];
    for (const [name, path, ready] of pages) {
      await p.goto(`${server.site}/${path}`);
      await ready();
      await settled(p);
      const o = await horizontalOverflow(p);
      await screenshot(p, 'desktop', name);
      assert.ok(o.scrollWidth <= 1280, `${name} is ${o.scrollWidth} px wide at 1280 px`);
    }
    assert.deepEqual(desktop.blocked, []);
    assert.deepEqual(desktop.pageErrors, []);
    await desktop.context.close();
  });

  test('no request left the machine and no page threw', LIMIT, async () => {
    assert.deepEqual(guard.blocked, []);
    assert.deepEqual(guard.pageErrors, []);
  });
});
