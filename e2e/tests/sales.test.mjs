// The Sales tab of admin.html (issue 21). An admin puts a six-seat event on sale (four standard
// seats at 25.00 EUR, two VIP at 35.00 EUR); Ana pays for a standard and a VIP seat and holds a
// second standard one, all through the API. The admin opens the Sales tab, picks the event and
// sees its figures (2 sold, 1 held, 3 available, 60.00 EUR), the tier table, one bar per hour of
// sales adding up to the two seats sold, the six seats coloured by status, and downloads the
// orders CSV: a header and a line per seat sold; below, every event's sales over the last 30
// days shows the event's two tickets and today's bar. Screenshots of each step.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
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

const PREFIX = 'sales';
const LIMIT = { timeout: 120_000 };

describe('sales dashboard', () => {
  let server;
  let browser;
  let event;
  let page;
  let guard;

  before(async () => {
    clearScreenshots(PREFIX);
    server = await startServer();
    browser = await launchBrowser();
    const admin = await apiLogin(server.api, ADMIN);
    const venue = await api(server.api, 'POST', '/events/venues', {
      token: admin,
      body: {
        name: 'Sales Hall',
        location: 'Report Road 1',
        kind: 'hall',
        rows: [
          { row: 'A', seats: 4, tier: 'standard' },
          { row: 'B', seats: 2, tier: 'vip' },
        ],
      },
    });
    const start = new Date(Date.now() + 20 * 86_400_000).toISOString();
    event = await api(server.api, 'POST', '/events/events', {
      token: admin,
      body: {
        venue_id: venue.id,
        name: 'Counting Night',
        category: 'concert',
        start_time: start,
        prices: [
          { tier: 'standard', price_cents: 2500 },
          { tier: 'vip', price_cents: 3500 },
        ],
      },
    });
    const seat = (row, n) => venue.seats.find((s) => s.row === row && s.seat_number === n).id;
    const ana = await apiLogin(server.api, CUSTOMER);
    const booking = await api(server.api, 'POST', '/reservations/reservations/reserve', {
      token: ana,
      body: { event_id: event.id, seat_ids: [seat('A', 1), seat('B', 1)] },
    });
    const payment = await api(server.api, 'POST', '/payments/checkout', { token: ana, body: { booking_id: booking.id } });
    await api(server.api, 'POST', `/payments/${payment.id}/confirm`, {
      token: ana,
      body: { card_number: '4242 4242 4242 4242', exp_month: 12, exp_year: new Date().getFullYear() + 2, cvc: '123' },
    });
    await api(server.api, 'POST', '/reservations/reservations/reserve', {
      token: ana,
      body: { event_id: event.id, seat_id: seat('A', 2) },
    });
    guard = await newGuardedContext(browser, { viewport: { width: 1280, height: 900 }, acceptDownloads: true });
    page = await guard.context.newPage();
  });

  after(async () => {
    await browser?.close();
    await server?.stop();
  });

  test('the Sales tab shows the figures, the hour chart, the occupancy and the orders CSV', LIMIT, async () => {
    await uiLogin(page, server.site, ADMIN, 'admin.html#sales');
    await page.locator('#panel-sales').waitFor();
    await page.locator('#sales-event').selectOption(event.id);
    const figure = (name) => page.locator(`[data-figure="${name}"] dd`);
    await figure('sold').filter({ hasText: /^2$/ }).waitFor();
    await settled(page);
    assert.equal(await figure('seats').textContent(), '6');
    assert.equal(await figure('held').textContent(), '1');
    assert.equal(await figure('available').textContent(), '3');
    assert.match(await figure('revenue').textContent(), /60\.00\s*EUR/);
    assert.match(await figure('refunded').textContent(), /0\.00\s*EUR/);

    const tier = (name) => page.locator(`.sales-tiers tr[data-tier="${name}"] td`).allTextContents();
    assert.deepEqual((await tier('standard')).slice(0, 4), ['4', '1', '1', '2']);
    assert.deepEqual((await tier('vip')).slice(0, 4), ['2', '1', '0', '1']);

    // The hand-drawn chart: a bar per hour, the hours' counts adding up to the seats sold, the
    // tallest bar the full height of the plot.
    const bars = page.locator('#sales-chart rect.sales-bar');
    const sold = (await bars.evaluateAll((rects) => rects.map((r) => Number(r.dataset.sold)))).reduce((a, b) => a + b, 0);
    assert.equal(sold, 2, 'the bars count the two seats sold');
    const heights = await bars.evaluateAll((rects) => rects.map((r) => Number(r.getAttribute('height'))));
    assert.ok(Math.max(...heights) > 0, `a bar is drawn: ${heights}`);

    // The occupancy picture: six seats, coloured by status.
    const statuses = await page
      .locator('#sales-occupancy rect.occ')
      .evaluateAll((rects) => rects.map((r) => r.dataset.status).sort());
    assert.deepEqual(statuses, ['available', 'available', 'available', 'held', 'sold', 'sold']);
    await screenshot(page, PREFIX, 'report');

    // Every event over the last 30 days (the default period): this event's two tickets, 60.00 EUR,
    // and today's bar counting them.
    const line = page.locator(`#sales-window-events tr[data-event="${event.id}"] td`);
    await line.first().waitFor();
    const cells = await line.allTextContents();
    assert.equal(cells[0], '2');
    assert.match(cells[1], /60\.00\s*EUR/);
    const today = new Date().toISOString().slice(0, 10);
    const todays = page.locator(`#sales-window-chart rect.sales-bar[data-day="${today}"]`);
    assert.ok(Number(await todays.getAttribute('data-sold')) >= 2, 'today\'s bar counts the sale');
    await page.locator('#sales-window-chart').scrollIntoViewIfNeeded();
    await screenshot(page, PREFIX, 'period');

    const [download] = await Promise.all([page.waitForEvent('download'), page.locator('#sales-csv').click()]);
    assert.match(download.suggestedFilename(), /^orders-[0-9a-f]{8}\.csv$/);
    const csv = fs.readFileSync(await download.path(), 'utf8').trim().split('\r\n');
    assert.equal(csv[0], 'booking_id,ticket_id,issued_at,row,seat,tier,price_cents,discount_cents,currency,holder_name,status,revoked_at');
    assert.equal(csv.length, 3, csv.join('\n'));
    assert.ok(csv.slice(1).every((line) => line.includes(',valid,')), csv.join('\n'));
    await screenshot(page, PREFIX, 'csv-downloaded');

    assert.deepEqual(guard.blocked, [], 'no request left the machine');
    assert.deepEqual(guard.pageErrors, [], 'no page error');
  });
});
