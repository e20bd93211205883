// The zoomable arena map (issue 19) on the demo's Spree Arena (4,608 seats, sixteen blocks), on a
// desktop (1280×800) and on a 375 px phone: the overview of the whole venue fits the first
// screen, a tap zooms into a section (the mini-map and the stage hint appear), one seat is picked
// by tap and another by keyboard alone (Escape to the overview, arrows between sections, Enter
// into one, Enter on a seat), the two are reserved and paid; then best available holds 4 seats,
// which are paid too. Nothing scrolls sideways at any step. The pointer gestures of the map, by
// what they do to its SVG viewBox: on a desktop the mouse wheel zooms in around the pointer (and
// the mini-map appears), a drag pans, a click on the mini-map centres the view there; on the
// phone a two-finger pinch (two touch points through CDP's Input.dispatchTouchEvent, which the
// map gets as two pointers) zooms in. Screenshots of each step.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  CUSTOMER,
  api,
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

const PREFIX = 'arena';
const LIMIT = { timeout: 180_000 };
const PHONE_BUYER = { email: 'pia.phone@proeventa.test', password: 'pia-phone-password-1', name: 'Pia Phone' };

describe('the zoomable arena map', () => {
  let server;
  let browser;
  let event;
  const guards = [];

  before(async () => {
    clearScreenshots(PREFIX);
    server = await startServer();
    browser = await launchBrowser();
    const events = await api(server.api, 'GET', '/events/events?q=Spree');
    event = events.find((e) => e.name === 'Spree Lights Festival');
    assert.ok(event, 'the demo has the Spree Lights Festival');
    await api(server.api, 'POST', '/auth/signup', { body: PHONE_BUYER });
  });

  after(async () => {
    for (const g of guards) {
      assert.deepEqual(g.blocked, [], 'no request left the machine');
      assert.deepEqual(g.pageErrors, [], 'no page threw');
    }
    await browser?.close();
    await server?.stop();
  });

  async function noSideways(page, step) {
    const o = await horizontalOverflow(page);
    assert.ok(o.scrollWidth <= o.innerWidth, `${step}: nothing scrolls sideways: ${JSON.stringify(o)}`);
  }

  /** Waits for the view box to stop moving (the zoom's animation is a quarter second). */
  async function still(page) {
    let last = null;
    await waitUntil(async () => {
      const now = await page.locator('.sm-svg').getAttribute('viewBox');
      const same = now === last;
      last = now;
      return same;
    }, 'the map to stop moving', 5000, 150);
  }

  const picked = (page) => page.locator('#seatmap .sm-seat[aria-pressed="true"]').count();

  async function pay(page) {
    await page.waitForURL(/\/payment\.html\?booking=/);
    await page.locator('#card-form').waitFor();
    await page.locator('#cardholder').fill('Arena Buyer');
    await page.locator('#card-number').fill('4242 4242 4242 4242');
    await page.locator('#card-exp').fill('12/30');
    await page.locator('#card-cvc').fill('123');
    await page.getByRole('button', { name: /^Pay / }).click();
    await page.getByRole('heading', { name: /Payment successful/ }).waitFor();
  }

  async function journey(page, label, tap) {
    await page.goto(`${server.site}/booking.html?event=${event.id}`);
    await page.locator('#seatmap .sm-svg').waitFor();
    await settled(page);
    assert.equal(await page.locator('#seatmap .sm-seat').count(), 4608, 'every seat of the arena is drawn');
    await page.locator('#seatmap[data-paint-ms]').waitFor({ state: 'attached' });
    const [drawMs, paintMs] = await page.evaluate(() => [document.getElementById('seatmap').dataset.drawMs, document.getElementById('seatmap').dataset.paintMs]);
    console.log(`${label}: the arena map's 4,608 seats built and laid out in ${drawMs} ms, on screen after ${paintMs} ms`);

    await screenshot(page, PREFIX, `${label}-overview`);
    // The overview fits the first screen.
    const box = await page.locator('.sm-box').boundingBox();
    const view = page.viewportSize();
    assert.ok(box.y >= 0 && box.y + box.height <= view.height, `${label}: the map (${JSON.stringify(box)}) is inside the first screen`);
    assert.ok(box.x >= 0 && box.x + box.width <= view.width, `${label}: the map is as wide as the screen at most`);
    assert.equal(await page.locator('.sm-mini').isVisible(), false, 'no mini-map on the overview');
    assert.match(await page.locator('.sm-section[data-section="3"]').getAttribute('aria-label'), /Block 104: \d+ of \d+ seats free/);
    await noSideways(page, `${label} overview`);
    // Accessible seating (the demo festival keeps its wheelchair spaces 48 hours): said in words
    // in the key and in each such seat's name, not only by the ♿ and C symbols.
    assert.match(await page.locator('#accessible-note').textContent(),
      /^Wheelchair spaces and companion seats are kept for wheelchair users and their companions until .+\. Tick “I need a wheelchair space” to book one\.$/);
    assert.match(await page.locator('#seatmap .sm-seat[data-attrs~="wheelchair"]').first().getAttribute('aria-label'),
      /, wheelchair space, kept for wheelchair users until .+, available$/);

    // Zoom into Block 104 by tapping it.
    const block = page.locator('.sm-section[data-section="3"] polygon');
    if (tap) await block.tap();
    else await block.click();
    await page.locator('#seatmap[data-active="3"]').waitFor();
    await still(page);
    assert.ok(await page.locator('.sm-mini').isVisible(), 'the mini-map shows while zoomed in');
    assert.equal(await page.locator('.sm-seats[data-section="3"]').getAttribute('aria-hidden'), 'false', 'the open section\'s seats are in the accessibility tree');
    await noSideways(page, `${label} zoomed`);
    await screenshot(page, PREFIX, `${label}-zoomed`);

    // Pick one seat by tap or click: a free one in the middle of the block's fifth row.
    const row = page.locator('.sm-seats[data-section="3"] .sm-seat[data-row="5"][data-status="available"]');
    const first = row.nth(Math.floor((await row.count()) / 2));
    const firstName = await first.getAttribute('aria-label');
    if (tap) await first.tap();
    else await first.click();
    await waitUntil(async () => (await picked(page)) === 1, 'one seat picked');
    assert.equal(await first.getAttribute('aria-pressed'), 'true');
    await page.locator('#seat-news', { hasText: /Block 104 · Row 5 seat \d+ selected/ }).waitFor({ state: 'attached' });

    // And one by keyboard alone: back to the overview, to the next block, into it, a seat.
    await page.keyboard.press('Escape');
    await page.locator('#seatmap[data-active=""]').waitFor();
    assert.equal(await page.evaluate(() => document.activeElement.dataset.section), '3', 'the block just left has the focus');
    await page.keyboard.press('ArrowLeft');
    const next = await page.evaluate(() => document.activeElement.dataset.section);
    assert.notEqual(next, '3', 'the arrow moved to another block');
    assert.match(await page.evaluate(() => document.activeElement.getAttribute('aria-label')), /Block \d+: \d+ of \d+ seats free/);
    await page.keyboard.press('Enter');
    await page.locator(`#seatmap[data-active="${next}"]`).waitFor();
    await still(page);
    assert.ok(await page.evaluate(() => document.activeElement.classList.contains('sm-seat')), 'the keyboard is on a seat of the block');
    await page.keyboard.press('ArrowDown');
    await page.keyboard.press('ArrowRight');
    // Along the row to a free seat (the other test's buyer may have bought some): right, else left.
    for (const key of ['ArrowRight', 'ArrowLeft']) {
      for (let i = 0; i < 20 && (await page.evaluate(() => document.activeElement.dataset.status)) !== 'available'; i += 1) {
        await page.keyboard.press(key);
      }
    }
    const keyed = await page.evaluate(() => document.activeElement.getAttribute('aria-label'));
    await page.keyboard.press('Enter');
    await waitUntil(async () => (await picked(page)) === 2, 'two seats picked').catch(async (error) => {
      const why = await page.evaluate(() => [document.activeElement.outerHTML.slice(0, 300), document.querySelector('#seat-news').textContent]);
      throw new Error(`${error.message}: ${keyed} · ${JSON.stringify(why)}`);
    });
    // The live region is written 30 ms after it is emptied (so a repeat is spoken again).
    await page.locator('#seat-news', { hasText: /selected/ }).waitFor({ state: 'attached' });
    const summary = await page.locator('#summary-body').innerText();
    assert.ok(summary.includes(firstName.split(',')[0]), `the summary names ${firstName}`);
    assert.ok(summary.includes(keyed.split(',')[0]), `the summary names ${keyed}`);
    // The pick and the total stay in view (a sticky bar on a phone).
    const total = await page.locator('#summary-total').boundingBox();
    const reserve = await page.locator('#reserve').boundingBox();
    if (tap) {
      assert.ok(total.y + total.height <= view.height && reserve.y + reserve.height <= view.height, `${label}: the total and Reserve stay on screen`);
    }
    await noSideways(page, `${label} two picked`);
    await screenshot(page, PREFIX, `${label}-two-picked`);

    await page.locator('#reserve').click();
    await pay(page);
    await screenshot(page, PREFIX, `${label}-two-paid`);

    // Best available for 4.
    await page.goto(`${server.site}/booking.html?event=${event.id}`);
    await page.locator('#seatmap .sm-svg').waitFor();
    await settled(page);
    await page.locator('#best-count').selectOption('4');
    await page.locator('#best-find').click();
    await page.locator('#found-seats li').nth(3).waitFor();
    await waitUntil(async () => (await page.locator('#seatmap .sm-seat[data-mine="true"]').count()) === 4, 'four seats held on the map');
    await waitUntil(async () => (await page.locator('#seatmap').getAttribute('data-active')) !== '', 'the map shows the seats found');
    await still(page);
    await noSideways(page, `${label} best available`);
    await screenshot(page, PREFIX, `${label}-best-4`);
    await page.locator('#hold-box a', { hasText: 'Continue to payment' }).click();
    await pay(page);
    await screenshot(page, PREFIX, `${label}-best-4-paid`);
  }

  test('desktop 1280×800: overview, zoom, a seat by click and one by keyboard, best available for 4, paid', LIMIT, async () => {
    const guard = await newGuardedContext(browser, { viewport: { width: 1280, height: 800 } });
    guards.push(guard);
    const page = await guard.context.newPage();
    await uiLogin(page, server.site, CUSTOMER, `booking.html?event=${event.id}`);
    await journey(page, 'desktop', false);
  });

  test('375 px phone: the venue first, a compact key, a seat by tap and one by keyboard, best available for 4, paid', LIMIT, async () => {
    const guard = await newGuardedContext(browser, { viewport: { width: 375, height: 812 }, isMobile: true, hasTouch: true });
    guards.push(guard);
    const page = await guard.context.newPage();
    await uiLogin(page, server.site, PHONE_BUYER, `booking.html?event=${event.id}`);
    await page.locator('#seatmap .sm-svg').waitFor();
    assert.equal(await page.locator('details.map-key').getAttribute('open'), null, 'the key is closed on a phone');
    await journey(page, 'phone', true);
  });

  /** The map's view box: {x, y, w, h} in venue units. */
  async function viewBox(page) {
    const [x, y, w, h] = (await page.locator('.sm-svg').getAttribute('viewBox')).split(/\s+/).map(Number);
    return { x, y, w, h };
  }

  const centre = (vb) => [vb.x + vb.w / 2, vb.y + vb.h / 2];

  test('desktop: the wheel zooms in around the pointer, a drag pans, a click on the mini-map moves the view', LIMIT, async () => {
    const guard = await newGuardedContext(browser, { viewport: { width: 1280, height: 800 } });
    guards.push(guard);
    const page = await guard.context.newPage();
    await page.goto(`${server.site}/booking.html?event=${event.id}`);
    await page.locator('#seatmap .sm-svg').waitFor();
    await settled(page);
    await still(page);
    const overview = await viewBox(page);
    assert.equal(await page.locator('.sm-mini').isVisible(), false, 'no mini-map on the overview');

    // The wheel, over the middle of the map: in, around the pointer.
    const box = await page.locator('.sm-box').boundingBox();
    const [mx, my] = [box.x + box.width / 2, box.y + box.height / 2];
    const under = await page.evaluate(([x, y]) => {
      const p = new DOMPoint(x, y).matrixTransform(document.querySelector('.sm-svg').getScreenCTM().inverse());
      return [p.x, p.y];
    }, [mx, my]);
    await page.mouse.move(mx, my);
    for (let i = 0; i < 3; i += 1) await page.mouse.wheel(0, -300);
    await waitUntil(async () => (await viewBox(page)).w < overview.w * 0.5, 'the wheel zooms in');
    await still(page);
    const zoomed = await viewBox(page);
    assert.ok(zoomed.x <= under[0] && under[0] <= zoomed.x + zoomed.w && zoomed.y <= under[1] && under[1] <= zoomed.y + zoomed.h, 'the point under the pointer stays in view');
    assert.ok(await page.locator('.sm-mini').isVisible(), 'the mini-map shows while zoomed in');
    await screenshot(page, PREFIX, 'gesture-wheel');

    // A drag to the left and up moves the view right and down, at the same zoom.
    await page.mouse.move(mx, my);
    await page.mouse.down();
    await page.mouse.move(mx - 160, my - 60, { steps: 8 });
    await page.mouse.up();
    const dragged = await viewBox(page);
    assert.ok(Math.abs(dragged.w - zoomed.w) < 1e-6, 'a drag keeps the zoom');
    const scale = zoomed.w / box.width;
    assert.ok(Math.abs(dragged.x - zoomed.x - 160 * scale) < 2 * scale, `the view moved right by the drag: ${zoomed.x} → ${dragged.x}`);
    assert.ok(Math.abs(dragged.y - zoomed.y - 60 * scale) < 2 * scale, `the view moved down by the drag: ${zoomed.y} → ${dragged.y}`);
    assert.equal(await page.locator('#seatmap .sm-seat[aria-pressed="true"]').count(), 0, 'the drag picked no seat');
    await screenshot(page, PREFIX, 'gesture-drag');

    // A click on the mini-map, near its left edge: the view is centred on that point of the venue.
    const mini = await page.locator('.sm-mini').boundingBox();
    // Whole pixels: a click's clientX/clientY are, and a pixel of the mini-map is about a unit.
    const [cx, cy] = [Math.round(mini.x + mini.width * 0.15), Math.round(mini.y + mini.height * 0.6)];
    const target = await page.evaluate(([x, y]) => {
      const p = new DOMPoint(x, y).matrixTransform(document.querySelector('.sm-mini').getScreenCTM().inverse());
      return [p.x, p.y];
    }, [cx, cy]);
    await page.mouse.click(cx, cy);
    const onTarget = async () => {
      const [nx, ny] = centre(await viewBox(page));
      return Math.hypot(nx - target[0], ny - target[1]) < 0.5;
    };
    await waitUntil(onTarget, `the view is centred on the point clicked (${target})`).catch(async (error) => {
      throw new Error(`${error.message}: the view is ${JSON.stringify(await viewBox(page))}`);
    });
    const moved = await viewBox(page);
    assert.ok(Math.abs(moved.w - dragged.w) < 1e-6, 'the mini-map keeps the zoom');
    assert.ok(Math.abs(centre(moved)[0] - centre(dragged)[0]) > 1, 'the view moved');
    await screenshot(page, PREFIX, 'gesture-minimap');
  });

  test('375 px phone: a two-finger pinch zooms the map in', LIMIT, async () => {
    const guard = await newGuardedContext(browser, { viewport: { width: 375, height: 812 }, isMobile: true, hasTouch: true });
    guards.push(guard);
    const page = await guard.context.newPage();
    await page.goto(`${server.site}/booking.html?event=${event.id}`);
    await page.locator('#seatmap .sm-svg').waitFor();
    await settled(page);
    await still(page);
    const overview = await viewBox(page);
    const box = await page.locator('.sm-box').boundingBox();
    const [mx, my] = [box.x + box.width / 2, box.y + box.height / 2];
    // Two fingers 40 px apart, spread to 240 px apart, level (no vertical pan for the page).
    const cdp = await guard.context.newCDPSession(page);
    const touch = (type, spread) => cdp.send('Input.dispatchTouchEvent', {
      type,
      touchPoints: type === 'touchEnd' ? [] : [{ x: mx - spread / 2, y: my, id: 1 }, { x: mx + spread / 2, y: my, id: 2 }],
    });
    await touch('touchStart', 40);
    for (let spread = 60; spread <= 240; spread += 20) await touch('touchMove', spread);
    await touch('touchEnd', 0);
    await waitUntil(async () => (await viewBox(page)).w < overview.w * 0.5, 'the pinch zooms in');
    const pinched = await viewBox(page);
    // Spread six times as far apart: the view is about a sixth as wide (clamped at 6 units).
    assert.ok(pinched.w < overview.w / 3, `the pinch zoomed in: ${overview.w} → ${pinched.w}`);
    const [px, py] = centre(pinched);
    const [ox, oy] = centre(overview);
    assert.ok(Math.hypot(px - ox, py - oy) < overview.w * 0.1, 'around the fingers\' midpoint, the middle of the map');
    assert.ok(await page.locator('.sm-mini').isVisible(), 'the mini-map shows while zoomed in');
    assert.equal(await page.locator('#seatmap .sm-seat[aria-pressed="true"]').count(), 0, 'the pinch picked no seat');
    await noSideways(page, 'phone pinched');
    await screenshot(page, PREFIX, 'gesture-pinch');
  });
});
