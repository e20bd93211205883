// Best available in a browser (issue 19). An admin puts an event of three rows on sale (A vip,
// B and C standard) and another buyer already holds A5. Ana, on the seat map, asks the "Best
// available" control for 2 seats of any tier: the two seats it holds are adjacent in one row
// (consecutive numbers), show on the map as hers and in the summary, and the hold box leads to
// payment. Then on a 375 px phone she asks for 2 standard seats: row B, and nothing scrolls
// sideways. Screenshots of each step.
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

const PREFIX = 'best-available';
const LIMIT = { timeout: 120_000 };
const BOB = { email: 'bob.best@proeventa.test', password: 'bob-best-password-1', name: 'Bob Best' };

describe('best available', () => {
  let server;
  let browser;
  let event;
  const guards = [];

  before(async () => {
    clearScreenshots(PREFIX);
    server = await startServer();
    browser = await launchBrowser();
    const admin = await apiLogin(server.api, ADMIN);
    const venue = await api(server.api, 'POST', '/events/venues', {
      token: admin,
      body: {
        name: 'Best Hall',
        location: 'Hafenstraße 3, Hamburg',
        kind: 'hall',
        rows: [
          { row: 'A', seats: 8, tier: 'vip' },
          { row: 'B', seats: 8, tier: 'standard' },
          { row: 'C', seats: 8, tier: 'standard' },
        ],
      },
    });
    const start = new Date(Date.now() + 20 * 86_400_000).toISOString();
    event = await api(server.api, 'POST', '/events/events', {
      token: admin,
      body: {
        venue_id: venue.id,
        name: 'Best Seats Night',
        category: 'concert',
        start_time: start,
        prices: [
          { tier: 'vip', price_cents: 6000 },
          { tier: 'standard', price_cents: 3000 },
        ],
      },
    });
    await api(server.api, 'POST', '/auth/signup', { body: BOB });
    const bob = await apiLogin(server.api, BOB);
    const a5 = venue.seats.find((s) => s.row === 'A' && s.seat_number === 5);
    await api(server.api, 'POST', '/reservations/reservations/reserve', {
      token: bob,
      body: { event_id: event.id, seat_id: a5.id },
    });
  });

  after(async () => {
    for (const g of guards) {
      assert.deepEqual(g.blocked, [], 'no request left the machine');
      assert.deepEqual(g.pageErrors, [], 'no page threw');
    }
    await browser?.close();
    await server?.stop();
  });

  /** The seats the map shows as the buyer's own hold: [{row, number}], in seat order. */
  async function mine(page) {
    const seats = await page.locator('#seatmap .seat[data-mine="true"]').evaluateAll((els) =>
      els.map((el) => ({ row: el.dataset.row, number: Number(el.dataset.number) })));
    return seats.sort((a, b) => a.row.localeCompare(b.row) || a.number - b.number);
  }

  test('two seats of any tier: adjacent in one row, on the map, in the summary, on to payment', LIMIT, async () => {
    const guard = await newGuardedContext(browser);
    guards.push(guard);
    const page = await guard.context.newPage();
    await uiLogin(page, server.site, CUSTOMER, `booking.html?event=${event.id}`);
    await page.locator('#best-form').waitFor();
    await page.locator('#seatmap .seat').first().waitFor();
    await settled(page);
    await screenshot(page, PREFIX, 'control');
    assert.equal(await page.locator('#best-count').inputValue(), '2', 'two seats unless told otherwise');
    await page.locator('#best-find').click();
    await page.locator('#found-seats li').nth(1).waitFor();
    await page.waitForFunction(() => document.querySelectorAll('#seatmap .seat[data-mine="true"]').length === 2);
    const held = await mine(page);
    assert.equal(held.length, 2);
    assert.equal(held[0].row, held[1].row, 'one row');
    assert.equal(held[1].number, held[0].number + 1, 'adjacent seats');
    // Row A (vip) has 1-4 and 6-8 free; the middle pair that leaves no seat alone is A3-A4.
    assert.deepEqual(held, [{ row: 'A', number: 3 }, { row: 'A', number: 4 }]);
    await page.locator('#hold-box', { hasText: 'You are holding' }).waitFor();
    const summary = await page.locator('#found-seats').innerText();
    assert.match(summary, /Row A seat 3/);
    assert.match(summary, /Row A seat 4/);
    assert.match(await page.locator('#summary-total').innerText(), /120/);
    await settled(page);
    await screenshot(page, PREFIX, 'found');
    await page.locator('#hold-box a', { hasText: 'Continue to payment' }).click();
    await page.waitForURL(/payment\.html\?booking=/);
    await page.locator('text=Row A').first().waitFor();
    await settled(page);
    await screenshot(page, PREFIX, 'payment');
  });

  test('two standard seats on a 375 px phone: row B, nothing scrolls sideways', LIMIT, async () => {
    const guard = await newGuardedContext(browser, { viewport: { width: 375, height: 740 }, isMobile: true, hasTouch: true });
    guards.push(guard);
    const phone = await guard.context.newPage();
    await uiLogin(phone, server.site, BOB, `booking.html?event=${event.id}`);
    await phone.locator('#seatmap .seat').first().waitFor();
    await phone.locator('#best-tier').selectOption('standard');
    await phone.locator('#best-find').click();
    await phone.waitForFunction(() => document.querySelectorAll('#seatmap .seat[data-mine="true"]').length >= 2);
    const held = await mine(phone);
    // Bob's own A5 is a hold of his too; the pair found is in row B.
    const rowB = held.filter((s) => s.row === 'B');
    assert.deepEqual(rowB, [{ row: 'B', number: 4 }, { row: 'B', number: 5 }]);
    const overflow = await horizontalOverflow(phone);
    assert.ok(overflow.scrollWidth <= overflow.clientWidth, `nothing scrolls sideways: ${JSON.stringify(overflow)}`);
    await settled(phone);
    await screenshot(phone, PREFIX, 'phone-standard');
  });
});
