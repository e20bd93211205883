// The admin side of the booking site: an admin logs in, creates a venue with seat rows in New
// York's time zone and an event there at 20:00 on its clock on admin.html, the event appears on
// events.html; then moves the venue to Madrid's zone, edits and cancels the event, manages a user
// and oversees reservations.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  ADMIN,
  CUSTOMER,
  api,
  apiLogin,
  clearScreenshots,
  clockIn,
  launchBrowser,
  newGuardedContext,
  screenshot,
  settled,
  startServer,
  uiLogin,
  venueTime,
  waitUntil,
} from '../lib/harness.mjs';

const PREFIX = 'admin';
const LIMIT = { timeout: 60_000 };

/** A datetime-local value `days` from now at 20:00: what the admin types, on the venue's clock. */
function localInput(days) {
  const d = new Date(Date.now() + days * 24 * 3600 * 1000);
  d.setHours(20, 0, 0, 0);
  const pad = (n) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

describe('admin', () => {
  let server;
  let browser;
  let guard;
  let page;
  const stamp = Date.now().toString(36);
  const venueName = `E2E Hall ${stamp}`;
  const eventName = `E2E Jazz Night ${stamp}`;
  let venueId;
  let eventId;
  let eventStart;

  before(async () => {
    clearScreenshots(PREFIX);
    server = await startServer();
    browser = await launchBrowser();
    guard = await newGuardedContext(browser);
    page = await guard.context.newPage();
  });

  after(async () => {
    await browser?.close();
    await server?.stop();
  });

  test('a customer is told admin.html is for admins', LIMIT, async () => {
    await uiLogin(page, server.site, CUSTOMER, 'admin.html');
    assert.match(page.url(), /\/admin\.html$/);
    await page.getByRole('alert').filter({ hasText: 'This page is for administrators' }).waitFor();
    assert.equal(await page.locator('#admin').isHidden(), true);
    await page.getByRole('button', { name: 'Log out' }).click();
    await page.waitForURL(/\/Home\.html$/);
  });

  test('the admin creates a venue with seat rows', LIMIT, async () => {
    await uiLogin(page, server.site, ADMIN, 'admin.html');
    assert.match(page.url(), /\/admin\.html$/);
    await page.getByRole('link', { name: 'Admin', exact: true }).waitFor(); // admins get the nav entry
    await page.getByRole('tab', { name: 'Venues' }).click();
    await page.locator('#admin-venues .list-item').first().waitFor();

    await page.locator('#vn-name').fill(venueName);
    await page.locator('#vn-kind').selectOption('hall');
    await page.locator('#vn-location').fill('1 Test Street, Testville');
    await page.locator('#vn-zone').fill('America/New_York');
    const first = page.locator('#row-groups .row-group').nth(0);
    await first.locator('[data-k="from"]').fill('A');
    await first.locator('[data-k="to"]').fill('C');
    await first.locator('[data-k="seats"]').fill('10');
    await first.locator('[data-k="tier"]').fill('standard');
    await page.getByRole('button', { name: 'Add rows' }).click();
    const second = page.locator('#row-groups .row-group').nth(1);
    await second.locator('[data-k="from"]').fill('D');
    await second.locator('[data-k="seats"]').fill('8');
    await second.locator('[data-k="tier"]').fill('premium');
    await page.locator('#rows-summary', { hasText: '4 rows, 38 seats' }).waitFor();
    await screenshot(page, PREFIX, 'venue-form');

    await page.getByRole('button', { name: 'Create venue' }).click();
    await page.getByRole('status').filter({ hasText: `Venue “${venueName}” created with 38 seats, on New York time` }).waitFor();
    const item = page.locator('#admin-venues .list-item', { hasText: venueName });
    await item.waitFor();
    assert.equal((await item.locator('[data-venue-zone]').textContent()).trim(), 'America/New_York');
    venueId = await item.getAttribute('data-venue-id');
    await item.getByRole('button', { name: 'Seat rows' }).click();
    await item.getByText('Rows A–C · 10 seats · Standard').waitFor();
    await item.getByText('Rows D · 8 seats · Premium').waitFor();
    await screenshot(page, PREFIX, 'venue-created');
  });

  test('the admin creates an event there, and it appears on events.html', LIMIT, async () => {
    assert.ok(venueId, 'the venue of the previous step');
    await page.getByRole('tab', { name: 'Events' }).click();
    await page.locator('#ev-venue').selectOption(venueId);
    await page.locator('#ev-prices [data-tier="premium"]').waitFor();
    assert.match(await page.locator('#ev-start-zone').innerText(), /New York time, the venue's clock/);
    await page.locator('#ev-name').fill(eventName);
    await page.locator('#ev-category').selectOption('concert');
    await page.locator('#ev-duration').fill('120');
    await page.locator('#ev-start').fill(localInput(10));
    await page.locator('#ev-description').fill('Late-night jazz, made by the browser test.');
    await page.locator('#ev-prices [data-tier="standard"]').fill('24.50');
    await page.locator('#ev-prices [data-tier="premium"]').fill('39');
    await screenshot(page, PREFIX, 'event-form');
    await page.getByRole('button', { name: 'Create event' }).click();
    await page.getByRole('status').filter({ hasText: `Event “${eventName}” created` }).waitFor();
    const item = page.locator('#admin-events .list-item', { hasText: eventName });
    await item.waitFor();
    eventId = await item.getAttribute('data-event-id');
    // 20:00 as typed is 20:00 on the venue's clock, whatever this machine's zone is.
    eventStart = (await api(server.api, 'GET', `/events/events/${eventId}`)).start_time;
    assert.equal(clockIn(eventStart, 'America/New_York').clock, '20:00');
    assert.equal((await item.locator('[data-event-time]').textContent()).trim(), venueTime(eventStart, 'America/New_York'));
    await screenshot(page, PREFIX, 'event-created');

    await page.goto(`${server.site}/events.html`);
    await page.locator('#filter-q').fill('E2E Jazz');
    await page.getByRole('button', { name: 'Search' }).click();
    const card = page.locator(`.event-card[data-event-id="${eventId}"]`);
    await card.waitFor();
    assert.match(await card.innerText(), /from 24\.50 EUR/);
    assert.match(await card.innerText(), new RegExp(venueName));
    await screenshot(page, PREFIX, 'event-listed');

    // The same event found by category, and its seat map built from the new venue's rows.
    await page.goto(`${server.site}/events.html?category=concert`);
    await card.waitFor();
    await card.locator('a.stretched').click(); // the card's own link, not its venue's
    await page.getByRole('link', { name: 'Choose seats' }).click();
    await page.locator('#seatmap .seat').first().waitFor();
    assert.equal(await page.locator('#seatmap .seat').count(), 38);
    await page.locator('.legend-tiers', { hasText: 'Premium 39.00 EUR' }).waitFor();
  });

  test('the admin moves the venue to Madrid time: the event keeps its instant, shown on the new clock', LIMIT, async () => {
    assert.ok(eventId, 'the event of an earlier step');
    await page.goto(`${server.site}/admin.html#venues`);
    const item = page.locator(`#admin-venues [data-venue-id="${venueId}"]`);
    await item.getByRole('button', { name: 'Time zone' }).click();
    await item.getByLabel(`Time zone of ${venueName}`).fill('Mars/Olympus_Mons');
    await item.getByRole('button', { name: 'Save time zone' }).click();
    await item.getByRole('alert').filter({ hasText: /IANA time zone/ }).waitFor();
    await item.getByLabel(`Time zone of ${venueName}`).fill('Europe/Madrid');
    await item.getByRole('button', { name: 'Save time zone' }).click();
    await page.getByRole('status').filter({ hasText: `“${venueName}” is now on Madrid time` }).waitFor();
    await page.locator(`#admin-venues [data-venue-id="${venueId}"] [data-venue-zone]`, { hasText: 'Europe/Madrid' }).waitFor();
    await screenshot(page, PREFIX, 'venue-zone');
    const event = await api(server.api, 'GET', `/events/events/${eventId}`);
    assert.equal(event.venue.time_zone, 'Europe/Madrid');
    assert.equal(event.start_time, eventStart, 'the same instant');
    await page.getByRole('tab', { name: 'Events' }).click();
    const listed = page.locator(`#admin-events [data-event-id="${eventId}"] [data-event-time]`);
    await listed.filter({ hasText: 'Madrid time' }).waitFor();
    assert.equal((await listed.textContent()).trim(), venueTime(eventStart, 'Europe/Madrid'));
  });

  test('the admin edits the event and oversees its reservations', LIMIT, async () => {
    assert.ok(eventId, 'the event of the previous step');
    const customer = await apiLogin(server.api, CUSTOMER);
    const seats = await api(server.api, 'GET', `/events/events/${eventId}/seats`);
    await api(server.api, 'POST', '/reservations/reservations/reserve', {
      token: customer,
      body: { event_id: eventId, seat_ids: [seats[0].seat_id] },
    });

    await page.goto(`${server.site}/admin.html#events`);
    const item = page.locator(`#admin-events [data-event-id="${eventId}"]`);
    await item.getByRole('button', { name: 'Edit' }).click();
    await waitUntil(async () => (await page.locator('#ev-name').inputValue()) === eventName, 'the edit form');
    await page.locator('#ev-prices [data-tier="standard"]').waitFor();
    await page.locator('#ev-name').fill(`${eventName} (late show)`);
    // The sale opens the day before the start, at 10:00 on the venue's clock, through a waiting room.
    const day = (await page.locator('#ev-start').inputValue()).slice(0, 10);
    const before = new Date(Date.parse(day + 'T12:00:00Z') - 24 * 3600 * 1000).toISOString().slice(0, 10);
    await page.locator('#ev-opens').fill(`${before}T10:00`);
    await page.locator('#ev-queue').check();
    await page.locator('#ev-queue-pace').fill('90');
    await page.getByRole('button', { name: 'Save changes' }).click();
    await page.getByRole('status').filter({ hasText: `Event “${eventName} (late show)” saved` }).waitFor();
    await item.getByRole('heading', { name: `${eventName} (late show)` }).waitFor();
    await item.locator('[data-sale-opening]', { hasText: 'waiting room: 90 a minute, at most 500 at once, 10-minute sessions' }).waitFor();
    // Its live figures: nobody has joined yet.
    await item.locator('[data-queue-stats]', { hasText: '0 waiting · 0 let through · 0 active now (0 joined)' }).waitFor();
    await screenshot(page, PREFIX, 'waiting-room-settings');
    const saved = await api(server.api, 'GET', `/events/events/${eventId}`);
    assert.equal(saved.start_time, eventStart, 'the form read and wrote the start on the venue\'s clock: unchanged');
    assert.deepEqual(saved.queue, { enabled: true, admit_per_minute: 90, max_active_buyers: 500, session_minutes: 10 });
    assert.ok(saved.on_sale_at && Date.parse(saved.on_sale_at) < Date.parse(saved.start_time), saved.on_sale_at);

    await item.getByRole('button', { name: 'Reservations' }).click();
    const held = page.locator('#admin-reservations .list-item', { hasText: 'ana@proeventa.test' });
    await held.waitFor();
    assert.equal(await page.locator('#res-event').inputValue(), eventId);
    assert.match(await held.innerText(), /Row A seat 1/);
    await screenshot(page, PREFIX, 'reservations');
    await page.locator('#res-status').selectOption('held');
    await settled(page); // the filtered list is in
    await held.getByRole('button', { name: 'Cancel' }).click();
    // Asks first, naming the seat; nothing happens until the admin says yes.
    await held.getByRole('group', { name: 'Cancel the hold on row A seat 1?' }).waitFor();
    assert.equal(await page.locator('#admin-reservations .list-item .status-canceled').count(), 0);
    await held.getByRole('button', { name: 'Yes, cancel hold' }).click();
    await page.locator('#admin-reservations .list-item .status-canceled').waitFor();
  });

  test('the admin disables and promotes a user', LIMIT, async () => {
    const email = `zoe-${stamp}@example.com`;
    await api(server.api, 'POST', '/auth/signup', { body: { email, password: 'zoe-password-1', name: 'Zoe Test' } });
    await page.getByRole('tab', { name: 'Users' }).click();
    await page.locator('#users-q').fill(email);
    await page.locator('#user-search').getByRole('button', { name: 'Search' }).click();
    const user = page.locator('#admin-users .list-item', { hasText: email });
    await waitUntil(async () => (await page.locator('#admin-users .list-item').count()) === 1, 'the search to narrow the list to one user');
    await user.waitFor();
    await user.getByRole('button', { name: 'Disable' }).click();
    await user.getByRole('button', { name: 'Yes, disable' }).click();
    await user.locator('.status-disabled').waitFor();
    await user.getByRole('button', { name: 'Promote to admin' }).click();
    await user.locator('.status-admin').waitFor();
    await screenshot(page, PREFIX, 'users');
    const res = await fetch(`${server.api}/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email, password: 'zoe-password-1' }),
    });
    assert.notEqual(res.status, 200, 'a disabled account cannot log in');
  });

  test('canceling the event takes it off events.html', LIMIT, async () => {
    assert.ok(eventId, 'the event of an earlier step');
    await page.getByRole('tab', { name: 'Events' }).click();
    const item = page.locator(`#admin-events [data-event-id="${eventId}"]`);
    await item.getByRole('button', { name: 'Cancel event' }).click();
    await item.getByRole('button', { name: 'Yes, cancel event' }).click();
    await page.getByRole('status').filter({ hasText: 'was canceled' }).waitFor();
    await item.waitFor({ state: 'detached' });
    await page.locator('#events-include-past').check();
    await item.locator('.status-canceled').waitFor();

    await page.goto(`${server.site}/events.html?q=${encodeURIComponent('E2E Jazz')}`);
    await page.getByRole('heading', { name: 'Nothing found' }).waitFor();
    assert.equal(await page.locator('.event-card').count(), 0);
  });

  test('no request left the machine and no page threw', LIMIT, async () => {
    assert.deepEqual(guard.blocked, []);
    assert.deepEqual(guard.pageErrors, []);
  });
});
