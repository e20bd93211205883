// Holds that run out, for real: the server keeps holds 8 s here (HOLD_TTL_SECONDS and
// PAYMENT_WINDOW_SECONDS), so the countdown on the payment and booking pages reaches zero, the
// page says so and offers to pick again, and the seats are free again.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  CUSTOMER,
  api,
  clearScreenshots,
  launchBrowser,
  newGuardedContext,
  screenshot,
  startServer,
  uiLogin,
} from '../lib/harness.mjs';

const PREFIX = 'expiry';
const LIMIT = { timeout: 60_000 };
const HOLD_SECONDS = 8;

describe('hold expiry', () => {
  let server;
  let browser;
  let guard;
  let page;
  let events;

  before(async () => {
    clearScreenshots(PREFIX);
    server = await startServer({ HOLD_TTL_SECONDS: String(HOLD_SECONDS), PAYMENT_WINDOW_SECONDS: String(HOLD_SECONDS) });
    browser = await launchBrowser();
    guard = await newGuardedContext(browser);
    page = await guard.context.newPage();
    events = await api(server.api, 'GET', '/events/events?category=movie&limit=10');
    await uiLogin(page, server.site, CUSTOMER);
  });

  after(async () => {
    await browser?.close();
    await server?.stop();
  });

  /** Picks two free seats of an event and reserves them; resolves with their ids on payment.html. */
  async function holdTwo(event) {
    await page.goto(`${server.site}/booking.html?event=${event.id}`);
    const free = page.locator('#seatmap .seat[data-status="available"]');
    await free.first().waitFor();
    const ids = await free.evaluateAll((seats) => seats.slice(0, 2).map((s) => s.dataset.seatId));
    for (const id of ids) await page.locator(`#seatmap [data-seat-id="${id}"]`).click();
    await page.locator('#reserve').click();
    await page.waitForURL(/\/payment\.html\?booking=/);
    return ids;
  }

  test('payment.html: the countdown runs out, the page says so and offers to pick again', LIMIT, async () => {
    const event = events[0];
    const ids = await holdTwo(event);
    const clock = page.locator('#hold-clock');
    await clock.waitFor();
    const [m, s] = (await clock.innerText()).split(':').map(Number);
    assert.ok(m * 60 + s <= HOLD_SECONDS, 'the countdown follows the booking’s expires_at');
    await page.getByRole('heading', { name: 'Time ran out for these seats' }).waitFor({ timeout: (HOLD_SECONDS + 5) * 1000 });
    await page.getByRole('alert').filter({ hasText: 'Your hold has expired' }).waitFor();
    await screenshot(page, PREFIX, 'payment-expired');

    await page.getByRole('link', { name: 'Pick seats again' }).click();
    await page.waitForURL(new RegExp(`/booking\\.html\\?event=${event.id}$`));
    for (const id of ids) await page.locator(`#seatmap [data-seat-id="${id}"][data-status="available"]`).waitFor();
  });

  test('booking.html: my hold shows with its countdown, then expires and frees the seats', LIMIT, async () => {
    const event = events[1];
    const ids = await holdTwo(event);
    await page.goto(`${server.site}/booking.html?event=${event.id}`);
    const box = page.locator('#hold-box');
    await box.getByRole('link', { name: 'Continue to payment' }).waitFor();
    await box.locator('#hold-clock').waitFor();
    assert.match(await box.innerText(), /You are holding Row [A-Z] seats \d+, \d+\./);
    for (const id of ids) assert.match(await page.locator(`#seatmap [data-seat-id="${id}"]`).getAttribute('aria-label'), /, held by you$/);
    await screenshot(page, PREFIX, 'booking-holding');

    await page.locator('#current-hold', { hasText: 'has expired' }).waitFor({ timeout: (HOLD_SECONDS + 5) * 1000 });
    for (const id of ids) await page.locator(`#seatmap [data-seat-id="${id}"][data-status="available"]`).waitFor();
    await screenshot(page, PREFIX, 'booking-expired');
  });

  test('no request left the machine and no page threw', LIMIT, async () => {
    assert.deepEqual(guard.blocked, []);
    assert.deepEqual(guard.pageErrors, []);
  });
});
