// The Audit tab of admin.html (issue 21). An admin puts an event on sale through the API, then
// renames it on the page (the Events tab's edit form) and opens the Audit tab: the rename is the
// newest entry, naming the admin, `event.updated`, the event, and the name before and after; the
// "Events" filter with the event's id lists its two entries (created, updated), newest first.
// Screenshots of each step.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  ADMIN,
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

const PREFIX = 'audit';
const LIMIT = { timeout: 120_000 };

describe('audit log', () => {
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
      body: { name: 'Audit Hall', location: 'Record Row 1', kind: 'hall', rows: [{ row: 'A', seats: 4, tier: 'standard' }] },
    });
    event = await api(server.api, 'POST', '/events/events', {
      token: admin,
      body: {
        venue_id: venue.id,
        name: 'Logged Night',
        category: 'concert',
        start_time: new Date(Date.now() + 20 * 86_400_000).toISOString(),
        prices: [{ tier: 'standard', price_cents: 2500 }],
      },
    });
    guard = await newGuardedContext(browser, { viewport: { width: 1280, height: 900 } });
    page = await guard.context.newPage();
  });

  after(async () => {
    await browser?.close();
    await server?.stop();
  });

  test('an admin renames an event and sees the change in the Audit tab', LIMIT, async () => {
    await uiLogin(page, server.site, ADMIN, 'admin.html#events');
    const item = page.locator(`#admin-events [data-event-id="${event.id}"]`);
    await item.getByRole('button', { name: 'Edit' }).click();
    await waitUntil(async () => (await page.locator('#ev-name').inputValue()) === 'Logged Night', 'the edit form');
    await page.locator('#ev-name').fill('Logged Night (encore)');
    await page.getByRole('button', { name: 'Save changes' }).click();
    await page.getByRole('status').filter({ hasText: 'Event “Logged Night (encore)” saved' }).waitFor();
    await screenshot(page, PREFIX, 'renamed');

    await page.getByRole('tab', { name: 'Audit' }).click();
    await page.locator('#panel-audit').waitFor();
    const entries = page.locator('#admin-audit .audit-entry');
    await entries.first().waitFor();
    await settled(page);
    const newest = entries.first();
    assert.match(await newest.locator('h3').textContent(), /event\.updated · event/);
    assert.match(await newest.textContent(), new RegExp(ADMIN.email.replace('.', '\\.')));
    assert.match(await newest.textContent(), new RegExp(event.id));
    assert.equal((await newest.locator('del').first().textContent()).trim(), 'Logged Night');
    assert.equal((await newest.locator('ins').first().textContent()).trim(), 'Logged Night (encore)');
    await screenshot(page, PREFIX, 'log');

    // The event's own entries, newest first.
    await page.locator('#audit-kind').selectOption('event');
    await page.locator('#audit-entity').fill(event.id);
    await page.locator('#audit-filters button[type=submit]').click();
    await waitUntil(async () => (await entries.count()) === 2, 'the event\'s two entries');
    const actions = await page.locator('#admin-audit .audit-entry h3 code').allTextContents();
    assert.deepEqual(actions, ['event.updated', 'event.created']);
    await screenshot(page, PREFIX, 'filtered');

    assert.deepEqual(guard.blocked, [], 'no request left the machine');
    assert.deepEqual(guard.pageErrors, [], 'no page error');
  });
});
