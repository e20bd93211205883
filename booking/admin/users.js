// Admin, Users tab: search by name or e-mail, page through the accounts, promote or demote,
// disable or enable (never one's own account).
import { api } from '../api.js';
import { Format } from '../data.js';
import { byId, html, render, replace } from '../dom.js';
import { newestWins, Pager } from '../requests.js';
import * as UI from '../ui.js';
import { askFirst, badge, PAGE, state } from './shared.js';

const searches = newestWins();
let pager = null;

function userItem(u) {
  const self = state.me && u.id === state.me.id;
  const admin = u.role === 'admin';
  return html`<div class="list-item" data-user-id="${u.id}">
    <div class="grow">
      <h3>${u.name || u.email}${self ? html` <span class="muted small">(you)</span>` : ''}</h3>
      <p>${u.email} · joined ${Format.date(u.created_at)}</p>
      <p>${admin ? badge('Admin', 'admin') : badge('Customer', 'on_sale')}${u.disabled ? html` ${badge('Disabled', 'disabled')}` : ''}</p>
    </div>
    ${self
      ? ''
      : html`<div class="btn-row">
        <button class="btn btn-ghost btn-sm" type="button" data-role="${admin ? 'customer' : 'admin'}">${admin ? 'Make customer' : 'Promote to admin'}</button>
        <button class="btn ${u.disabled ? 'btn-secondary' : 'btn-danger'} btn-sm" type="button" data-disable="${!u.disabled}">${u.disabled ? 'Enable' : 'Disable'}</button>
      </div>`}
    <div class="confirm-slot"></div>
  </div>`;
}

export async function loadUsers() {
  const list = byId('admin-users');
  const ticket = searches.next(); // a newer search answered or will answer
  list.setAttribute('aria-busy', 'true');
  try {
    const users = await api.auth.listUsers({ q: byId('users-q').value.trim(), ...pager.query }, { signal: ticket.signal });
    if (ticket.stale) return;
    users.forEach((u) => state.users.set(u.id, u));
    render(list, users.length ? users.map(userItem) : UI.emptyState('No users found', 'Try another search.'));
    pager.received(users.length);
  } catch (error) {
    if (!ticket.stale) UI.handleError(error);
  } finally {
    if (!ticket.stale) list.removeAttribute('aria-busy');
  }
}

async function changeUser(item, button) {
  const changes = button.dataset.role ? { role: button.dataset.role } : { disabled: button.dataset.disable === 'true' };
  try {
    const updated = await UI.busy(button, 'Saving…', () => api.auth.updateUser(item.dataset.userId, changes));
    state.users.set(updated.id, updated);
    replace(item, userItem(updated));
    const now = changes.role ? (updated.role === 'admin' ? 'an admin' : 'a customer') : updated.disabled ? 'disabled' : 'enabled';
    UI.showStatus((updated.name || updated.email) + ' is now ' + now + '.', 'success');
  } catch (error) {
    UI.handleError(error);
  }
}

export function setupUsers() {
  pager = new Pager(PAGE, { previous: byId('users-prev'), next: byId('users-next'), onChange: loadUsers });
  byId('user-search').addEventListener('submit', (e) => {
    e.preventDefault();
    pager.reset();
    loadUsers();
  });
  byId('admin-users').addEventListener('click', (e) => {
    const item = e.target.closest('[data-user-id]');
    const button = e.target.closest('[data-role],[data-disable]');
    if (!item || !button) return;
    if (button.dataset.disable !== 'true') {
      changeUser(item, button);
      return;
    }
    // Disabling ends the account's sessions at once: ask first, naming whom.
    const u = state.users.get(item.dataset.userId) || {};
    askFirst(item.querySelector('.confirm-slot'), {
      question: 'Disable ' + (u.name || u.email || 'this account') + '?',
      consequence: 'They are logged out everywhere at once and cannot log in until an admin enables the account again.',
      yes: 'Yes, disable',
      busyText: 'Disabling…',
      action: () => changeUser(item, button),
    });
  });
}
