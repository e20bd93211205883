// The Webhooks tab of admin.html (issue 21). A receiver runs in this test on a free loopback port
// and checks every delivery's signature (HMAC-SHA256 of "<t>.<body>" with the secret). The admin
// registers it on the tab (a secret too short refused first), Ana pays for a seat through the
// API, and the server's delivery task posts the booking.confirmed event within seconds. The
// admin opens the endpoint's deliveries (delivered, answered 204), replays it, and the receiver
// gets the same event id again. Screenshots of each step.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import http from 'node:http';
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
  waitUntil,
} from '../lib/harness.mjs';

const PREFIX = 'webhooks';
const LIMIT = { timeout: 120_000 };
const SECRET = 'e2e-receiver-secret-0123456789';

/** The check README.md documents for receivers, in Node. */
function verify(secret, header, body, tolerance = 300) {
  const parts = Object.fromEntries(header.split(',').map((p) => p.split('=', 2)));
  const expected = crypto.createHmac('sha256', secret).update(`${parts.t}.`).update(body).digest();
  const given = Buffer.from(parts.v1 ?? '', 'hex');
  return given.length === expected.length && crypto.timingSafeEqual(given, expected)
    && Math.abs(Date.now() / 1000 - Number(parts.t)) <= tolerance;
}

describe('webhooks tab', () => {
  let server;
  let browser;
  let page;
  let guard;
  let receiver;
  const received = [];
  let badSignatures = 0;

  before(async () => {
    clearScreenshots(PREFIX);
    receiver = http.createServer((req, res) => {
      const chunks = [];
      req.on('data', (c) => chunks.push(c));
      req.on('end', () => {
        const body = Buffer.concat(chunks);
        if (!verify(SECRET, String(req.headers['x-proeventa-signature'] || ''), body)) {
          badSignatures += 1;
          res.writeHead(401).end();
          return;
        }
        received.push(JSON.parse(body.toString('utf8')));
        res.writeHead(204).end();
      });
    });
    await new Promise((resolve) => receiver.listen(0, '127.0.0.1', resolve));
    server = await startServer();
    browser = await launchBrowser();
    guard = await newGuardedContext(browser, { viewport: { width: 1280, height: 900 } });
    page = await guard.context.newPage();
  });

  after(async () => {
    await browser?.close();
    await server?.stop();
    receiver?.close();
  });

  test('an admin registers an endpoint, a sale is delivered signed, and a replay posts it again', LIMIT, async () => {
    const url = `http://127.0.0.1:${receiver.address().port}/hooks`;
    await uiLogin(page, server.site, ADMIN, 'admin.html#webhooks');
    await page.locator('#panel-webhooks').waitFor();
    await page.locator('#admin-webhooks[aria-busy]').waitFor({ state: 'detached' });
    await page.locator('#webhook-url').fill(url);
    await page.locator('#webhook-secret').fill('too-short');
    await page.locator('input[name="webhook-event"][value="booking.confirmed"]').check();
    await page.locator('#webhook-register').click();
    await page.locator('#page-alert').filter({ hasText: '16 to 256 characters' }).waitFor();
    await page.locator('#webhook-secret').fill(SECRET);
    await page.locator('#webhook-register').click();
    const item = page.locator('#admin-webhooks [data-webhook-id]').filter({ hasText: url });
    await item.waitFor();
    assert.equal(await page.locator('#webhook-secret').inputValue(), '', 'the secret is not kept on the page');
    await screenshot(page, PREFIX, 'registered');

    // A sale through the API: the server's delivery task posts it.
    const admin = await apiLogin(server.api, ADMIN);
    const venue = await api(server.api, 'POST', '/events/venues', {
      token: admin,
      body: { name: 'Hook Hall', location: 'Signal Street 1', kind: 'hall', rows: [{ row: 'A', seats: 2, tier: 'standard' }] },
    });
    const event = await api(server.api, 'POST', '/events/events', {
      token: admin,
      body: {
        venue_id: venue.id,
        name: 'Webhook Night',
        category: 'concert',
        start_time: new Date(Date.now() + 20 * 86_400_000).toISOString(),
        prices: [{ tier: 'standard', price_cents: 2500 }],
      },
    });
    const ana = await apiLogin(server.api, CUSTOMER);
    const hold = await api(server.api, 'POST', '/reservations/reservations/reserve', {
      token: ana,
      body: { event_id: event.id, seat_id: venue.seats[0].id },
    });
    const bookingId = hold.booking_id;
    const payment = await api(server.api, 'POST', '/payments/checkout', { token: ana, body: { booking_id: bookingId } });
    await api(server.api, 'POST', `/payments/${payment.id}/confirm`, {
      token: ana,
      body: { card_number: '4242 4242 4242 4242', exp_month: 12, exp_year: new Date().getFullYear() + 2, cvc: '123' },
    });
    const mine = () => received.filter((e) => e.type === 'booking.confirmed' && e.data.booking_id === bookingId);
    await waitUntil(() => mine().length === 1, 'the booking.confirmed delivery', 20_000);
    assert.equal(badSignatures, 0);
    const firstId = mine()[0].id;

    await item.locator('[data-deliveries]').click();
    const row = page.locator('#webhook-deliveries tr[data-delivery-id]').filter({ hasText: 'booking.confirmed' }).first();
    await row.waitFor();
    await settled(page);
    assert.match(await row.textContent(), /delivered/);
    assert.match(await row.textContent(), /204/);
    await screenshot(page, PREFIX, 'deliveries');

    await row.locator('[data-replay]').click();
    await page.locator('#page-status').filter({ hasText: 'Replayed' }).waitFor();
    await waitUntil(() => mine().length === 2, 'the replayed delivery', 20_000);
    assert.equal(mine()[1].id, firstId, 'a replay carries the same event id');
    await screenshot(page, PREFIX, 'replayed');

    assert.deepEqual(guard.blocked, [], 'no request left the machine');
    assert.deepEqual(guard.pageErrors, [], 'no page error');
  });
});
