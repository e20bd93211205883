// Tickets and the door, in a real Chromium against a real `proeventa serve --demo`: a buyer pays
// for five seats and finds their tickets on the profile; ticket.html shows the QR (fetched with
// the token, shown from a blob: URL), downloads the PDF and the calendar file, and prints only the
// ticket. Then a customer made staff by an admin opens checkin.html on a 375 px phone whose camera
// is a y4m file of the first ticket's QR: green, then red "already checked in"; a revoked ticket
// typed in: red; offline, a third ticket: green from the IndexedDB manifest, one scan waiting;
// a fourth admitted meanwhile at another gate: green here, reported as a conflict after the sync;
// reloaded with no network, the page comes back from its service worker with its queue; online
// again: synced, and the server's counts include them.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
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
  venueTime,
  waitUntil,
} from '../lib/harness.mjs';
import { fakeCameraArgs, qrLuma, writeY4m } from '../lib/camera.mjs';

const PREFIX = 'tickets';
const LIMIT = { timeout: 90_000 };
const PHONE = { viewport: { width: 375, height: 812 }, isMobile: true, hasTouch: true, deviceScaleFactor: 1 };

/** A file the API makes for a signed-in user, as text (the page under test fetches its own). */
async function apiText(base, route, token) {
  const res = await fetch(base + route, { headers: { authorization: `Bearer ${token}` } });
  const text = await res.text();
  if (!res.ok) throw new Error(`GET ${route} → ${res.status} ${text}`);
  return text;
}

