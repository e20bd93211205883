// The visual venue editor (issue 19) in admin.html: an admin draws a two-section venue (a curved
// block with a vip front row, a straight one), marks a wheelchair space by clicking it in the
// preview and saves it; imports another from CSV; a CSV the server refuses (two seats 0.5 units
// apart) shows the server's sentence next to the form. An event goes on sale in the drawn venue
// and a buyer books a seat of it on the zoomable map and pays. "Edit layout" loads a saved venue
// with no event into the editor, a row is added and saved, and the buyers' layout has it; the
// venue with an event on sale is refused with the server's sentence. Screenshots of each step.
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
  waitUntil,
} from '../lib/harness.mjs';

const PREFIX = 'venue-editor';
const LIMIT = { timeout: 120_000 };

const CSV = `section,row,seat,x,y,tier,attributes
Left,1,1,0,0,standard,aisle
Left,1,2,1.5,0,standard,
Left,1,3,3,0,standard,wheelchair
Left,2,1,0,2,standard,aisle
Left,2,2,1.5,2,standard,companion
Right,1,1,10,0,vip,aisle|restricted_view
Right,1,2,11.5,0,vip,
Right,1,3,13,0,vip,aisle`;

describe('the venue editor', () => {
  let server;
  let browser;
  let admin;
  let page;
  const guards = [];

  before(async () => {
    clearScreenshots(PREFIX);
    server = await startServer();
    browser = await launchBrowser();
    admin = await apiLogin(server.api, ADMIN);
  });

  after(async () => {
    for (const g of guards) {
      assert.deepEqual(g.blocked, [], 'no request left the machine');
      assert.deepEqual(g.pageErrors, [], 'no page threw');
    }
    await browser?.close();
    await server?.stop();
  });

  async function venueNamed(name) {
    const venues = await api(server.api, 'GET', '/events/venues');
    return venues.find((v) => v.name === name);
  }

  test('an admin draws two sections, marks a wheelchair space and saves the venue', LIMIT, async () => {
    const guard = await newGuardedContext(browser, { viewport: { width: 1280, height: 900 } });
    guards.push(guard);
    page = await guard.context.newPage();
    await uiLogin(page, server.site, ADMIN, 'admin.html#venues');
    await page.locator('#ve-form').waitFor();
    await page.locator('#ve-name').fill('Editor Hall');
    await page.locator('#ve-location').fill('Am Kanal 1, Berlin');
    await page.locator('#ve-zone').fill('Europe/Berlin');

    await page.locator('#ve-sec-name').fill('North');
    await page.locator('#ve-rows').fill('3');
    await page.locator('#ve-seats').fill('6');
    await page.locator('#ve-curve').fill('30');
    await page.locator('#ve-tier-rules').fill('A vip');
    await page.locator('#ve-add').click();
    await page.locator('#ve-preview .sm-seat').first().waitFor();

    await page.locator('#ve-sec-name').fill('South');
    await page.locator('#ve-rows').fill('2');
    await page.locator('#ve-seats').fill('5');
    await page.locator('#ve-curve').fill('0');
    await page.locator('#ve-add').click();
    await waitUntil(async () => (await page.locator('#ve-preview .sm-seat').count()) === 28, 'the preview draws 28 seats');
    assert.match(await page.locator('#ve-summary').innerText(), /2 sections, 28 seats/);

    // Mark South · Row A · Seat 1 as a wheelchair space by clicking it in the preview.
    await page.locator('input[name="ve-mark"][value="wheelchair"]').check();
    const seat = page.locator('#ve-preview .sm-seat[data-section="1"][data-row="A"][data-number="1"]');
    await seat.click();
    assert.equal(await seat.getAttribute('data-attrs'), 'wheelchair');
    await screenshot(page, PREFIX, 'drawn');

    await page.locator('#ve-save').click();
    await page.locator('#page-status', { hasText: 'Editor Hall' }).waitFor();
    const venue = await venueNamed('Editor Hall');
    assert.equal(venue.seat_count, 28);
    const layout = await api(server.api, 'GET', `/events/venues/${venue.id}/layout`);
    assert.deepEqual(layout.sections.map((s) => s.name), ['North', 'South']);
    assert.equal(layout.sections[0].rows[0].seats[0].tier, 'vip', 'the tier rule made row A vip');
    assert.equal(layout.sections[0].rows[1].seats[0].tier, 'standard');
    assert.deepEqual(layout.sections[1].rows[0].seats[0].attributes, ['wheelchair']);
    assert.ok(layout.stage && layout.stage.label === 'Stage');
    const o = await horizontalOverflow(page);
    assert.ok(o.scrollWidth <= o.innerWidth, `nothing scrolls sideways: ${JSON.stringify(o)}`);
    await screenshot(page, PREFIX, 'saved');
  });

  test('a layout imported from CSV is previewed and saved; a refused one shows why', LIMIT, async () => {
    await page.locator('#ve-csv-box summary').click();
    await page.locator('#ve-name').fill('CSV Hall');
    await page.locator('#ve-csv').fill(CSV);
    await page.locator('#ve-csv-import').click();
    await waitUntil(async () => (await page.locator('#ve-preview .sm-seat').count()) === 8, 'the CSV preview draws 8 seats');
    assert.match(await page.locator('#ve-summary').innerText(), /2 sections, 8 seats \(from CSV\)/);
    await screenshot(page, PREFIX, 'csv-preview');
    await page.locator('#ve-save').click();
    await page.locator('#page-status', { hasText: 'CSV Hall' }).waitFor();
    const venue = await venueNamed('CSV Hall');
    const layout = await api(server.api, 'GET', `/events/venues/${venue.id}/layout`);
    assert.deepEqual(layout.sections.map((s) => s.name), ['Left', 'Right']);
    assert.deepEqual(layout.sections[1].rows[0].seats[0].attributes.slice().sort(), ['aisle', 'restricted_view']);
    assert.equal(layout.sections[1].rows[0].seats[2].tier, 'vip');

    // Two seats half a unit apart: the server's 422 sentence, next to the form.
    await page.locator('#ve-name').fill('Cramped Hall');
    await page.locator('#ve-csv').fill('section,row,seat,x,y,tier,attributes\nA,1,1,0,0,standard,\nA,1,2,0.5,0,standard,');
    await page.locator('#ve-csv-import').click();
    await page.locator('#ve-save').click();
    const alert = page.locator('#ve-alert');
    await alert.filter({ hasText: /units apart/ }).waitFor();
    assert.equal(await venueNamed('Cramped Hall'), undefined, 'nothing was saved');
    await screenshot(page, PREFIX, 'csv-refused');
  });

  test('a buyer books a seat of the drawn venue on the zoomable map', LIMIT, async () => {
    const venue = await venueNamed('Editor Hall');
    const start = new Date(Date.now() + 21 * 86_400_000).toISOString();
    const event = await api(server.api, 'POST', '/events/events', {
      token: admin,
      body: {
        venue_id: venue.id,
        name: 'Drawn Hall Premiere',
        category: 'concert',
        start_time: start,
        prices: [{ tier: 'vip', price_cents: 5000 }, { tier: 'standard', price_cents: 2500 }],
      },
    });
    const guard = await newGuardedContext(browser, { viewport: { width: 375, height: 812 }, isMobile: true, hasTouch: true });
    guards.push(guard);
    const phone = await guard.context.newPage();
    await uiLogin(phone, server.site, CUSTOMER, `booking.html?event=${event.id}`);
    await phone.locator('#seatmap .sm-svg').waitFor();
    await settled(phone);
    assert.equal(await phone.locator('#seatmap .sm-seat').count(), 28);
    await screenshot(phone, PREFIX, 'buyer-overview');
    await phone.locator('.sm-section[data-section="0"] polygon').tap();
    await phone.locator('#seatmap[data-active="0"]').waitFor();
    const seat = phone.locator('#seatmap .sm-seat[data-section="0"][data-row="A"][data-number="3"]');
    let last = null;
    await waitUntil(async () => {
      const now = await phone.locator('.sm-svg').getAttribute('viewBox');
      const same = now === last;
      last = now;
      return same;
    }, 'the map to stop moving', 5000, 150);
    await seat.tap();
    await waitUntil(async () => (await seat.getAttribute('aria-pressed')) === 'true', 'North · Row A seat 3 picked');
    assert.match(await phone.locator('#summary-total').innerText(), /50\.00/);
    await screenshot(phone, PREFIX, 'buyer-picked');
    await phone.locator('#reserve').click();
    await phone.waitForURL(/\/payment\.html\?booking=/);
    await phone.locator('#card-form').waitFor();
    await phone.locator('#cardholder').fill('Ana Customer');
    await phone.locator('#card-number').fill('4242 4242 4242 4242');
    await phone.locator('#card-exp').fill('12/30');
    await phone.locator('#card-cvc').fill('123');
    await phone.getByRole('button', { name: /^Pay / }).click();
    await phone.getByRole('heading', { name: /Payment successful/ }).waitFor();
    await screenshot(phone, PREFIX, 'buyer-paid');
  });

  test('a saved venue without events gets a new row; one with an event on sale is refused', LIMIT, async () => {
    const csvHall = await venueNamed('CSV Hall');
    const before = await api(server.api, 'GET', `/events/venues/${csvHall.id}/layout`);
    const item = (name) => page.locator('#admin-venues .list-item', { has: page.locator('h3', { hasText: name }) });
    await item('CSV Hall').locator('[data-edit-layout]').click();
    await page.locator('#ve-editing:not([hidden])').waitFor();
    await waitUntil(async () => (await page.locator('#ve-preview .sm-seat').count()) === 8, 'the saved layout is loaded: 8 seats');
    assert.match(await page.locator('#ve-summary').innerText(), /2 sections, 8 seats \(editing CSV Hall\)/);
    assert.equal(await page.locator('#ve-name').isDisabled(), true, 'a saved venue keeps its name');
    await page.locator('#ve-edit-section').selectOption({ label: 'Left' });
    await page.locator('#ve-add-row').click();
    await waitUntil(async () => (await page.locator('#ve-preview .sm-seat').count()) === 10, 'row 3 of Left is drawn');
    assert.equal(await page.locator('#ve-preview .sm-seat[data-section="0"][data-row="3"]').count(), 2);
    await screenshot(page, PREFIX, 'edit-row-added');
    await page.locator('#ve-save').click();
    await page.locator('#page-status', { hasText: 'The layout of “CSV Hall” was saved: 10 seats' }).waitFor();
    assert.equal(await page.locator('#ve-editing').isHidden(), true, 'the editor is back to a new venue');

    // What a buyer's map loads: the new row, a new version, the old seats with their ids.
    const after = await api(server.api, 'GET', `/events/venues/${csvHall.id}/layout`);
    assert.notEqual(after.version, before.version);
    assert.deepEqual(after.sections[0].rows.map((r) => r.row), ['1', '2', '3']);
    assert.deepEqual(after.sections[0].rows[2].seats.map((s) => s.label), ['Left · Row 3 · Seat 1', 'Left · Row 3 · Seat 2']);
    const ids = (layout) => layout.sections.flatMap((s) => s.rows.flatMap((r) => r.seats.map((seat) => seat.id)));
    assert.ok(ids(before).every((id) => ids(after).includes(id)), 'every seat kept its id');
    assert.deepEqual(after.sections[1].rows[0].seats[0].attributes.slice().sort(), ['aisle', 'restricted_view']);

    // Editor Hall has an event on sale: the server's refusal is shown, and nothing changes.
    const hall = await venueNamed('Editor Hall');
    const hallBefore = await api(server.api, 'GET', `/events/venues/${hall.id}/layout`);
    await item('Editor Hall').locator('[data-edit-layout]').click();
    await waitUntil(async () => (await page.locator('#ve-preview .sm-seat').count()) === 28, 'Editor Hall is loaded: 28 seats');
    await page.locator('#ve-add-row').click();
    await page.locator('#ve-save').click();
    const alert = page.locator('#ve-alert');
    await alert.filter({ hasText: /“?"?Drawn Hall Premiere"?.*is on sale at this venue/ }).waitFor();
    await screenshot(page, PREFIX, 'edit-refused');
    const hallAfter = await api(server.api, 'GET', `/events/venues/${hall.id}/layout`);
    assert.equal(hallAfter.version, hallBefore.version, 'the refused layout changed nothing');
    await page.locator('#ve-cancel-edit').click();
    assert.equal(await page.locator('#ve-name').isDisabled(), false);
  });
});
