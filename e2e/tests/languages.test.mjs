// The site in English, German, French and Spanish: a buyer picks the language in the footer's
// switcher, the choice is kept for the next pages (localStorage), `<html lang>` follows it, and
// the home, event and payment pages show no English string the catalogue translates, no
// unfilled {placeholder}, the venue's clock labelled in the language ("Ortszeit Berlin",
// "heure de Berlin", "hora de Berlin") and prices formatted by Intl for it. Screenshots of each.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  api,
  apiLogin,
  clearScreenshots,
  CUSTOMER,
  launchBrowser,
  newGuardedContext,
  screenshot,
  settled,
  startServer,
  uiLogin,
} from '../lib/harness.mjs';
import { catalogue } from '../lib/catalogue.mjs';

const PREFIX = 'languages';
const LIMIT = { timeout: 90_000 };

const LANGUAGES = [
  { code: 'en', name: 'English', berlin: 'Berlin time', price: /\d\.\d{2} EUR/ },
  { code: 'de', name: 'Deutsch', berlin: 'Ortszeit Berlin', price: /\d,\d{2}\sEUR/ },
  { code: 'fr', name: 'Français', berlin: 'heure de Berlin', price: /\d,\d{2}\sEUR/ },
  { code: 'es', name: 'Español', berlin: 'hora de Berlin', price: /\d,\d{2}\sEUR/ },
];

/** Text the page shows (text nodes and the labels people hear) that the catalogue translates into
 * something else: a string the page forgot to translate. And any {placeholder} left unfilled. */
async function untranslatedOn(page, translations) {
  return page.evaluate((pairs) => {
    const translated = new Map(pairs);
    const found = [];
    const check = (text, where) => {
      const key = String(text || '').trim();
      if (translated.has(key)) found.push(where + ': ' + key);
      if (/\{\w+\}/.test(key)) found.push(where + ' placeholder: ' + key);
    };
    const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
      if (!node.parentElement.closest('script, style, noscript, option[lang]')) check(node.nodeValue, 'text');
    }
    document.body.querySelectorAll('[placeholder],[aria-label],[title],[alt]').forEach((el) => {
      ['placeholder', 'aria-label', 'title', 'alt'].forEach((name) => el.hasAttribute(name) && check(el.getAttribute(name), name));
    });
    check(document.title.replace(/ · ProEventa$/, ''), 'title');
    return found;
  }, translations);
}

describe('four languages', () => {
  let server;
  let browser;
  let concert;
  let token;
  let freeSeats;
  const guards = [];

  before(async () => {
    clearScreenshots(PREFIX);
    server = await startServer();
    browser = await launchBrowser();
    const events = await api(server.api, 'GET', '/events/events?limit=200');
    concert = events.find((e) => e.name === 'Northern Lights Tour' && e.venue.time_zone === 'Europe/Berlin');
    assert.ok(concert, 'the demo has its Hamburg concert');
    token = await apiLogin(server.api, CUSTOMER);
    const seats = await api(server.api, 'GET', `/events/events/${concert.id}/seats`);
    freeSeats = seats.filter((s) => s.status === 'available').map((s) => s.seat_id);
    assert.ok(freeSeats.length >= LANGUAGES.length);
  });

  after(async () => {
    for (const guard of guards) {
      assert.deepEqual(guard.blocked, [], 'no request left this machine');
      assert.deepEqual(guard.pageErrors, [], 'no page threw');
    }
    await browser?.close();
    await server?.stop();
  });

  for (const [index, language] of LANGUAGES.entries()) {
    test(`${language.name}: home, event and payment pages, every string translated`, LIMIT, async () => {
      const english = catalogue('en');
      const own = language.code === 'en' ? english : catalogue(language.code);
      // The English words this language says otherwise: none may be left on its pages.
      const translations = Object.keys(english)
        .filter((key) => own[key] !== key)
        .map((key) => [key, own[key]]);

      const guard = await newGuardedContext(browser, { locale: 'en-US' });
      guards.push(guard);
      const page = await guard.context.newPage();
      await uiLogin(page, server.site, CUSTOMER);

      // The switcher, in the footer of an English page; the page reloads in the language chosen.
      await page.goto(`${server.site}/Home.html`);
      await settled(page);
      assert.equal(await page.evaluate(() => document.documentElement.lang), 'en');
      await Promise.all([page.waitForEvent('load'), page.locator('#site-language').selectOption(language.code)]);
      await page.locator('#featured-events .event-card').first().waitFor();
      await settled(page);
      assert.equal(await page.evaluate(() => document.documentElement.lang), language.code);
      assert.equal(await page.locator('#site-language').inputValue(), language.code);
      assert.deepEqual(await untranslatedOn(page, translations), [], 'home page');
      await screenshot(page, PREFIX, `${language.code}-home`);

      // Another page remembers the choice; the time is the venue's, labelled in the language.
      await page.goto(`${server.site}/detail.html?id=${concert.id}`);
      await page.locator('#event-when').waitFor();
      await settled(page);
      assert.equal(await page.evaluate(() => document.documentElement.lang), language.code);
      const when = (await page.locator('#event-when').textContent()).trim();
      assert.ok(when.endsWith(language.berlin), `"${when}" ends with "${language.berlin}"`);
      assert.match(await page.locator('.price-table').innerText(), language.price);
      assert.deepEqual(await untranslatedOn(page, translations), [], 'event page');
      await screenshot(page, PREFIX, `${language.code}-event`);

      // The payment page of a seat this buyer holds.
      const booking = await api(server.api, 'POST', '/reservations/reservations/reserve', {
        token,
        body: { event_id: concert.id, seat_ids: [freeSeats[index]] },
      });
      await page.goto(`${server.site}/payment.html?booking=${booking.id}`);
      await page.locator('#card-form').waitFor();
      await settled(page);
      assert.equal(await page.evaluate(() => document.documentElement.lang), language.code);
      assert.match(await page.locator('#pay-total').innerText(), language.price);
      assert.deepEqual(await untranslatedOn(page, translations), [], 'payment page');
      await screenshot(page, PREFIX, `${language.code}-payment`);
      await api(server.api, 'DELETE', `/reservations/bookings/${booking.id}`, { token });
      await guard.context.close();
    });
  }
});
