// The session: the bearer token and the current user in localStorage, login/signup/logout,
// and "send to login.html?next=<here> and come back afterwards".
import { api } from './api.js';

const TOKEN_KEY = api.TOKEN_KEY;
const USER_KEY = 'proeventa.user';

function store() {
  try {
    return window.localStorage;
  } catch (_) {
    return null;
  }
}

/** The payload of a JWT, without checking it (the server does); null when unreadable. */
function claims(token) {
  try {
    const part = token.split('.')[1].replace(/-/g, '+').replace(/_/g, '/');
    return JSON.parse(atob(part.padEnd(part.length + ((4 - (part.length % 4)) % 4), '=')));
  } catch (_) {
    return null;
  }
}

/** This page as a relative address ("booking.html?event=…"), so the site works under any folder. */
function here() {
  const file = window.location.pathname.split('/').pop() || 'Home.html';
  return file + window.location.search + window.location.hash;
}

/** Only a page of this site may be a `next` target: "page.html" plus an optional query/hash. */
function safeNext(raw) {
  if (!raw) return null;
  const value = String(raw);
  return /^[A-Za-z0-9_-]+\.html(?:[?#][^\s]*)?$/.test(value) ? value : null;
}

export const Auth = {
  TOKEN_KEY,
  USER_KEY,
  here,
  safeNext,

  getToken() {
    const s = store();
    const token = s && s.getItem(TOKEN_KEY);
    if (!token) return null;
    const c = claims(token);
    if (c && typeof c.exp === 'number' && c.exp * 1000 <= Date.now()) {
      Auth.clear();
      return null;
    }
    return token;
  },

  /** The user stored at login (id, email, name, role), or null. */
  getUser() {
    if (!Auth.getToken()) return null;
    try {
      return JSON.parse(store().getItem(USER_KEY)) || null;
    } catch (_) {
      return null;
    }
  },

  isLoggedIn: () => Boolean(Auth.getToken()),
  isAdmin() {
    const user = Auth.getUser();
    return Boolean(user && user.role === 'admin');
  },

  setSession(token, user) {
    const s = store();
    if (!s) return;
    s.setItem(TOKEN_KEY, token);
    s.setItem(USER_KEY, JSON.stringify(user));
    window.dispatchEvent(new CustomEvent('proeventa:session'));
  },

  setUser(user) {
    const s = store();
    if (s && user) s.setItem(USER_KEY, JSON.stringify(user));
    window.dispatchEvent(new CustomEvent('proeventa:session'));
  },

  clear() {
    const s = store();
    if (!s) return;
    s.removeItem(TOKEN_KEY);
    s.removeItem(USER_KEY);
  },

  async login(email, password) {
    const answer = await api.auth.login({ email, password });
    Auth.setSession(answer.access_token, answer.user);
    return answer.user;
  },

  /** Creates the account, then logs in with it. */
  async signup(email, password, name) {
    await api.auth.signup({ email, password, name: name || undefined });
    return Auth.login(email, password);
  },

  logout() {
    Auth.clear();
    window.dispatchEvent(new CustomEvent('proeventa:session'));
  },

  /** Re-reads the account from the API (and keeps it). */
  async refreshUser() {
    const user = await api.auth.me();
    Auth.setUser(user);
    return user;
  },

  loginUrl(next) {
    const target = safeNext(next || here());
    return 'login.html' + (target && !/^login\.html/.test(target) ? '?next=' + encodeURIComponent(target) : '');
  },

  redirectToLogin(next) {
    window.location.assign(Auth.loginUrl(next));
  },

  /** True when logged in; otherwise goes to the login page (which brings the user back here). */
  requireLogin() {
    if (Auth.isLoggedIn()) return true;
    Auth.redirectToLogin();
    return false;
  },

  /** Where to go after logging in: ?next= when it is a page of this site. */
  nextPage(fallback) {
    const params = new URLSearchParams(window.location.search);
    return safeNext(params.get('next')) || fallback || 'profile.html';
  },
};

// A token the API refuses (expired, user disabled) is dropped at once.
api.onUnauthorized = () => {
  Auth.clear();
  window.dispatchEvent(new CustomEvent('proeventa:session'));
};
