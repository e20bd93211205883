// Posters: an admin adds one to an event on admin.html (a PNG made here, chosen in the file
// picker); the event's card on events.html and its page show the uploaded image with both sizes
// in srcset, lazy loading and the alt text, served by the site port (/posters/); an event
// without a poster keeps its drawn one. Screenshots of the admin row, the card and the page.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { deflateSync } from 'node:zlib';
import {
  ADMIN,
  api,
  clearScreenshots,
  launchBrowser,
  newGuardedContext,
  screenshot,
  settled,
  startServer,
  uiLogin,
} from '../lib/harness.mjs';

const PREFIX = 'posters';
const LIMIT = { timeout: 90_000 };

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k += 1) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});
function crc32(bytes) {
  let c = 0xffffffff;
  for (const b of bytes) c = CRC_TABLE[(c ^ b) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}
function chunk(type, data) {
  const out = Buffer.alloc(12 + data.length);
  out.writeUInt32BE(data.length, 0);
  out.write(type, 4, 'ascii');
  data.copy(out, 8);
  out.writeUInt32BE(crc32(out.subarray(4, 8 + data.length)), 8 + data.length);
  return out;
}
/** A width × height RGB PNG: a diagonal gradient. */
function png(width, height) {
  const header = Buffer.alloc(13);
  header.writeUInt32BE(width, 0);
  header.writeUInt32BE(height, 4);
  header.set([8, 2, 0, 0, 0], 8);
  const rows = Buffer.alloc((width * 3 + 1) * height);
  for (let y = 0; y < height; y += 1) {
    const at = y * (width * 3 + 1);
    for (let x = 0; x < width; x += 1) rows.set([(x * 255) / width, (y * 255) / height, 160], at + 1 + x * 3);
  }
  const signature = Buffer.from([137, 80, 78, 71, 13, 10, 26, 10]);
  return Buffer.concat([signature, chunk('IHDR', header), chunk('IDAT', deflateSync(rows)), chunk('IEND', Buffer.alloc(0))]);
}

describe('posters', () => {
  let server;
  let browser;
  let concert;
  let other;
  const guards = [];

  before(async () => {
    clearScreenshots(PREFIX);
    server = await startServer();
    browser = await launchBrowser();
    const events = await api(server.api, 'GET', '/events/events?limit=200');
    concert = events.find((e) => e.name === 'Northern Lights Tour');
    other = events.find((e) => e.category === 'theatre');
    assert.ok(concert && other && concert.poster === null, 'the demo has events without posters');
  });

  after(async () => {
    for (const guard of guards) {
      assert.deepEqual(guard.blocked, [], 'no request left this machine');
      assert.deepEqual(guard.pageErrors, [], 'no page threw');
    }
    await browser?.close();
    await server?.stop();
  });

  test('an admin adds a poster; cards and the event page show it, lazily, in two sizes', LIMIT, async () => {
    const guard = await newGuardedContext(browser, { locale: 'en-US' });
    guards.push(guard);
    const page = await guard.context.newPage();
    await uiLogin(page, server.site, ADMIN, 'admin.html');
    await page.goto(`${server.site}/admin.html#events`);
    const row = page.locator(`#admin-events [data-event-id="${concert.id}"]`);
    await row.waitFor();
    await row.locator('[data-poster]').click();
    // A PNG whose name says JPEG: the server reads the bytes.
    await row.locator('[data-poster-file]').setInputFiles({ name: 'poster.jpg', mimeType: 'image/jpeg', buffer: png(1600, 900) });
    await row.locator('[data-poster-upload]').click();
    await page.getByRole('status').filter({ hasText: 'poster of “Northern Lights Tour” was saved' }).waitFor();
    await screenshot(page, PREFIX, 'admin-saved');

    const event = await api(server.api, 'GET', `/events/events/${concert.id}`);
    assert.ok(event.poster && event.poster.small.endsWith('-480.jpg') && event.poster.large.endsWith('-1200.jpg'), JSON.stringify(event.poster));

    await page.goto(`${server.site}/events.html?category=concert`);
    const card = page.locator(`.event-card[data-event-id="${concert.id}"]`);
    await card.waitFor();
    await settled(page);
    const image = card.locator('.poster img');
    assert.equal(await image.getAttribute('loading'), 'lazy');
    assert.equal(await image.getAttribute('alt'), 'Poster of Northern Lights Tour');
    assert.equal(await image.getAttribute('srcset'), `${event.poster.small} 480w, ${event.poster.large} 1200w`);
    await image.scrollIntoViewIfNeeded();
    await page.waitForFunction((id) => {
      const img = document.querySelector(`.event-card[data-event-id="${id}"] .poster img`);
      return img && img.complete && img.naturalWidth > 0;
    }, concert.id);
    await screenshot(page, PREFIX, 'card');

    await page.goto(`${server.site}/detail.html?id=${concert.id}`);
    const large = page.locator('.poster-lg img');
    await large.waitFor();
    await page.waitForFunction(() => {
      const img = document.querySelector('.poster-lg img');
      return img.complete && img.naturalWidth > 0;
    });
    assert.equal(await large.getAttribute('loading'), 'lazy');
    assert.match(await large.evaluate((img) => img.currentSrc), /\/posters\/.*-(480|1200)\.jpg$/);
    await screenshot(page, PREFIX, 'event-page');

    // An event without a poster keeps its drawn one.
    await page.goto(`${server.site}/detail.html?id=${other.id}`);
    await page.locator('#event-name').waitFor();
    assert.equal(await page.locator('.poster-lg img').count(), 0);
    assert.equal(await page.locator('.poster-lg .poster-title').count(), 1);
    await guard.context.close();
  });
});
