// A customer's whole journey through the booking site, in a real Chromium against a real
// `proeventa serve --demo`: sign up, log in, browse, pick seats, hold, a declined card, pay,
// see the booking confirmed, cancel it and see the refund; plus live holds seen by a second
// buyer, a seat lost to a rival (409), and the way back from the login page.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
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

const PREFIX = 'customer';
const LIMIT = { timeout: 60_000 };

describe('customer journey', () => {
  let server;
  let browser;
  const guarded = [];
  let main; // the buyer's context
  let page;
  let farEvents = []; // events more than 48 h away: paid seats there may still be canceled
  const who = { name: 'Erin Example', email: `erin-${Date.now()}@example.com`, password: 'erin-password-1' };
  let eventId;
  let bookingId;
  let total;

  async function context(options) {
    const c = await newGuardedContext(browser, options);
    guarded.push(c);
    return c;
  }

  before(async () => {
    clearScreenshots(PREFIX);
    server = await startServer();
    browser = await launchBrowser();
    main = await context();
    page = await main.context.newPage();
    const events = await api(server.api, 'GET', '/events/events?limit=200');
    farEvents = events.filter((e) => Date.parse(e.start_time) - Date.now() > 48 * 3600 * 1000);
    assert.ok(farEvents.length >= 3, 'the demo has events more than two days away');
  });

  after(async () => {
    await browser?.close();
    await server?.stop();
  });

  test('the network guard aborts requests to other hosts', LIMIT, async () => {
    const probe = await newGuardedContext(browser);
    const p = await probe.context.newPage();
    // A page without the site's Content-Security-Policy, so the request reaches the guard.
    await p.goto('about:blank');
    const outcome = await p.evaluate(() => fetch('http://example.com/').then(() => 'reached', () => 'blocked'));
    assert.equal(outcome, 'blocked');
    assert.deepEqual(probe.blocked, ['http://example.com/']);
    await probe.context.close();
  });

  test("the site's Content-Security-Policy refuses requests to other hosts before they leave", LIMIT, async () => {
    const probe = await newGuardedContext(browser);
    const p = await probe.context.newPage();
    await p.goto(`${server.site}/Home.html`);
    const outcome = await p.evaluate(() => fetch('http://example.com/').then(() => 'reached', () => 'blocked'));
    assert.equal(outcome, 'blocked');
    assert.deepEqual(probe.blocked, [], 'the browser refused it itself: nothing reached the network');
    assert.match(probe.pageErrors.join('\n'), /Content Security Policy/, 'the refusal is a CSP violation');
    await probe.context.close();
  });

  test('sign up on login.html, log out, log in again', LIMIT, async () => {
    await page.goto(`${server.site}/Home.html`);
    await page.locator('#featured-events .event-card').first().waitFor();
    await screenshot(page, PREFIX, 'home');

    await page.getByRole('link', { name: 'Log in' }).click();
    await page.waitForURL(/\/login\.html\?next=Home\.html$/);
    await page.getByRole('tab', { name: 'Create account' }).click();
    await page.locator('#signup-name').fill(who.name);
    await page.locator('#signup-email').fill(who.email);
    await page.locator('#signup-password').fill(who.password);
    await screenshot(page, PREFIX, 'signup');
    await Promise.all([
      page.waitForURL(/\/Home\.html$/),
      page.getByRole('button', { name: 'Create account' }).click(),
    ]);
    await page.locator('.account-name', { hasText: who.name }).waitFor();

    await page.getByRole('button', { name: 'Log out' }).click();
    await page.getByRole('link', { name: 'Log in' }).waitFor();

    // A wrong password is said in words, in the alert area.
    await page.goto(`${server.site}/login.html`);
    await page.locator('#login-email').fill(who.email);
    await page.locator('#login-password').fill('not-the-password');
    await page.locator('#login-form').getByRole('button', { name: 'Log in' }).click();
    const alert = page.getByRole('alert').filter({ hasText: 'Log in failed' });
    await alert.waitFor();
    assert.doesNotMatch(await alert.innerText(), /[{}]/, 'no raw JSON in the message');

    await uiLogin(page, server.site, who);
    assert.match(page.url(), /\/profile\.html$/);
    await page.locator('#account-email', { hasText: who.email }).waitFor();
    await settled(page);
    await screenshot(page, PREFIX, 'profile-new');
  });

  test('browse Home → detail → seat map, pick two seats (mouse and keyboard), hold them', LIMIT, async () => {
    await page.goto(`${server.site}/Home.html`);
    await page.locator('#featured-events .event-card').first().waitFor();
    const onHome = await page.locator('.event-card').evaluateAll((cards) => cards.map((c) => c.dataset.eventId));
    eventId = onHome.find((id) => farEvents.some((e) => e.id === id));
    assert.ok(eventId, 'Home features an event more than two days away');

    await page.locator(`.event-card[data-event-id="${eventId}"] a.stretched`).click(); // the card's own link, not its venue's
    await page.waitForURL(/\/detail\.html\?id=/);
    await page.locator('#event-name').waitFor();
    await page.locator('.price-table tbody tr').first().waitFor();
    await screenshot(page, PREFIX, 'detail');

    await page.getByRole('link', { name: 'Choose seats' }).click();
    await page.waitForURL(new RegExp(`/booking\\.html\\?event=${eventId}$`));
    const free = page.locator('#seatmap .seat[data-status="available"]');
    await free.first().waitFor();
    assert.match(
      await free.first().getAttribute('aria-label'),
      /^Row [A-Z0-9]+ seat \d+, [a-z ]+, \d[\d,]*\.\d\d [A-Z]{3}, available$/,
    );
    await page.locator('.legend-tiers li').first().waitFor();

    // The first seat with the mouse, its neighbour with the keyboard.
    const first = free.nth(4);
    const firstId = await first.getAttribute('data-seat-id');
    await first.click();
    await page.keyboard.press('ArrowRight');
    const focusedId = await page.evaluate(() => document.activeElement.dataset.seatId);
    assert.notEqual(focusedId, firstId, 'arrow keys move between seats');
    await page.keyboard.press('Space');
    const picked = page.locator('#seatmap .seat[aria-pressed="true"]');
    await waitUntil(async () => (await picked.count()) === 2, 'two picked seats');
    assert.match(await picked.first().getAttribute('aria-label'), /, selected$/);
    await page.locator('#summary-body li').nth(1).waitFor();
    assert.equal((await page.locator('#reserve').innerText()).trim(), 'Reserve 2 seats');
    await screenshot(page, PREFIX, 'seats-picked');

    await page.locator('#reserve').click();
    await page.waitForURL(/\/payment\.html\?booking=/);
    bookingId = new URL(page.url()).searchParams.get('booking');

    const clock = page.locator('#hold-clock');
    await clock.waitFor();
    const shown = await clock.innerText();
    assert.match(shown, /^\d+:\d\d$/);
    await waitUntil(async () => (await clock.innerText()) !== shown, 'the countdown to tick', 4000);
    assert.equal(await page.locator('.summary-list li').count(), 2);
    total = (await page.locator('#pay-total').innerText()).trim();
    assert.match(total, /^\d[\d,]*\.\d\d EUR$/);
    await page.locator('#test-cards', { hasText: '4242 4242 4242 4242' }).waitFor();
    await screenshot(page, PREFIX, 'payment');
  });

  test('a declined card (4000 0000 0000 0002) shows its message and keeps the hold', LIMIT, async () => {
    await page.locator('#cardholder').fill(who.name);
    await page.locator('#card-number').fill('4000 0000 0000 0002');
    await page.locator('#card-exp').fill('12/30');
    await page.locator('#card-cvc').fill('123');
    await page.getByRole('button', { name: /^Pay / }).click();
    const alert = page.locator('#pay-alert[role="alert"]');
    await alert.filter({ hasText: /declined/i }).waitFor();
    const text = await alert.innerText();
    assert.match(text, /Card declined/);
    assert.doesNotMatch(text, /[{}]|card_declined/, 'a human sentence, not the raw body');
    await page.locator('#hold-clock').waitFor(); // still on the payment form, hold running
    await screenshot(page, PREFIX, 'card-declined');
  });

  test('paying with 4242 4242 4242 4242 confirms the booking, and the profile shows it', LIMIT, async () => {
    await page.locator('#card-number').fill('4242 4242 4242 4242');
    await page.getByRole('button', { name: /^Pay / }).click();
    await page.getByRole('heading', { name: /Payment successful/ }).waitFor();
    await screenshot(page, PREFIX, 'paid');

    await page.getByRole('link', { name: 'View my bookings' }).click();
    await page.waitForURL(/\/profile\.html$/);
    const card = page.locator(`.booking-card[data-booking-id="${bookingId}"]`);
    await card.and(page.locator('[data-status="confirmed"]')).waitFor();
    assert.equal((await card.locator('[data-booking-status]').innerText()).trim(), 'Confirmed');
    assert.match(await card.innerText(), new RegExp(`Paid ${total.replace('.', '\\.')} with the card ending in 4242`));
    await settled(page);
    await screenshot(page, PREFIX, 'profile-confirmed');
  });

  test('canceling the paid booking shows the refund', LIMIT, async () => {
    const card = page.locator(`.booking-card[data-booking-id="${bookingId}"]`);
    await card.getByRole('button', { name: 'Cancel booking' }).click();
    await card.locator('.confirm-box', { hasText: `${total} will be refunded` }).waitFor();
    await card.getByRole('button', { name: 'Yes, cancel booking' }).click();
    await card.and(page.locator('[data-status="canceled"]')).waitFor();
    assert.equal((await card.locator('[data-booking-status]').innerText()).trim(), 'Canceled');
    assert.equal((await card.locator('[data-refund]').innerText()).trim(), `Refunded ${total} to your card`);
    assert.equal((await card.locator('[data-payment-status]').innerText()).trim(), 'Refunded');
    await page.getByRole('status').filter({ hasText: `Booking canceled. ${total} refunded` }).waitFor();

    const token = await page.evaluate(() => localStorage.getItem('proeventa.token'));
    const payments = await api(server.api, 'GET', '/payments', { token });
    const payment = payments.find((p) => p.booking_id === bookingId);
    assert.equal(payment.status, 'refunded');
    assert.equal(payment.refunded_cents, payment.amount_cents);
    await screenshot(page, PREFIX, 'profile-refunded');
  });

  test("a second buyer sees the first one's holds appear on the live seat map", LIMIT, async (t) => {
    const other = farEvents.find((e) => e.id !== eventId);
    const watcher = await context();
    const watch = await watcher.context.newPage();
    // The map is read once; then only the seats' live states are polled, as simple requests (no
    // header of the page's own, so no CORS preflight: the browser's cache sends the ETag).
    const reads = [];
    watch.on('request', (r) => {
      const path = new URL(r.url()).pathname;
      if (path.endsWith('/seats') || path.endsWith('/seat-states')) reads.push({ path, headers: r.headers() });
    });
    await watch.goto(`${server.site}/booking.html?event=${other.id}`);
    await watch.locator('#seatmap .seat[data-status="available"]').first().waitFor();

    await page.goto(`${server.site}/booking.html?event=${other.id}`);
    const free = page.locator('#seatmap .seat[data-status="available"]');
    await free.first().waitFor();
    const ids = await free.evaluateAll((seats) => seats.slice(10, 12).map((s) => s.dataset.seatId));
    for (const id of ids) await page.locator(`#seatmap [data-seat-id="${id}"]`).click();
    const [reserved] = await Promise.all([
      page.waitForResponse((r) => r.request().method() === 'POST' && r.url().endsWith('/reservations/reservations/reserve')),
      page.locator('#reserve').click(),
    ]);
    const heldAt = Date.now(); // the hold exists from here on
    assert.equal(reserved.status(), 201);

    for (const id of ids) {
      await watch.locator(`#seatmap [data-seat-id="${id}"][data-status="held"]`).waitFor({ timeout: 6000 });
    }
    const seenAfter = Date.now() - heldAt;
    t.diagnostic(`the second buyer saw the holds ${seenAfter} ms after they were made`);
    assert.ok(seenAfter <= 3000, `holds appeared after ${seenAfter} ms (the map polls every 2 s)`);
    assert.equal(reads.filter((r) => r.path.endsWith('/seats')).length, 1, 'the whole map was read once');
    const polls = reads.filter((r) => r.path.endsWith('/seat-states'));
    assert.ok(polls.length >= 1, 'the holds came through /seat-states');
    // Only CORS-safelisted headers and those the browser sets itself: nothing that asks for a preflight.
    const simple = ['accept', 'accept-language', 'content-language', 'origin', 'referer', 'user-agent'];
    for (const poll of polls) {
      const own = Object.keys(poll.headers).filter((name) => !simple.includes(name) && !name.startsWith('sec-'));
      assert.deepEqual(own, [], 'a poll is a simple request');
    }
    await page.waitForURL(/\/payment\.html\?booking=/);
    const seat = watch.locator(`#seatmap [data-seat-id="${ids[0]}"]`);
    assert.match(await seat.getAttribute('aria-label'), /, held$/);
    assert.equal(await seat.getAttribute('aria-disabled'), 'true');
    await seat.focus(); // aria-disabled, yet still reachable by keyboard
    await watch.keyboard.press('Enter');
    await watch.locator('#seat-news', { hasText: 'cannot be picked' }).waitFor({ state: 'attached' });
    assert.equal(await seat.getAttribute('aria-pressed'), 'false', 'a held seat cannot be picked');
    await screenshot(watch, PREFIX, 'second-buyer-sees-holds');
    await watcher.context.close();
  });

  test('a seat lost between the last poll and Reserve: 409 names it and refreshes the map', LIMIT, async () => {
    const rival = await apiLogin(server.api, CUSTOMER);
    const target = farEvents[1];
    const buyer = await context();
    const p = await buyer.context.newPage();
    await p.goto(`${server.site}/Home.html`);
    const token = await page.evaluate(() => localStorage.getItem('proeventa.token')); // Erin's session
    const user = await page.evaluate(() => localStorage.getItem('proeventa.user'));
    await p.evaluate(([t, u]) => {
      localStorage.setItem('proeventa.token', t);
      localStorage.setItem('proeventa.user', u);
    }, [token, user]);

    // Seat-map and seat-state reads wait at a gate, so the page cannot learn of the rival's hold
    // by polling.
    let open;
    let gate = new Promise((resolve) => { open = resolve; });
    await p.route(/\/events\/events\/[^/]+\/(seats|seat-states)$/, async (route) => {
      await gate;
      await route.continue();
    });
    const firstMap = p.goto(`${server.site}/booking.html?event=${target.id}`);
    open(); // let the first map through
    await firstMap;
    const free = p.locator('#seatmap .seat[data-status="available"]');
    await free.first().waitFor();
    gate = new Promise((resolve) => { open = resolve; });
    const [lostId, keptId] = await free.evaluateAll((seats) => [seats[20].dataset.seatId, seats[21].dataset.seatId]);
    await p.locator(`#seatmap [data-seat-id="${lostId}"]`).click();
    await p.locator(`#seatmap [data-seat-id="${keptId}"]`).click();
    const lost = (await p.locator(`#seatmap [data-seat-id="${lostId}"]`).getAttribute('aria-label')).match(/^Row (\S+) seat (\d+)/);

    await api(server.api, 'POST', '/reservations/reservations/reserve', { token: rival, body: { event_id: target.id, seat_ids: [lostId] } });
    const [answer] = await Promise.all([
      p.waitForResponse((r) => r.request().method() === 'POST' && r.url().endsWith('/reservations/reservations/reserve')),
      p.locator('#reserve').click(),
    ]);
    assert.equal(answer.status(), 409);
    open();
    const alert = p.locator('#reserve-alert[role="alert"]');
    await alert.filter({ hasText: `Row ${lost[1]} · Seat ${lost[2]} is no longer available` }).waitFor();
    assert.doesNotMatch(await alert.innerText(), /[{}]|seat_unavailable/);
    await p.locator(`#seatmap [data-seat-id="${lostId}"][data-status="held"][aria-pressed="false"]`).waitFor();
    await p.locator(`#seatmap [data-seat-id="${keptId}"][aria-pressed="true"]`).waitFor();
    assert.equal((await p.locator('#reserve').innerText()).trim(), 'Reserve 1 seat');
    await screenshot(p, PREFIX, 'seat-lost-409');
    await buyer.context.close();
  });

  test('without a valid session the site sends to login.html?next=… and back', LIMIT, async () => {
    // A token the server refuses (wrong signature): the API answers 401.
    const fresh = await context();
    const p = await fresh.context.newPage();
    await p.goto(`${server.site}/Home.html`);
    await p.evaluate(() => {
      const b64 = (o) => btoa(JSON.stringify(o)).replace(/=+$/, '').replace(/\+/g, '-').replace(/\//g, '_');
      const token = `${b64({ alg: 'HS256', typ: 'JWT' })}.${b64({ sub: 'x', role: 'customer', exp: Math.floor(Date.now() / 1000) + 3600 })}.bad-signature`;
      localStorage.setItem('proeventa.token', token);
      localStorage.setItem('proeventa.user', JSON.stringify({ id: '00000000-0000-0000-0000-000000000000', email: 'ghost@example.com', role: 'customer' }));
    });
    await p.goto(`${server.site}/profile.html`);
    await p.waitForURL(/\/login\.html\?next=profile\.html$/);
    assert.equal(await p.evaluate(() => localStorage.getItem('proeventa.token')), null, 'the refused token is dropped');
    await p.locator('#login-email').fill(CUSTOMER.email);
    await p.locator('#login-password').fill(CUSTOMER.password);
    await p.locator('#login-form').getByRole('button', { name: 'Log in' }).click();
    await p.waitForURL(/\/profile\.html$/);
    await p.locator('#account-email', { hasText: CUSTOMER.email }).waitFor();

    // Picking seats logged out: Reserve goes to login, and back to the same pick.
    await p.getByRole('button', { name: 'Log out' }).click();
    await p.waitForURL(/\/Home\.html$/);
    const target = farEvents[farEvents.length - 1];
    await p.goto(`${server.site}/booking.html?event=${target.id}`);
    const seat = p.locator('#seatmap .seat[data-status="available"]').nth(2);
    await seat.waitFor();
    const seatId = await seat.getAttribute('data-seat-id');
    await seat.click();
    await p.locator('#reserve').click();
    await p.waitForURL((url) => url.pathname.endsWith('/login.html') && url.searchParams.get('next') === `booking.html?event=${target.id}`);
    await p.locator('#login-reason', { hasText: 'hold your seats' }).waitFor();
    await p.locator('#login-email').fill(CUSTOMER.email);
    await p.locator('#login-password').fill(CUSTOMER.password);
    await p.locator('#login-form').getByRole('button', { name: 'Log in' }).click();
    await p.waitForURL(new RegExp(`/booking\\.html\\?event=${target.id}$`));
    await p.locator(`#seatmap [data-seat-id="${seatId}"][aria-pressed="true"]`).waitFor();
    await p.locator('#reserve').click();
    await p.waitForURL(/\/payment\.html\?booking=/);
    await p.locator('#hold-clock').waitFor();
    await fresh.context.close();
  });

  test('no request left the machine and no page threw', LIMIT, async () => {
    for (const c of guarded) {
      assert.deepEqual(c.blocked, [], 'requests to other hosts were attempted');
      assert.deepEqual(c.pageErrors, [], 'uncaught errors in pages');
    }
  });
});