describe('tickets and the door', () => {
  let server;
  let browser; // the buyer's
  let cameraBrowser; // the door phone's, its camera a y4m file of the first ticket's QR
  const guarded = [];
  let buyer;
  let page;
  let event;
  let buyerToken;
  let adminToken;
  let bookingId;
  let tickets = []; // [{id, code, seat_label, holder_name, reservation_id}] in seat order
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'proeventa-e2e-camera-'));
  const staff = { name: 'Dora Door', email: `door-${Date.now()}@example.com`, password: 'door-password-1' };
  let door; // the staff phone's context
  let doorPage;

  async function context(b, options) {
    const c = await newGuardedContext(b, options);
    guarded.push(c);
    return c;
  }

  before(async () => {
    clearScreenshots(PREFIX);
    server = await startServer();
    browser = await launchBrowser();
    buyer = await context(browser);
    page = await buyer.context.newPage();
    adminToken = await apiLogin(server.api, ADMIN);
    const events = await api(server.api, 'GET', '/events/events?limit=200');
    // More than two days away, so a paid seat may still be canceled (which revokes its ticket).
    event = events.find((e) => e.status !== 'canceled' && Date.parse(e.start_time) - Date.now() > 48 * 3600 * 1000 && e.seats_available >= 5);
    assert.ok(event, 'the demo has an event more than two days away with five free seats');
  });

  after(async () => {
    await cameraBrowser?.close();
    await browser?.close();
    await server?.stop();
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  test('a buyer pays for five seats and finds five valid tickets on the profile', LIMIT, async () => {
    await uiLogin(page, server.site, CUSTOMER);
    buyerToken = await page.evaluate(() => localStorage.getItem('proeventa.token'));
    const seats = (await api(server.api, 'GET', `/events/events/${event.id}/seats`)).filter((s) => s.status === 'available');
    const booking = await api(server.api, 'POST', '/reservations/reservations/reserve', {
      token: buyerToken,
      body: { event_id: event.id, seat_ids: seats.slice(0, 5).map((s) => s.seat_id) },
    });
    bookingId = booking.id;

    await page.goto(`${server.site}/payment.html?booking=${bookingId}`);
    await page.locator('#card-form').waitFor();
    await page.locator('#cardholder').fill('Ana Customer');
    await page.locator('#card-number').fill('4242 4242 4242 4242');
    await page.locator('#card-exp').fill('12/30');
    await page.locator('#card-cvc').fill('123');
    await page.getByRole('button', { name: /^Pay / }).click();
    await page.getByRole('heading', { name: /Payment successful/ }).waitFor();

    await page.getByRole('link', { name: 'View my tickets' }).click();
    await page.waitForURL(/\/profile\.html#tickets$/);
    const rows = page.locator(`#ticket-list .ticket-row[data-status="valid"]`);
    await waitUntil(async () => (await rows.count()) === 5, 'five valid tickets on the profile');
    await settled(page);
    assert.match(await rows.first().innerText(), new RegExp(event.name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')));
    assert.match(await rows.first().innerText(), /Row \S+ · Seat \d+/);
    assert.equal((await rows.first().locator('[data-event-time]').textContent()).trim(), venueTime(event.start_time, event.venue.time_zone));
    await screenshot(page, PREFIX, 'profile-tickets');
    assert.equal(await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Tickets', exact: true }).count(), 1, 'the header has a Tickets link');

    // The booking's tickets in one PDF, from its card.
    const [all] = await Promise.all([
      page.waitForEvent('download'),
      page.locator(`.booking-card[data-booking-id="${bookingId}"]`).getByRole('button', { name: 'Tickets (PDF)' }).click(),
    ]);
    assert.equal(fs.readFileSync(await all.path()).subarray(0, 5).toString('latin1'), '%PDF-');

    const listed = await api(server.api, 'GET', `/reservations/tickets?booking_id=${bookingId}`, { token: buyerToken });
    const items = Array.isArray(listed) ? listed : listed.items;
    assert.equal(items.length, 5);
    tickets = await Promise.all(items.map((t) => api(server.api, 'GET', `/reservations/tickets/${t.id}`, { token: buyerToken })));
    tickets.sort((a, b) => a.seat_label.localeCompare(b.seat_label, undefined, { numeric: true }));
    for (const t of tickets) assert.match(t.code, /^PE1\./);
  });

  test('ticket.html shows the ticket and its QR, downloads the PDF and the calendar file', LIMIT, async () => {
    const first = tickets[0];
    await page.locator(`.ticket-row[data-ticket-id="${first.id}"] a`).click();
    await page.waitForURL(new RegExp(`/ticket\\.html\\?id=${first.id}$`));
    await page.locator('#ticket-seat', { hasText: first.seat_label }).waitFor();
    assert.equal((await page.locator('#ticket-holder').innerText()).trim(), first.holder_name);
    assert.equal(await page.locator('#ticket-status').getAttribute('data-ticket-status'), 'valid');
    assert.equal((await page.locator('#ticket-time').textContent()).trim(), venueTime(event.start_time, event.venue.time_zone));
    assert.equal((await page.locator('#ticket-event').innerText()).trim(), event.name);

    const qr = page.locator('#ticket-qr[data-loaded="true"]');
    await qr.waitFor();
    const image = await qr.evaluate((img) => ({ src: img.src, width: img.naturalWidth, complete: img.complete }));
    assert.match(image.src, /^blob:/, 'the QR is shown from a blob: URL (fetched with the token)');
    assert.ok(image.complete && image.width > 0, 'the QR image decoded');
    await settled(page);
    await screenshot(page, PREFIX, 'ticket');

    const [pdf] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Download PDF' }).click()]);
    assert.match(pdf.suggestedFilename(), /\.pdf$/);
    const pdfBytes = fs.readFileSync(await pdf.path());
    assert.equal(pdfBytes.subarray(0, 5).toString('latin1'), '%PDF-', 'the download is a PDF');

    const [ics] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Add to calendar' }).click()]);
    assert.match(ics.suggestedFilename(), /\.ics$/);
    const calendar = fs.readFileSync(await ics.path(), 'utf8');
    assert.match(calendar, /^BEGIN:VCALENDAR/);
    assert.match(calendar, /BEGIN:VEVENT/);
  });

  test('printed, ticket.html is the ticket alone with its QR large', LIMIT, async () => {
    await page.emulateMedia({ media: 'print' });
    const printed = await page.evaluate(() => {
      const shown = (sel) => {
        const el = document.querySelector(sel);
        return Boolean(el && getComputedStyle(el).display !== 'none' && el.getClientRects().length);
      };
      return {
        header: shown('#site-header'),
        footer: shown('#site-footer'),
        buttons: shown('.ticket-actions'),
        qrWidth: document.querySelector('#ticket-qr').getBoundingClientRect().width,
      };
    });
    await screenshot(page, PREFIX, 'ticket-print');
    await page.emulateMedia({ media: 'screen' });
    assert.deepEqual({ header: printed.header, footer: printed.footer, buttons: printed.buttons }, { header: false, footer: false, buttons: false });
    assert.ok(printed.qrWidth >= 300, `the printed QR is large (${printed.qrWidth} px)`);
  });

  test('ticket.html fits a 375 px phone', LIMIT, async () => {
    const phone = await context(browser, PHONE);
    const p = await phone.context.newPage();
    await uiLogin(p, server.site, CUSTOMER, `ticket.html?id=${tickets[0].id}`);
    await p.locator('#ticket-qr[data-loaded="true"]').waitFor();
    await settled(p);
    const o = await horizontalOverflow(p);
    await screenshot(p, PREFIX, 'ticket-phone');
    assert.ok(o.scrollWidth <= 375, `ticket.html is ${o.scrollWidth} px wide at 375 px; too wide: ${o.widest.join(', ')}`);
    await phone.context.close();
  });

  test('a customer is kept off the door page', LIMIT, async () => {
    await page.goto(`${server.site}/checkin.html`);
    await page.getByRole('alert').filter({ hasText: 'Only staff and admin accounts' }).waitFor();
    assert.equal(await page.locator('#door-setup').isVisible(), false);
    assert.equal(await page.getByRole('link', { name: 'Door', exact: true }).count(), 0, 'no Door link for a customer');
  });

  test('an admin makes a customer staff; the door page opens on a 375 px phone', LIMIT, async () => {
    const account = await api(server.api, 'POST', '/auth/signup', { body: staff });
    const updated = await api(server.api, 'PATCH', `/auth/users/${account.id}`, { token: adminToken, body: { role: 'staff' } });
    assert.equal(updated.role, 'staff');

    // The phone's camera films the first ticket's QR: its qr.svg, drawn in a page, written as y4m.
    const svg = await apiText(server.api, `/reservations/tickets/${tickets[0].id}/qr.svg`, buyerToken);
    const drawing = await buyer.context.newPage();
    await drawing.goto('about:blank');
    const y4m = writeY4m(path.join(tmp, 'ticket-qr.y4m'), await qrLuma(drawing, svg));
    await drawing.close();
    cameraBrowser = await launchBrowser(fakeCameraArgs(y4m));
    door = await context(cameraBrowser, PHONE);
    await door.context.grantPermissions(['camera']);
    doorPage = await door.context.newPage();

    await uiLogin(doorPage, server.site, staff);
    await doorPage.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Door', exact: true }).click();
    await doorPage.waitForURL(/\/checkin\.html$/);
    await doorPage.locator(`#door-event option[value="${event.id}"]`).waitFor({ state: 'attached' });
    await settled(doorPage);
    let o = await horizontalOverflow(doorPage);
    await screenshot(doorPage, PREFIX, 'door-setup');
    assert.ok(o.scrollWidth <= 375, `checkin.html (setup) is ${o.scrollWidth} px wide at 375 px; too wide: ${o.widest.join(', ')}`);

    await doorPage.locator('#door-event').selectOption(event.id);
    await doorPage.locator('#door-gate').fill('north');
    await doorPage.getByRole('button', { name: 'Open the door' }).click();
    await doorPage.locator('#door-event-name', { hasText: event.name }).waitFor();
    await doorPage.locator('#count-sold', { hasText: /^\d+$/ }).waitFor();
    await doorPage.locator('#door-network', { hasText: 'kept for offline use' }).waitFor();
    assert.equal((await doorPage.locator('#count-admitted').innerText()).trim(), '0');
    o = await horizontalOverflow(doorPage);
    await screenshot(doorPage, PREFIX, 'door-open');
    assert.ok(o.scrollWidth <= 375, `checkin.html (door) is ${o.scrollWidth} px wide at 375 px; too wide: ${o.widest.join(', ')}`);
  });

  test('the camera scans the first ticket: green with seat and holder, then red "already checked in"', LIMIT, async () => {
    const first = tickets[0];
    await doorPage.getByRole('button', { name: 'Start camera' }).click();
    const answer = doorPage.locator('#door-answer');
    await doorPage.locator('#door-answer[data-color="green"]').waitFor({ timeout: 30_000 });
    assert.equal(await answer.getAttribute('data-status'), 'admitted');
    assert.equal((await doorPage.locator('#door-answer-seat').innerText()).trim(), first.seat_label);
    assert.equal((await doorPage.locator('#door-answer-holder').innerText()).trim(), first.holder_name);
    await waitUntil(async () => /Admitted/.test(await doorPage.locator('#door-announce').innerText()), 'the answer announced in the live region');
    const box = await answer.boundingBox();
    assert.ok(box.width >= 370 && box.height >= 800, `the answer fills the screen (${box.width}×${box.height})`);
    await screenshot(doorPage, PREFIX, 'door-green');
    await answer.waitFor({ state: 'hidden' }); // a green answer goes away by itself after a few seconds
    await doorPage.locator('#count-admitted', { hasText: /^1$/ }).waitFor();

    // The same code, still in front of the camera once the pause after its answer is over.
    await doorPage.locator('#door-answer[data-color="red"]').waitFor({ timeout: 30_000 });
    assert.equal(await answer.getAttribute('data-status'), 'already_checked_in');
    assert.match(await doorPage.locator('#door-answer-title').innerText(), /Already checked in/i);
    assert.match(await doorPage.locator('#door-answer-detail').innerText(), /gate north/);
    await screenshot(doorPage, PREFIX, 'door-red-again');
    await doorPage.keyboard.press('Escape'); // the keyboard dismisses it too
    await answer.waitFor({ state: 'hidden' });
    await doorPage.getByRole('button', { name: 'Stop camera' }).click();
    await doorPage.getByRole('button', { name: 'Start camera' }).waitFor();
  });

  test('a ticket whose seat was canceled: red "revoked"', LIMIT, async () => {
    const second = tickets[1];
    await api(server.api, 'DELETE', `/reservations/reservations/${second.reservation_id}`, { token: buyerToken });
    const after = await api(server.api, 'GET', `/reservations/tickets/${second.id}`, { token: buyerToken });
    assert.equal(after.status, 'revoked');

    await doorPage.locator('#door-code').fill(second.code);
    await doorPage.locator('#door-code').press('Enter');
    const answer = doorPage.locator('#door-answer[data-color="red"]');
    await answer.waitFor();
    assert.equal(await answer.getAttribute('data-status'), 'ticket_revoked');
    assert.match(await doorPage.locator('#door-answer-title').innerText(), /Revoked/);
    await screenshot(doorPage, PREFIX, 'door-revoked');
    await answer.click(); // a tap dismisses it
    await answer.waitFor({ state: 'hidden' });
    assert.equal(await doorPage.evaluate(() => document.activeElement.id), 'door-code', 'focus is back on the code field');
  });

  test('a forged code is refused', LIMIT, async () => {
    const third = tickets[2];
    // One character of the signature changed.
    const i = third.code.length - 5;
    const forged = third.code.slice(0, i) + (third.code[i] === 'A' ? 'B' : 'A') + third.code.slice(i + 1);
    await doorPage.locator('#door-code').fill(forged);
    await doorPage.getByRole('button', { name: 'Check' }).click();
    const answer = doorPage.locator('#door-answer[data-color="red"]');
    await answer.waitFor();
    assert.equal(await answer.getAttribute('data-status'), 'invalid_ticket');
    await answer.click();
    await answer.waitFor({ state: 'hidden' });
  });

  test('offline: a third ticket is admitted from the kept manifest and waits to sync; back online it syncs', LIMIT, async () => {
    const [first, , third, fourth] = tickets;
    // The page's files are kept by its service worker once it controls the page.
    await doorPage.waitForFunction(() => navigator.serviceWorker.controller !== null);
    await door.context.setOffline(true);
    await doorPage.locator('#door-network[data-online="false"]').waitFor();

    await doorPage.locator('#door-code').fill(third.code);
    await doorPage.locator('#door-code').press('Enter');
    const answer = doorPage.locator('#door-answer');
    await doorPage.locator('#door-answer[data-color="green"]').waitFor();
    assert.equal((await doorPage.locator('#door-answer-seat').innerText()).trim(), third.seat_label);
    assert.match(await doorPage.locator('#door-answer-detail').innerText(), /syncs when the network is back/);
    await screenshot(doorPage, PREFIX, 'door-offline-green');
    await answer.waitFor({ state: 'hidden' });
    await doorPage.locator('#door-waiting[data-waiting="1"]', { hasText: '1 scan waiting to sync' }).waitFor();

    // This gate admitted the first ticket: offline it knows that too.
    await doorPage.locator('#door-code').fill(first.code);
    await doorPage.locator('#door-code').press('Enter');
    await doorPage.locator('#door-answer[data-status="already_checked_in"]').waitFor();
    await answer.click();
    await answer.waitFor({ state: 'hidden' });

    // Meanwhile the fourth ticket is admitted at the south gate, which this phone cannot know.
    const south = await apiLogin(server.api, staff);
    await api(server.api, 'POST', '/checkin/scan', { token: south, body: { code: fourth.code, event_id: event.id, gate: 'south' } });
    await doorPage.locator('#door-code').fill(fourth.code);
    await doorPage.locator('#door-code').press('Enter');
    await doorPage.locator('#door-answer[data-color="green"]').waitFor();
    await answer.waitFor({ state: 'hidden' });
    await doorPage.locator('#door-waiting[data-waiting="2"]').waitFor();
    await screenshot(doorPage, PREFIX, 'door-offline-waiting');

    // Reloaded with no network at all: the service worker's copy opens the same door, the queue kept.
    const reloaded = await doorPage.reload();
    assert.ok(reloaded.fromServiceWorker(), 'the page came from the service worker');
    await doorPage.locator('#door-event-name', { hasText: event.name }).waitFor();
    await doorPage.locator('#door-network[data-online="false"]').waitFor();
    await doorPage.locator('#door-waiting[data-waiting="2"]').waitFor();

    await door.context.setOffline(false);
    await doorPage.locator('#door-waiting[data-waiting="0"]', { hasText: 'All scans synced' }).waitFor({ timeout: 30_000 });
    await doorPage.locator('#door-network[data-online="true"]').waitFor();
    // The conflict is reported, not lost: the south gate admitted the fourth ticket first.
    const conflict = doorPage.locator('#door-conflict-list .door-conflict[data-status="already_checked_in"]');
    await conflict.waitFor();
    assert.match(await conflict.innerText(), new RegExp(`${fourth.seat_label}.*already checked in.*gate south`));
    assert.equal(await doorPage.locator('#door-conflict-list .door-conflict').count(), 1, 'the one conflict, listed once');
    // Admitted: the first (camera), the third (offline, synced), the fourth (south).
    await doorPage.locator('#count-admitted', { hasText: /^3$/ }).waitFor({ timeout: 30_000 });
    await screenshot(doorPage, PREFIX, 'door-synced');

    const summary = await api(server.api, 'GET', `/checkin/events/${event.id}/summary`, { token: adminToken });
    assert.equal(summary.admitted, 3);
    assert.equal(summary.revoked, 1);
    const gates = Object.fromEntries(summary.gates.map((g) => [g.gate, g.admitted]));
    assert.deepEqual(gates, { north: 2, south: 1 });
    const third_ = await api(server.api, 'GET', `/reservations/tickets/${third.id}`, { token: buyerToken });
    assert.equal(third_.status, 'used');
  });

  test('with the API out of reach, a reload opens the same door from what the phone kept', LIMIT, async () => {
    const fifth = tickets[4];
    // The site is up, the API is not: every request to it fails as a lost network would.
    await doorPage.route(`${server.api}/**`, (route) => route.abort('internetdisconnected'));
    await doorPage.reload();
    await doorPage.locator('#door-event-name', { hasText: event.name }).waitFor();
    await doorPage.locator('#door-network[data-online="false"]').waitFor();
    assert.equal((await doorPage.locator('#door-gate-name').innerText()).trim(), 'north');

    // The third ticket was admitted here and synced: refused from the kept list.
    const answer = doorPage.locator('#door-answer');
    await doorPage.locator('#door-code').fill(tickets[2].code);
    await doorPage.locator('#door-code').press('Enter');
    await doorPage.locator('#door-answer[data-status="already_checked_in"]').waitFor();
    await answer.click();
    await answer.waitFor({ state: 'hidden' });
    // The fifth, never scanned: admitted here, waiting.
    await doorPage.locator('#door-code').fill(fifth.code);
    await doorPage.locator('#door-code').press('Enter');
    await doorPage.locator('#door-answer[data-color="green"]').waitFor();
    await answer.waitFor({ state: 'hidden' });
    await doorPage.locator('#door-waiting[data-waiting="1"]').waitFor();
    await screenshot(doorPage, PREFIX, 'door-reloaded-api-away');

    // The API back: the door finds it by itself (it asks again every 20 s) and syncs.
    await doorPage.unroute(`${server.api}/**`);
    await doorPage.locator('#door-waiting[data-waiting="0"]').waitFor({ timeout: 45_000 });
    await doorPage.locator('#count-admitted', { hasText: /^4$/ }).waitFor({ timeout: 30_000 });
    const after = await api(server.api, 'GET', `/reservations/tickets/${fifth.id}`, { token: buyerToken });
    assert.equal(after.status, 'used');
    assert.equal(after.admission.gate, 'north');
  });

  test('the buyer sees the used ticket as used', LIMIT, async () => {
    await page.goto(`${server.site}/ticket.html?id=${tickets[0].id}`);
    await page.locator('#ticket-status[data-ticket-status="used"]').waitFor();
    await page.goto(`${server.site}/ticket.html?id=${tickets[1].id}`);
    await page.locator('#ticket-status[data-ticket-status="revoked"]').waitFor();
    await page.locator('#ticket-void').waitFor();
    assert.equal(await page.locator('#ticket-qr').count(), 0, 'a revoked ticket shows no QR');
  });

  test('no request left the machine and no page threw', LIMIT, async () => {
    for (const g of guarded) {
      assert.deepEqual(g.blocked, []);
      assert.deepEqual(g.pageErrors, []);
    }
  });
});
