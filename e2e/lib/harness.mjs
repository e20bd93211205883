// Test harness of the booking site: starts `proeventa serve --demo` on free ports with a fresh
// SQLite file, drives Debian's Chromium through playwright-core, keeps every request on this
// machine, and writes screenshots to e2e/screenshots/.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

export const E2E_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const REPO_DIR = path.resolve(E2E_DIR, '..');
export const SCREENSHOT_DIR = path.join(E2E_DIR, 'screenshots');
const BINARY = process.env.PROEVENTA_BIN || path.join(REPO_DIR, 'target', 'debug', 'proeventa');
const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';

export const ADMIN = { email: 'admin@proeventa.test', password: 'admin-demo-2026' };
export const CUSTOMER = { email: 'ana@proeventa.test', password: 'customer-demo-2026' };

/** Resolves when `check` returns a truthy value; rejects with `what` after `timeout` ms. */
export async function waitUntil(check, what, timeout = 10_000, every = 100) {
  const end = Date.now() + timeout;
  let last;
  for (;;) {
    try {
      const value = await check();
      if (value) return value;
    } catch (error) {
      last = error;
    }
    if (Date.now() > end) throw new Error(`timed out after ${timeout} ms waiting for ${what}${last ? ` (last error: ${last.message})` : ''}`);
    await new Promise((r) => setTimeout(r, every));
  }
}

/**
 * Starts the server on free ports (PORT=0, SITE_PORT=0) with a fresh SQLite database in a temp
 * folder and the demo data (plus `extraEnv`); resolves with { api, site, stop() } once it
 * printed its URLs.
 */
export async function startServer(extraEnv = {}) {
  if (!fs.existsSync(BINARY)) {
    throw new Error(`${BINARY} is missing: run \`cargo build -p proeventa\` first (make e2e does)`);
  }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'proeventa-e2e-'));
  const env = {
    PATH: process.env.PATH,
    HOME: process.env.HOME || dir,
    DATABASE_URL: `sqlite://${path.join(dir, 'e2e.db')}`,
    PORT: '0',
    SITE_PORT: '0',
    HOST: '127.0.0.1',
    SITE_DIR: path.join(REPO_DIR, 'booking'),
    JWT_SECRET: `e2e-${process.pid}-${Date.now()}-secret-with-enough-length`,
    WEBHOOK_SECRET: 'e2e-webhook-secret',
    LOG_FORMAT: 'pretty',
    RUST_LOG: process.env.E2E_RUST_LOG || 'warn',
    ...extraEnv,
  };
  const child = spawn(BINARY, ['serve', '--demo'], { cwd: dir, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.setEncoding('utf8');
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (d) => {
    err += d;
    if (err.length > 200_000) err = err.slice(-100_000);
  });
  const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));

  const urls = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`proeventa did not print its URLs within 30 s.\nstdout:\n${out}\nstderr:\n${err}`)), 30_000);
    child.stdout.on('data', (d) => {
      out += d;
      const api = out.match(/^\s*API\s+(http:\/\/\S+)/m);
      const site = out.match(/^\s*site\s+(http:\/\/\S+)/m);
      if (api && site) {
        clearTimeout(timer);
        resolve({ api: api[1].replace(/\/$/, ''), site: site[1].replace(/\/Home\.html$/, '') });
      }
    });
    exited.then(({ code, signal }) => {
      clearTimeout(timer);
      reject(new Error(`proeventa exited early (code ${code}, signal ${signal}).\nstdout:\n${out}\nstderr:\n${err}`));
    });
  });

  return {
    ...urls,
    logs: () => err,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        const done = await Promise.race([exited, new Promise((r) => setTimeout(() => r(null), 10_000))]);
        if (!done) {
          child.kill('SIGKILL');
          await exited;
        }
      }
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * Debian's Chromium, headless; Playwright gives it a fresh temporary --user-data-dir.
 * `extraArgs`: more switches (a fake camera: lib/camera.mjs).
 */
