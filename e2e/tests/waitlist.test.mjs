// The waiting list in a browser (issue 20). An admin puts a two-seat event on sale and Ana holds
// both seats. Bob, on a 375 px phone, finds it sold out, joins its waiting list for one seat and
// sees his place; Ana gives one seat up, and the seat is held for Bob at once: his page shows the
// offer, he pays it through the usual payment page, and the panel then says he bought it.
// Screenshots of each step.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  ADMIN,
  CUSTOMER,
  api,
  apiLogin,
  clearScreenshots,
  horizontalOverflow,
  launchBrowser,
  newGuardedContext,
  screenshot,
  settled,
  startServer,
  uiLogin,
} from '../lib/harness.mjs';

const PREFIX = 'waitlist';
const LIMIT = { timeout: 120_000 };
const BOB = { email: 'bob.waitlist@proeventa.test', password: 'bob-waitlist-password-1', name: 'Bob Waitlist' };

describe('waiting list', () => {
  let server;
  let browser;
  let event;
  let held;
  let phone;
  let guard;

  before(async () => {
    clearScreenshots(PREFIX);
    server = await startServer();
    browser = await launchBrowser();
    const admin = await apiLogin(server.api, ADMIN);
    await api(server.api, 'POST', '/auth/signup', { body: BOB });
    const venue = await api(server.api, 'POST', '/events/venues', {
      token: admin,
      body: { name: 'Kleiner Saal', location: 'Hafenstraße 2, Hamburg', kind: 'hall', rows: [{ row: 'A', seats: 2 }] },
    });
    const start = new Date(Date.now() + 20 * 86_400_000).toISOString();
    event = await api(server.api, 'POST', '/events/events', {
      token: admin,
      body: {
        venue_id: venue.id,
        name: 'Sold Out Songs',
        category: 'concert',
        start_time: start,
        prices: [{ tier: 'standard', price_cents: 2500 }],
      },
    });
    const ana = await apiLogin(server.api, CUSTOMER);
    held = await api(server.api, 'POST', '/reservations/reservations/reserve', {
      token: ana,
      body: { event_id: event.id, seat_ids: venue.seats.map((s) => s.id) },
    });
    guard = await newGuardedContext(browser, { viewport: { width: 375, height: 740 }, isMobile: true, hasTouch: true });
    phone = await guard.context.newPage();
  });

  after(async () => {
    await browser?.close();
    await server?.stop();
  });

  test('a sold-out event: join, a cancellation elsewhere, the offer appears and is paid', LIMIT, async () => {
    const page = `detail.html?id=${event.id}`;
    await uiLogin(phone, server.site, BOB, page);
    await phone.locator('#waitlist-form').waitFor();
    await settled(phone);
    await screenshot(phone, PREFIX, 'sold-out');
    await phone.locator('#waitlist-seats').selectOption('1');
    await phone.locator('#waitlist-join').click();
    await phone.locator('#waitlist-status', { hasText: 'You are number 1 on the waiting list for 1 seat.' }).waitFor();
    const overflow = await horizontalOverflow(phone);
    assert.ok(overflow.scrollWidth <= overflow.clientWidth, `nothing scrolls sideways: ${JSON.stringify(overflow)}`);
    await screenshot(phone, PREFIX, 'on-the-list');

    // Ana gives one seat up: the store holds it for Bob in the same step.
    const ana = await apiLogin(server.api, CUSTOMER);
    await api(server.api, 'DELETE', `/reservations/reservations/${held.reservations[0].id}`, { token: ana });
    const seats = await api(server.api, 'GET', `/events/events/${event.id}/seats`);
    assert.ok(seats.every((s) => s.status !== 'available'), 'the freed seat never went back on sale');

    await phone.reload();
    await phone.locator('#waitlist-offer', { hasText: 'Seats are free for you!' }).waitFor();
    await settled(phone);
    await screenshot(phone, PREFIX, 'offer');
    await phone.locator('#waitlist-pay').click();
    await phone.waitForURL(/\/payment\.html\?booking=/);
    await phone.locator('#cardholder').fill(BOB.name);
    await phone.locator('#card-number').fill('4242 4242 4242 4242');
    await phone.locator('#card-exp').fill('12/30');
    await phone.locator('#card-cvc').fill('123');
    await phone.getByRole('button', { name: /^Pay / }).click();
    await phone.getByRole('heading', { name: /Payment successful/ }).waitFor();
    await screenshot(phone, PREFIX, 'paid');

    await phone.goto(`${server.site}/${page}`);
    await phone.locator('#waitlist-status', { hasText: 'You bought the seats the waiting list offered you.' }).waitFor();
    await screenshot(phone, PREFIX, 'bought');
    assert.deepEqual(guard.blocked, [], 'no request left the machine');
    assert.deepEqual(guard.pageErrors, [], 'no page error');
  });
});
