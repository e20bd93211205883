// A checkout that cannot surprise (issue 22), on a 375 px phone and a desktop: the countdown stays
// in view, warns at two minutes and at thirty seconds (visibly and through a polite live region)
// and offers the booking's one extension; the order summary comes before Pay on a phone; the
// test-card box follows GET /payments/config; a garbage event link and a missing page read as
// human pages; an admin's cancel-and-refund and disable ask first, naming the consequence.
// Holds last 40 s here (HOLD_TTL_SECONDS, PAYMENT_WINDOW_SECONDS), so both warnings come within
// the test; the extension adds 60 s (HOLD_EXTENSION_SECONDS).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  ADMIN,
  CUSTOMER,
  api,
  apiLogin,
  clearScreenshots,
  launchBrowser,
  newGuardedContext,
  screenshot,
  settled,
  startServer,
  uiLogin,
} from '../lib/harness.mjs';

const PREFIX = 'checkout';
const LIMIT = { timeout: 90_000 };
const HOLD_SECONDS = 40;
const EXTENSION_SECONDS = 60;

/** Seconds shown by the countdown ("0:37" → 37). */
async function secondsLeft(page) {
  const [m, s] = (await page.locator('#hold-clock').innerText()).split(':').map(Number);
  return m * 60 + s;
}