export async function launchBrowser(extraArgs = []) {
  if (!fs.existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: apt-get install -y chromium (make e2e does)`);
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      ...extraArgs,
    ],
  });
}

const LOCAL_HOSTS = new Set(['127.0.0.1', 'localhost', '[::1]', '::1']);

/**
 * A browser context whose every request is routed: anything not addressed to this machine is
 * aborted and recorded in `blocked`, and uncaught page errors and Content-Security-Policy violations
 * are recorded in `pageErrors`.
 */
export async function newGuardedContext(browser, options = {}) {
  // English unless a test asks for another language: the site follows the browser's (i18n.js).
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, locale: 'en-US', ...options });
  const blocked = [];
  const pageErrors = [];
  await context.route('**/*', (route) => {
    const url = new URL(route.request().url());
    if (LOCAL_HOSTS.has(url.hostname)) return route.continue();
    blocked.push(url.href);
    return route.abort('blockedbyclient');
  });
  context.on('page', (page) => {
    page.on('pageerror', (error) => pageErrors.push(`${page.url()}: ${error.message}`));
    // The site is served with a strict Content-Security-Policy: anything it refuses is a bug.
    page.on('console', (message) => {
      if (message.type() === 'error' && /Content Security Policy/i.test(message.text())) {
        pageErrors.push(`${page.url()}: ${message.text()}`);
      }
    });
  });
  context.setDefaultTimeout(15_000);
  context.setDefaultNavigationTimeout(20_000);
  return { context, blocked, pageErrors };
}

let shotCounter = 0;
/** A full-page screenshot in e2e/screenshots/<prefix>-<nn>-<name>.png. */
export async function screenshot(page, prefix, name) {
  fs.mkdirSync(SCREENSHOT_DIR, { recursive: true });
  shotCounter += 1;
  const file = path.join(SCREENSHOT_DIR, `${prefix}-${String(shotCounter).padStart(2, '0')}-${name}.png`);
  // From the top, so sticky and fixed parts (header, summary bar) sit where a person sees them.
  await page.evaluate(() => window.scrollTo(0, 0));
  await page.screenshot({ path: file, fullPage: true });
  return file;
}

/** Clears old screenshots of one test file. */
export function clearScreenshots(prefix) {
  fs.mkdirSync(SCREENSHOT_DIR, { recursive: true });
  for (const f of fs.readdirSync(SCREENSHOT_DIR)) if (f.startsWith(prefix + '-')) fs.rmSync(path.join(SCREENSHOT_DIR, f));
}

/** JSON call straight to the API (test setup and checks, never the thing under test). */
export async function api(base, method, route, { token, body } = {}) {
  const res = await fetch(base + route, {
    method,
    headers: { ...(body ? { 'content-type': 'application/json' } : {}), ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await res.text();
  const data = text ? JSON.parse(text) : null;
  if (!res.ok) throw new Error(`${method} ${route} → ${res.status} ${text}`);
  return data;
}

export async function apiLogin(base, who) {
  return (await api(base, 'POST', '/auth/login', { body: who })).access_token;
}

/** Logs in through login.html (and waits for the redirect away from it). */
export async function uiLogin(page, site, who, next) {
  await page.goto(`${site}/login.html${next ? `?next=${encodeURIComponent(next)}` : ''}`);
  await page.locator('#login-email').fill(who.email);
  await page.locator('#login-password').fill(who.password);
  await Promise.all([
    page.waitForURL((url) => !url.pathname.endsWith('/login.html')),
    page.locator('#login-form').getByRole('button', { name: 'Log in' }).click(),
  ]);
}

/** Waits until no element inside <main> is marked aria-busy (the page finished loading). */
export async function settled(page) {
  await page.waitForFunction(() => !document.querySelector('main [aria-busy="true"]'));
}

/** The page's width against the viewport: true when nothing scrolls sideways. */
export async function horizontalOverflow(page) {
  return page.evaluate(() => ({
    scrollWidth: document.documentElement.scrollWidth,
    clientWidth: document.documentElement.clientWidth,
    innerWidth: window.innerWidth,
    widest: Array.from(document.querySelectorAll('body *'))
      .filter((el) => el.getBoundingClientRect().right > window.innerWidth + 1)
      .filter((el) => !el.closest('.seatmap-scroll, .main-nav, .admin-tabs'))
      .slice(0, 5)
      .map((el) => `${el.tagName.toLowerCase()}${el.id ? '#' + el.id : ''}.${[...el.classList].join('.')} right=${Math.round(el.getBoundingClientRect().right)}`),
  }));
}

/** The parts of an instant on the clock of `timeZone`, as a person there reads them (Node's Intl). */
export function clockIn(instant, timeZone) {
  const parts = {};
  new Intl.DateTimeFormat('en-GB', {
    timeZone,
    weekday: 'short',
    day: 'numeric',
    month: 'short',
    year: 'numeric',
    hour: '2-digit',
    minute: '2-digit',
    hourCycle: 'h23',
  })
    .formatToParts(new Date(instant))
    .forEach((p) => {
      parts[p.type] = p.value;
    });
  return { ...parts, clock: `${parts.hour}:${parts.minute}` };
}

/**
 * "Sat 12 Dec 2026, 20:00 Berlin time": an instant on a venue's clock with the venue's label, the
 * words the site and the tickets must show; worked out here, not with the site's code.
 */
export function venueTime(instant, timeZone) {
  const c = clockIn(instant, timeZone);
  const label = timeZone.includes('/') ? timeZone.split('/').pop().replace(/_/g, ' ') + ' time' : timeZone;
  return `${c.weekday} ${c.day} ${c.month} ${c.year}, ${c.clock} ${label}`;
}
