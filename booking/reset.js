// reset.html: the page a password reset mail links to. The token comes in the address's fragment
// (reset.html#token=…), which a browser never sends to a server, so it reaches no access log; the
// page takes it out of the address bar at once and sends it only with the new password.
import { api } from './api.js';
import { Auth } from './auth.js';
import { byId, html, render } from './dom.js';
import { t } from './i18n.js';
import * as UI from './ui.js';

const form = byId('reset-form');
const alertEl = byId('reset-alert');
const doneEl = byId('reset-done');

function tokenFromAddress() {
  const fragment = new URLSearchParams(location.hash.replace(/^#/, ''));
  return fragment.get('token') || new URLSearchParams(location.search).get('token') || '';
}

const token = tokenFromAddress();
if (token) history.replaceState(null, '', 'reset.html');

function invalid(input, bad) {
  input.setAttribute('aria-invalid', bad ? 'true' : 'false');
  return bad;
}

if (!token) {
  form.hidden = true;
  UI.showError(t('This link is incomplete'), t('Open the link from the mail as it is, or ask for a new one.'), alertEl);
}

form.addEventListener('submit', async (e) => {
  e.preventDefault();
  UI.clear(alertEl);
  const password = form.elements.namedItem('password');
  const repeat = form.elements.namedItem('repeat');
  if (invalid(password, password.value.length < 8 || password.value.length > 128)) {
    UI.showError(t('Choose a longer password'), t('Your password needs 8 to 128 characters.'), alertEl);
    password.focus();
    return;
  }
  if (invalid(repeat, repeat.value !== password.value)) {
    UI.showError(t('The passwords differ'), t('Type the same new password twice.'), alertEl);
    repeat.focus();
    return;
  }
  const button = form.querySelector('button[type="submit"]');
  try {
    const user = await UI.busy(button, t('Saving…'), () => api.auth.confirmPasswordReset(token, password.value));
    // Every session from before the reset has ended: this browser's too.
    Auth.clear();
    form.hidden = true;
    byId('reset-onward').hidden = true;
    doneEl.className = 'notice notice-success';
    render(
      doneEl,
      html`${UI.icon('check', 'notice-icon')}
        <div><strong class="notice-title">${t('Your password is changed')}</strong>
          <span class="notice-text">${t('Log in with your new password.')}</span>
          <a class="btn btn-primary" id="reset-login" href="login.html">${t('Log in')}</a></div>`,
    );
    doneEl.hidden = false;
    const email = user && user.email ? user.email : '';
    if (email) byId('reset-login').href = 'login.html?email=' + encodeURIComponent(email);
    byId('reset-login').focus();
  } catch (error) {
    UI.handleError(error, alertEl);
  }
});
