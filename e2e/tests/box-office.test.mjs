// The organiser's box office (issue 21), end to end in the browser. An admin puts a six-seat hall
// on sale with two ticket types (adult 30.00 EUR, child 12.00 EUR with a quota of 4) and creates
// a 20 % promo code for the event, both on admin.html. Ana picks two seats on the booking page,
// makes one of them a child ticket (the total follows: 42.00 EUR), reserves, applies the code on
// the payment page (8.40 EUR off) and pays 33.60 EUR. The admin's Sales tab then shows the sale
// by type and its bar; the payment's amount and discount are read back through the API.
// Screenshots of each step, the dashboard's among them.
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

const PREFIX = 'box-office';
const LIMIT = { timeout: 150_000 };
const EVENT_NAME = 'Family Matinee';

/** A datetime-local value `days` from now at 15:00 (the venue is on UTC). */
function localInput(days) {
  const d = new Date(Date.now() + days * 24 * 3600 * 1000);
  const pad = (n) => String(n).padStart(2, '0');
  return `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())}T15:00`;
}

describe('box office: ticket types, a promo code and the sales dashboard', () => {
  let server;
  let browser;
  let guard;
  let page;
  let venue;
  let eventId;

  before(async () => {
    clearScreenshots(PREFIX);
    server = await startServer();
    browser = await launchBrowser();
    const admin = await apiLogin(server.api, ADMIN);
    venue = await api(server.api, 'POST', '/events/venues', {
      token: admin,
      body: { name: 'Box Office Hall', location: 'Till Street 1', kind: 'hall', rows: [{ row: 'A', seats: 6, tier: 'standard' }] },
    });
    guard = await newGuardedContext(browser, { viewport: { width: 1280, height: 900 } });
    page = await guard.context.newPage();
  });

  after(async () => {
    await browser?.close();
    await server?.stop();
  });

  test('the admin creates the event with adult and child types, and a 20 % code', LIMIT, async () => {
    await uiLogin(page, server.site, ADMIN, 'admin.html');
    await page.getByRole('tab', { name: 'Events' }).click();
    await page.locator('#ev-venue').selectOption(venue.id);
    await page.locator('#ev-prices [data-tier="standard"]').waitFor();
    await page.locator('#ev-name').fill(EVENT_NAME);
    await page.locator('#ev-category').selectOption('theatre');
    await page.locator('#ev-start').fill(localInput(14));
    await page.locator('#ev-prices [data-tier="standard"]').fill('30');
    await page.locator('#ev-first-type').fill('adult');
    await page.locator('#ev-types').fill('child 12.00 quota 4');
    await screenshot(page, PREFIX, 'event-form');
    await page.getByRole('button', { name: 'Create event' }).click();
    await page.getByRole('status').filter({ hasText: `Event “${EVENT_NAME}” created` }).waitFor();
    const item = page.locator('#admin-events .list-item', { hasText: EVENT_NAME });
    await item.waitFor();
    eventId = await item.getAttribute('data-event-id');
    const event = await api(server.api, 'GET', `/events/events/${eventId}`);
    assert.deepEqual(
      event.ticket_types.map((type) => [type.name, type.prices[0].price_cents, type.quota ?? null]),
      [['adult', 3000, null], ['child', 1200, 4]],
    );

    await page.getByRole('tab', { name: 'Codes' }).click();
    await page.locator(`#code-event option[value="${eventId}"]`).waitFor({ state: 'attached' });
    await page.locator('#code-name').fill('FAMILY20');
    await page.locator('#code-kind').selectOption('percent');
    await page.locator('#code-value').fill('20');
    await page.locator('#code-event').selectOption(eventId);
    await page.locator('#code-max-uses').fill('10');
    await page.locator('#code-create').click();
    const code = page.locator('#admin-codes [data-code-id]', { hasText: 'FAMILY20' });
    await code.waitFor();
    assert.match(await code.innerText(), /20% off/);
    await screenshot(page, PREFIX, 'code-created');
  });

  test('Ana books an adult and a child ticket, applies the code and pays the right amount', LIMIT, async () => {
    assert.ok(eventId, 'the event of the previous step');
    const ana = await newGuardedContext(browser, { viewport: { width: 1280, height: 900 } });
    const buyer = await ana.context.newPage();
    try {
      await uiLogin(buyer, server.site, CUSTOMER, `booking.html?event=${eventId}`);
      const seatIds = venue.seats.filter((s) => s.row === 'A' && s.seat_number <= 2).map((s) => s.id);
      for (const id of seatIds) await buyer.locator(`#seatmap [data-seat-id="${id}"]`).click();
      const child = buyer.locator(`select[data-ticket-type="${seatIds[1]}"]`);
      await child.waitFor();
      assert.match(await child.locator('option:checked').innerText(), /Adult — 30\.00\s*EUR/);
      await child.selectOption('child');
      await buyer.locator('#summary-total', { hasText: /42\.00/ }).waitFor();
      await screenshot(buyer, PREFIX, 'types-picked');
      await buyer.locator('#reserve').click();
      await buyer.waitForURL(/payment\.html/);
      await buyer.locator('#card-form').waitFor();
      assert.match(await buyer.locator('#pay-total').innerText(), /42\.00/);

      await buyer.locator('#promo-code').fill('family20');
      await buyer.locator('#promo-apply').click();
      await buyer.locator('#promo-applied').waitFor();
      assert.match(await buyer.locator('#promo-applied').innerText(), /FAMILY20: 8\.40\s*EUR off/);
      await buyer.locator('#pay-total', { hasText: /33\.60/ }).waitFor();
      await screenshot(buyer, PREFIX, 'code-applied');
      await buyer.locator('#cardholder').fill('Ana Customer');
      await buyer.locator('#card-number').fill('4242 4242 4242 4242');
      await buyer.locator('#card-exp').fill('12/30');
      await buyer.locator('#card-cvc').fill('123');
      await buyer.getByRole('button', { name: /^Pay .*33\.60/ }).click();
      await buyer.getByRole('heading', { name: /Payment successful/ }).waitFor();
      await screenshot(buyer, PREFIX, 'paid');

      // The server charged what the page said: 42.00 less 20 %.
      const token = await buyer.evaluate(() => localStorage.getItem('proeventa.token'));
      const paid = (await api(server.api, 'GET', '/payments', { token })).filter((p) => p.status === 'succeeded');
      assert.equal(paid.length, 1, JSON.stringify(paid));
      assert.deepEqual([paid[0].amount_cents, paid[0].discount_cents, paid[0].promo_code], [3360, 840, 'FAMILY20']);
      assert.deepEqual(ana.blocked, [], 'no request left the machine');
      assert.deepEqual(ana.pageErrors, [], 'no page error');
    } finally {
      await ana.context.close();
    }
  });

  test('the Sales tab shows the sale by type with its bar', LIMIT, async () => {
    await page.getByRole('tab', { name: 'Sales' }).click();
    await page.locator('#panel-sales').waitFor();
    await page.locator(`#sales-event option[value="${eventId}"]`).waitFor({ state: 'attached' });
    await page.locator('#sales-event').selectOption(eventId);
    const figure = (name) => page.locator(`[data-figure="${name}"] dd`);
    await figure('sold').filter({ hasText: /^2$/ }).waitFor();
    await settled(page);
    // The report counts what was paid: 42.00 EUR of seats less the code's 20 % (33.60), each
    // type its seat's price less its share of the discount.
    assert.match(await figure('revenue').textContent(), /33\.60\s*EUR/);
    const byType = await page.locator('#sales-report').innerText();
    assert.match(byType, /Adult 1 sold, 24\.00\s*EUR/);
    assert.match(byType, /Child 1 sold, 9\.60\s*EUR/);
    const bars = page.locator('#sales-chart rect.sales-bar');
    const sold = (await bars.evaluateAll((rects) => rects.map((r) => Number(r.dataset.sold)))).reduce((a, b) => a + b, 0);
    assert.equal(sold, 2, 'the hour bars count the two tickets');
    await screenshot(page, PREFIX, 'dashboard');
    assert.deepEqual(guard.blocked, [], 'no request left the machine');
    assert.deepEqual(guard.pageErrors, [], 'no page error');
  });
});
