// Venue time zones, as visitors far away see them: a browser in Tokyo and one in New York
// (Playwright's `timezoneId`), on a desktop and on a 375 px phone, are shown each event's time on
// its venue's clock with the venue's label ("20:00 Berlin time"), never their own clock's, on the
// events list, the event page and the venue page; the password reset page is kept as seen there.
//
// The demo puts the Hamburg arena in Europe/Berlin, the Madrid theatre in Europe/Madrid and the
// Lyon cinema in Europe/Paris, and its concerts at 20:00 and its plays at 19:30 on those clocks:
// the expected words are worked out here from the API's instant with Node's own Intl, not with
// the site's code.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  api,
  clearScreenshots,
  clockIn,
  launchBrowser,
  newGuardedContext,
  screenshot,
  settled,
  startServer,
  venueTime,
} from '../lib/harness.mjs';

const PREFIX = 'timezones';
const LIMIT = { timeout: 60_000 };

const VISITORS = [
  { timezoneId: 'Asia/Tokyo', name: 'tokyo' },
  { timezoneId: 'America/New_York', name: 'new-york' },
];
const SCREENS = [
  { name: 'desktop', options: { viewport: { width: 1280, height: 900 } } },
  { name: 'phone', options: { viewport: { width: 375, height: 812 }, isMobile: true, hasTouch: true, deviceScaleFactor: 1 } },
];

describe('event times on the venue clock, wherever the visitor is', () => {
  let server;
  let browser;
  const guards = [];
  let concert; // at the Hamburg arena, 20:00 Berlin time
  let play; // at the Madrid theatre, 19:30 Madrid time

  before(async () => {
    clearScreenshots(PREFIX);
    server = await startServer();
    browser = await launchBrowser();
    const events = await api(server.api, 'GET', '/events/events?limit=200');
    concert = events.find((e) => e.name === 'Northern Lights Tour');
    play = events.find((e) => e.category === 'theatre');
    assert.ok(concert && play, 'the demo has its arena concert and a play');
    assert.equal(concert.venue.time_zone, 'Europe/Berlin');
    assert.equal(play.venue.time_zone, 'Europe/Madrid');
    // The demo's own clock times, which the checks below expect to see.
    assert.equal(clockIn(concert.start_time, 'Europe/Berlin').clock, '20:00');
    assert.equal(clockIn(play.start_time, 'Europe/Madrid').clock, '19:30');
  });

  after(async () => {
    await browser?.close();
    await server?.stop();
  });

  for (const visitor of VISITORS) {
    for (const screen of SCREENS) {
      test(`a visitor in ${visitor.timezoneId} on a ${screen.name} sees the venue's time, labelled`, LIMIT, async () => {
        const guard = await newGuardedContext(browser, { ...screen.options, timezoneId: visitor.timezoneId });
        guards.push(guard);
        const page = await guard.context.newPage();
        const shot = `${visitor.name}-${screen.name}`;

        await page.goto(`${server.site}/events.html?category=concert`);
        const card = page.locator(`.event-card[data-event-id="${concert.id}"]`);
        await card.waitFor();
        await settled(page);
        // The browser really is in the visitor's zone: its own clock reads another hour.
        assert.equal(await page.evaluate(() => Intl.DateTimeFormat().resolvedOptions().timeZone), visitor.timezoneId);
        const own = clockIn(concert.start_time, visitor.timezoneId).clock;
        assert.notEqual(own, '20:00');

        const cardTime = (await card.locator('[data-event-time]').textContent()).trim();
        assert.match(cardTime, /20:00 Berlin time$/, `the card shows the arena's clock: ${cardTime}`);
        assert.ok(!cardTime.includes(own), `not the visitor's clock (${own}): ${cardTime}`);
        const venueDay = clockIn(concert.start_time, 'Europe/Berlin');
        assert.ok(
          /^(Today|Tomorrow) /.test(cardTime) || cardTime.startsWith(`${venueDay.weekday} ${venueDay.day} ${venueDay.month} `),
          `the card's day is the arena's: ${cardTime}`,
        );
        await screenshot(page, PREFIX, `${shot}-events`);

        await page.goto(`${server.site}/detail.html?id=${concert.id}`);
        const when = page.locator('#event-when');
        await when.waitFor();
        assert.equal((await when.textContent()).trim(), venueTime(concert.start_time, 'Europe/Berlin'));
        await screenshot(page, PREFIX, `${shot}-concert`);

        await page.goto(`${server.site}/detail.html?id=${play.id}`);
        await page.locator('#event-when').waitFor();
        assert.equal((await page.locator('#event-when').textContent()).trim(), venueTime(play.start_time, 'Europe/Madrid'));
        // Its other dates say whose clock they are on, and read 19:30 on it.
        const note = page.locator('.zone-note');
        if (await note.count()) assert.match(await note.innerText(), /Madrid time/);
        for (const time of await page.locator('.showtime [data-event-time]').allTextContents()) {
          assert.match(time.trim(), /^19:30( Madrid time)?$/, `another date of the play: ${time}`);
        }
        await screenshot(page, PREFIX, `${shot}-play`);

        // The arena's own page lists what is on there on the arena's clock too.
        await page.goto(`${server.site}/venue.html?id=${concert.venue.id}`);
        const listed = page.locator(`#venue-events .event-card[data-event-id="${concert.id}"]`);
        await listed.waitFor();
        await settled(page);
        const listedTime = (await listed.locator('[data-event-time]').textContent()).trim();
        assert.match(listedTime, /20:00 Berlin time$/, `the venue page shows the arena's clock: ${listedTime}`);
        assert.ok(!listedTime.includes(own), `not the visitor's clock (${own}): ${listedTime}`);
        await screenshot(page, PREFIX, `${shot}-venue`);

        // The password reset page shows no time at all, in any zone: its form is kept as seen there.
        await page.goto(`${server.site}/reset.html#token=${'a'.repeat(43)}`);
        await page.locator('#reset-form').waitFor();
        await settled(page);
        await screenshot(page, PREFIX, `${shot}-reset`);
      });
    }
  }

  test('no request left the machine and no page threw', LIMIT, async () => {
    assert.ok(guards.length > 0);
    for (const guard of guards) {
      assert.deepEqual(guard.blocked, []);
      assert.deepEqual(guard.pageErrors, []);
    }
  });
});
