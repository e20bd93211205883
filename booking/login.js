// login.html: log in or create an account, then back to ?next= (the page that sent you here).
import { api } from './api.js';
import { Auth } from './auth.js';
import { byId, html, render } from './dom.js';
import { t } from './i18n.js';
import * as UI from './ui.js';

const tabs = {
  login: byId('tab-login'),
  signup: byId('tab-signup'),
};
const panels = {
  login: byId('login-panel'),
  signup: byId('signup-panel'),
};
const forgotPanel = byId('forgot-panel');
const forgotForm = byId('forgot-form');
const forgotSent = byId('forgot-sent');
const alertEl = byId('auth-alert');
const loginForm = byId('login-form');
const signupForm = byId('signup-form');
const next = Auth.nextPage('profile.html');

function select(which, focus) {
  forgotPanel.hidden = true;
  byId('tab-login').parentElement.hidden = false;
  Object.keys(tabs).forEach((key) => {
    const on = key === which;
    tabs[key].setAttribute('aria-selected', String(on));
    tabs[key].tabIndex = on ? 0 : -1;
    panels[key].hidden = !on;
  });
  UI.clear(alertEl);
  UI.setTitle(which === 'login' ? t('Log in') : t('Create account'));
  if (focus) tabs[which].focus();
}

tabs.login.addEventListener('click', () => select('login'));
tabs.signup.addEventListener('click', () => select('signup'));
Object.values(tabs).forEach((tab) => {
  tab.addEventListener('keydown', (e) => {
    if (e.key === 'ArrowRight' || e.key === 'ArrowLeft') {
      e.preventDefault();
      select(tab === tabs.login ? 'signup' : 'login', true);
    }
  });
});

function invalid(input, bad) {
  input.setAttribute('aria-invalid', bad ? 'true' : 'false');
  return bad;
}

function checkEmail(input) {
  return !invalid(input, !/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(input.value.trim()));
}

loginForm.addEventListener('submit', async (e) => {
  e.preventDefault();
  UI.clear(alertEl);
  const email = loginForm.elements.namedItem('email');
  const password = loginForm.elements.namedItem('password');
  if (!checkEmail(email)) {
    UI.showError(t('Check your e-mail'), t('Enter the e-mail address of your account, like name@example.com.'), alertEl);
    email.focus();
    return;
  }
  if (invalid(password, !password.value)) {
    UI.showError(t('Password missing'), t('Enter your password.'), alertEl);
    password.focus();
    return;
  }
  const button = loginForm.querySelector('button[type="submit"]');
  try {
    await UI.busy(button, t('Logging in…'), () => Auth.login(email.value.trim(), password.value));
    location.assign(next);
  } catch (error) {
    UI.handleError(error, alertEl);
    password.select();
  }
});

signupForm.addEventListener('submit', async (e) => {
  e.preventDefault();
  UI.clear(alertEl);
  const field = (n) => signupForm.elements.namedItem(n);
  const name = field('name');
  const email = field('email');
  const password = field('password');
  if (!checkEmail(email)) {
    UI.showError(t('Check your e-mail'), t('Enter a valid e-mail address, like name@example.com.'), alertEl);
    email.focus();
    return;
  }
  if (invalid(password, password.value.length < 8 || password.value.length > 128)) {
    UI.showError(t('Choose a longer password'), t('Your password needs 8 to 128 characters.'), alertEl);
    password.focus();
    return;
  }
  const button = signupForm.querySelector('button[type="submit"]');
  try {
    await UI.busy(button, t('Creating your account…'), () => Auth.signup(email.value.trim(), password.value, name.value.trim()));
    location.assign(next);
  } catch (error) {
    UI.handleError(error, alertEl);
    if (error.code === 'email_taken') {
      loginForm.elements.namedItem('email').value = email.value.trim();
    }
  }
});

// "Forgot password?": the address only. The answer is the same whether or not it has an account,
// so the page says so rather than "sent".
function showForgot() {
  Object.values(panels).forEach((panel) => {
    panel.hidden = true;
  });
  byId('tab-login').parentElement.hidden = true;
  UI.clear(alertEl);
  UI.clear(forgotSent);
  forgotPanel.hidden = false;
  UI.setTitle(t('Forgot your password?'));
  const typed = loginForm.elements.namedItem('email').value.trim();
  const email = forgotForm.elements.namedItem('email');
  if (typed && !email.value) email.value = typed;
  email.focus();
}

byId('forgot-link').addEventListener('click', (e) => {
  e.preventDefault();
  history.replaceState(null, '', 'login.html' + location.search + '#forgot');
  showForgot();
});
byId('forgot-back').addEventListener('click', (e) => {
  e.preventDefault();
  history.replaceState(null, '', 'login.html' + location.search);
  select('login', true);
});

forgotForm.addEventListener('submit', async (e) => {
  e.preventDefault();
  UI.clear(alertEl);
  UI.clear(forgotSent);
  const email = forgotForm.elements.namedItem('email');
  if (!checkEmail(email)) {
    UI.showError(t('Check your e-mail'), t('Enter the e-mail address of your account, like name@example.com.'), alertEl);
    email.focus();
    return;
  }
  const button = forgotForm.querySelector('button[type="submit"]');
  try {
    await UI.busy(button, t('Sending…'), () => api.auth.requestPasswordReset(email.value.trim()));
    UI.showStatus(
      t('If an account exists for that address, we sent a link to choose a new password. It works once and for a short time only.'),
      'success',
      forgotSent,
      t('Check your inbox'),
    );
  } catch (error) {
    UI.handleError(error, alertEl);
  }
});

const params = new URLSearchParams(location.search);
if (params.get('next')) {
  byId('login-reason').textContent = /^booking\.html/.test(next)
    ? t('Log in to hold your seats. Your picks are kept.')
    : t('Please log in to continue.');
}
select(params.get('mode') === 'signup' ? 'signup' : 'login');
// After a password reset, reset.html sends the account's address along.
if (params.get('email')) loginForm.elements.namedItem('email').value = params.get('email');
if (location.hash === '#forgot') showForgot();

const user = Auth.getUser();
if (user) {
  const already = byId('already');
  already.hidden = false;
  render(
    already,
    html`<div class="notice notice-info">${UI.icon('user')}
      <div>${t('You are logged in as')} <strong>${user.email}</strong>. <a href="${next}">${t('Continue')}</a> ${t('or log in with another account below.')}</div>
    </div>`,
  );
}
