// Account recovery in a real Chromium against a real `proeventa serve --demo`, the mail read from
// the server's own mail folder (MAIL_URL=file://…, one .eml per mail, as `make run` keeps them):
// "Forgot password?" on login.html → the same answer for an address with and without an account
// → the mail's link → reset.html with the new password twice → log in with it. The old password
// no longer logs in, the session from before the reset has ended, and the used link says so.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { api, apiLogin, clearScreenshots, launchBrowser, newGuardedContext, screenshot, startServer, waitUntil } from '../lib/harness.mjs';

const PREFIX = 'recovery';
const LIMIT = { timeout: 90_000 };

/** A mail's text as a client reads it: quoted-printable soft breaks joined and escapes decoded,
 * base64 bodies decoded. Good enough to find a link in what lettre writes. */
function readable(raw) {
  const qp = raw.replace(/=\r?\n/g, '').replace(/=([0-9A-F]{2})/g, (_, hex) => String.fromCharCode(parseInt(hex, 16)));
  const decoded = [...raw.matchAll(/\r?\n\r?\n([A-Za-z0-9+/=\r\n]{40,})/g)]
    .map((m) => Buffer.from(m[1].replace(/\s/g, ''), 'base64').toString('utf8'))
    .join('\n');
  return qp + '\n' + decoded;
}

/** The reset mails to `email` in the folder, oldest first, as text. */
function resetMails(folder, email) {
  if (!fs.existsSync(folder)) return [];
  return fs
    .readdirSync(folder)
    .filter((f) => f.endsWith('.eml'))
    .map((f) => ({ f, stat: fs.statSync(path.join(folder, f)) }))
    .sort((a, b) => a.stat.mtimeMs - b.stat.mtimeMs)
    .map(({ f }) => fs.readFileSync(path.join(folder, f), 'utf8'))
    .filter((raw) => raw.includes(email) && /Reset your ProEventa password/.test(raw))
    .map(readable);
}

describe('account recovery', () => {
  let server;
  let browser;
  let mailDir;
  const who = { email: `rita-${Date.now()}@example.com`, password: 'rita-old-password', name: 'Rita' };
  const NEW_PASSWORD = 'rita-new-password-2';

  before(async () => {
    clearScreenshots(PREFIX);
    mailDir = fs.mkdtempSync(path.join(os.tmpdir(), 'proeventa-e2e-mail-'));
    server = await startServer({ MAIL_URL: `file://${mailDir}` });
    browser = await launchBrowser();
    await api(server.api, 'POST', '/auth/signup', { body: who });
  });

  after(async () => {
    await browser?.close();
    await server?.stop();
    if (mailDir) fs.rmSync(mailDir, { recursive: true, force: true });
  });

  test('forgot password → the mail → a new password → log in with it', LIMIT, async () => {
    const oldSession = await apiLogin(server.api, who);
    const { context, blocked, pageErrors } = await newGuardedContext(browser);
    const page = await context.newPage();

    await page.goto(`${server.site}/login.html`);
    await page.getByRole('link', { name: 'Forgot password?' }).click();
    await page.getByRole('heading', { name: 'Forgot your password?' }).waitFor();
    const sent = page.locator('#forgot-sent');

    // An address without an account gets the very same answer, and no mail.
    await page.locator('#forgot-email').fill('nobody-here@example.com');
    await page.getByRole('button', { name: 'Send the link' }).click();
    await sent.getByText('If an account exists for that address').waitFor();
    const answerForUnknown = (await sent.innerText()).trim();

    await page.locator('#forgot-email').fill(who.email);
    await page.getByRole('button', { name: 'Send the link' }).click();
    await page.waitForFunction(() => !document.querySelector('#forgot-form button[aria-busy="true"]'));
    await sent.getByText('If an account exists for that address').waitFor();
    assert.equal((await sent.innerText()).trim(), answerForUnknown, 'the same answer for both addresses');
    await screenshot(page, PREFIX, 'link-sent');

    // The server's sender delivers the outbox every 2 s: the mail arrives with its link.
    // (An empty list is truthy: wait for the first mail itself.)
    const mail = await waitUntil(() => resetMails(mailDir, who.email)[0], 'the reset mail', 20_000, 250);
    assert.ok(!mail.includes(who.password) && !mail.includes('argon2'), 'no password material in the mail');
    const link = /(https?:\/\/\S+\/reset\.html#token=[A-Za-z0-9_-]{43})/.exec(mail)?.[1];
    assert.ok(link, `a reset link in the mail:\n${mail.slice(0, 2000)}`);
    const url = new URL(link);
    assert.equal(url.origin, server.site, 'the link points at the site');
    assert.equal(url.search, '', 'the token travels in the fragment, never to a server');

    await page.goto(link);
    await page.getByRole('heading', { name: 'Choose a new password' }).waitFor();
    assert.ok(!page.url().includes('token'), `the token leaves the address bar: ${page.url()}`);
    await page.locator('#reset-password').fill(NEW_PASSWORD);
    await page.locator('#reset-repeat').fill(NEW_PASSWORD + 'x');
    await page.getByRole('button', { name: 'Save the new password' }).click();
    await page.locator('#reset-alert').getByText('The passwords differ').waitFor();
    await page.locator('#reset-repeat').fill(NEW_PASSWORD);
    await page.getByRole('button', { name: 'Save the new password' }).click();
    await page.locator('#reset-done').getByText('Your password is changed').waitFor();
    await screenshot(page, PREFIX, 'password-changed');

    // The session from before the reset has ended; the old password no longer logs in.
    const me = await fetch(`${server.api}/auth/me`, { headers: { authorization: `Bearer ${oldSession}` } });
    assert.equal(me.status, 401, 'a session issued before the reset ends');
    const old = await fetch(`${server.api}/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email: who.email, password: who.password }),
    });
    assert.equal(old.status, 401, 'the old password no longer logs in');

    // "Log in" leads to the login page with the address filled in; the new password works.
    await page.locator('#reset-login').click();
    await page.waitForURL((u) => u.pathname.endsWith('/login.html'));
    assert.equal(await page.locator('#login-email').inputValue(), who.email);
    await page.locator('#login-password').fill(NEW_PASSWORD);
    await Promise.all([
      page.waitForURL((u) => !u.pathname.endsWith('/login.html')),
      page.locator('#login-form').getByRole('button', { name: 'Log in' }).click(),
    ]);
    await screenshot(page, PREFIX, 'logged-in');

    // The same link a second time: it says it no longer works, and offers a new one.
    await page.goto(link);
    await page.locator('#reset-password').fill('someone-else-123');
    await page.locator('#reset-repeat').fill('someone-else-123');
    await page.getByRole('button', { name: 'Save the new password' }).click();
    await page.locator('#reset-alert').getByText('This link does not work any more').waitFor();
    await page.getByRole('link', { name: 'Ask for a new link' }).waitFor();
    await screenshot(page, PREFIX, 'link-used');
    await apiLogin(server.api, { email: who.email, password: NEW_PASSWORD });

    assert.deepEqual(blocked, [], 'no request left this machine');
    assert.deepEqual(pageErrors, [], 'no page error');
    await context.close();
  });
});