describe('checkout', () => {
  let server;
  let browser;
  let guard;
  let phone;
  let desktop;
  let events;

  before(async () => {
    clearScreenshots(PREFIX);
    server = await startServer({
      HOLD_TTL_SECONDS: String(HOLD_SECONDS),
      PAYMENT_WINDOW_SECONDS: String(HOLD_SECONDS),
      HOLD_EXTENSION_SECONDS: String(EXTENSION_SECONDS),
    });
    browser = await launchBrowser();
    guard = await newGuardedContext(browser, { viewport: { width: 375, height: 740 }, isMobile: true, hasTouch: true });
    phone = await guard.context.newPage();
    events = await api(server.api, 'GET', '/events/events?category=movie&limit=10');
    await uiLogin(phone, server.site, CUSTOMER);
  });

  after(async () => {
    await browser?.close();
    await server?.stop();
  });

  /** Holds two free seats of `event` through the seat map; resolves on payment.html. */
  async function holdTwo(page, event) {
    await page.goto(`${server.site}/booking.html?event=${event.id}`);
    const free = page.locator('#seatmap .seat[data-status="available"]');
    await free.first().waitFor();
    const ids = await free.evaluateAll((seats) => seats.slice(0, 2).map((s) => s.dataset.seatId));
    for (const id of ids) await page.locator(`#seatmap [data-seat-id="${id}"]`).click();
    await page.locator('#reserve').click();
    await page.waitForURL(/\/payment\.html\?booking=/);
    await page.locator('#hold-clock').waitFor();
    return new URL(page.url()).searchParams.get('booking');
  }

  test('phone: the countdown stays in view, warns twice, and is extended once', LIMIT, async () => {
    const bookingId = await holdTwo(phone, events[0]);
    // What is bought comes before the Pay button on a phone.
    const summary = await phone.locator('#order-title').boundingBox();
    const pay = await phone.locator('#pay-button').boundingBox();
    assert.ok(summary.y < pay.y, `the order summary (${summary.y}) is above Pay (${pay.y})`);
    // Less than two minutes from the start: the first warning, in the polite live region.
    const warning = phone.locator('#hold-warning');
    assert.equal(await warning.getAttribute('aria-live'), 'polite');
    await warning.filter({ hasText: 'Two minutes left' }).waitFor();
    // Scrolled to the Pay button, the countdown is still on screen.
    await phone.locator('#pay-button').scrollIntoViewIfNeeded();
    const clock = await phone.locator('#hold-box').boundingBox();
    assert.ok(clock.y >= 0 && clock.y < 740, `the countdown stays in view (top ${clock.y})`);
    await screenshot(phone, PREFIX, 'phone-two-minutes');

    await warning.filter({ hasText: 'Thirty seconds left' }).waitFor({ timeout: HOLD_SECONDS * 1000 });
    await screenshot(phone, PREFIX, 'phone-thirty-seconds');
    const before = await secondsLeft(phone);
    assert.ok(before <= 30, `warned at ${before} s left`);

    await phone.getByRole('button', { name: 'More time' }).click();
    await warning.filter({ hasText: 'held a little longer' }).waitFor();
    const afterExtension = await secondsLeft(phone);
    assert.ok(afterExtension >= before + EXTENSION_SECONDS - 3, `extended from ${before} s to ${afterExtension} s`);
    assert.equal(await phone.getByRole('button', { name: 'More time' }).count(), 0, 'one extension only');
    await screenshot(phone, PREFIX, 'phone-extended');

    // The store refuses a second one, whatever the page shows.
    const token = await apiLogin(server.api, CUSTOMER);
    const second = await fetch(`${server.api}/reservations/bookings/${bookingId}/extend`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: '{}',
    });
    assert.equal(second.status, 409);
    assert.equal((await second.json()).error, 'extension_used');
  });

  test('the test-card box follows /payments/config', LIMIT, async () => {
    const page = await guard.context.newPage();
    // The simulated provider (the only one built in) says test mode: the box is there.
    const config = await api(server.api, 'GET', '/payments/config');
    assert.deepEqual(config, { provider: 'simulated', test_mode: true });
    const bookingId = await holdTwo(page, events[1]);
    await page.locator('#test-cards').waitFor();

    // A provider that moves real money: no test cards, whatever the page knows.
    await page.route('**/payments/config', (route) =>
      route.fulfill({ status: 200, contentType: 'application/json', body: JSON.stringify({ provider: 'stripe', test_mode: false }) }),
    );
    await page.goto(`${server.site}/payment.html?booking=${bookingId}`);
    await page.locator('#pay-button').waitFor();
    assert.equal(await page.locator('#test-cards').count(), 0, 'no test cards outside test mode');
    await screenshot(page, PREFIX, 'no-test-cards');
    await page.close();
  });

  test('a garbage event link and a missing page read as human pages', LIMIT, async () => {
    const page = await guard.context.newPage();
    await page.goto(`${server.site}/detail.html?id=not-an-event`);
    await page.getByRole('heading', { name: "We couldn't find that event" }).waitFor();
    assert.doesNotMatch(await page.locator('main').innerText(), /UUID|pars|Malformed/i);
    await page.getByRole('link', { name: 'Browse events' }).waitFor();
    await screenshot(page, PREFIX, 'detail-garbage-link');

    await page.goto(`${server.site}/booking.html?event=00000000-0000-0000-0000-000000000000`);
    await page.getByRole('heading', { name: "We couldn't find that event" }).waitFor();

    const response = await page.goto(`${server.site}/no-such-page.html`);
    assert.equal(response.status(), 404);
    await page.getByRole('heading', { name: "We couldn't find that page" }).waitFor();
    await screenshot(page, PREFIX, 'site-404');
    await page.close();
  });

  test('desktop admin: cancel and refund, and disable, ask first', LIMIT, async () => {
    const adminGuard = await newGuardedContext(browser, { viewport: { width: 1280, height: 900 } });
    const page = await adminGuard.context.newPage();
    // A paid seat of the customer's, newest of all reservations.
    const token = await apiLogin(server.api, CUSTOMER);
    const seats = await api(server.api, 'GET', `/events/events/${events[2].id}/seats`);
    const free = seats.filter((s) => s.status === 'available').slice(0, 1).map((s) => s.seat_id || s.id);
    const booking = await api(server.api, 'POST', '/reservations/reservations/reserve', { token, body: { event_id: events[2].id, seat_ids: free } });
    const payment = await api(server.api, 'POST', '/payments/checkout', { token, body: { booking_id: booking.id } });
    const card = { card_number: '4242424242424242', exp_month: 12, exp_year: new Date().getFullYear() + 2, cvc: '123' };
    await api(server.api, 'POST', `/payments/${payment.id}/confirm`, { token, body: card });

    await uiLogin(page, server.site, ADMIN, 'admin.html');
    await page.getByRole('tab', { name: 'Reservations' }).click();
    const item = page.locator(`[data-reservation-id="${booking.reservations[0].id}"]`);
    await item.getByRole('button', { name: 'Cancel and refund' }).click();
    const question = item.locator('.confirm-box');
    await question.waitFor();
    const amount = (booking.total_cents / 100).toFixed(2);
    assert.match(await question.innerText(), new RegExp(`refund .*${amount.replace('.', '[.,]')}`), 'the question names the refund');
    await screenshot(page, PREFIX, 'admin-cancel-asks');
    await question.getByRole('button', { name: 'Keep it' }).click();
    const kept = await api(server.api, 'GET', `/reservations/bookings/${booking.id}`, { token });
    assert.equal(kept.status, 'confirmed', 'nothing was canceled before the admin said yes');

    await item.getByRole('button', { name: 'Cancel and refund' }).click();
    await item.getByRole('button', { name: 'Yes, cancel and refund' }).click();
    await page.getByRole('status').filter({ hasText: 'is refunded' }).waitFor();
    const canceled = await api(server.api, 'GET', `/reservations/bookings/${booking.id}`, { token });
    assert.equal(canceled.status, 'canceled');

    await page.getByRole('tab', { name: 'Users' }).click();
    const user = page.locator('[data-user-id]').filter({ hasText: CUSTOMER.email });
    await user.getByRole('button', { name: 'Disable' }).click();
    await user.locator('.confirm-box').filter({ hasText: 'logged out everywhere' }).waitFor();
    await screenshot(page, PREFIX, 'admin-disable-asks');
    await user.getByRole('button', { name: 'Keep it' }).click();
    assert.equal(await user.locator('.confirm-box').count(), 0);
    await apiLogin(server.api, CUSTOMER); // still enabled

    assert.deepEqual(adminGuard.blocked, []);
    assert.deepEqual(adminGuard.pageErrors, []);
    await adminGuard.context.close();
  });

  test('no request left the machine and no page threw', LIMIT, async () => {
    assert.deepEqual(guard.blocked, []);
    assert.deepEqual(guard.pageErrors, []);
  });
});
