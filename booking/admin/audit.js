// Admin, Audit tab (issue 21): every admin action, newest first: who, when, what, on which
// entity, and the fields it changed (before → after). Filters by kind (and id), admin and dates;
// paged like the other lists.
import { api } from '../api.js';
import { Format } from '../data.js';
import { byId, html, render } from '../dom.js';
import { newestWins, Pager } from '../requests.js';
import * as UI from '../ui.js';
import { PAGE, state } from './shared.js';

const reads = newestWins();
let pager = null;

/** A field's value as a person reads it. */
function shown(value) {
  if (value === null || value === undefined) return '—';
  if (typeof value === 'object') return JSON.stringify(value);
  return String(value);
}

function changes(entry) {
  const before = entry.before || {};
  const after = entry.after || {};
  const fields = Object.keys(after).length ? Object.keys(after) : Object.keys(before);
  if (!fields.length) return '';
  return html`<dl class="audit-changes">${fields.map(
    (field) => html`<div><dt>${field}</dt><dd>${entry.before ? html`<del>${shown(before[field])}</del> → ` : ''}<ins>${shown(after[field])}</ins></dd></div>`,
  )}</dl>`;
}

function entryItem(entry) {
  return html`<div class="list-item audit-entry" data-audit-id="${entry.id}">
    <div class="grow">
      <h3><code>${entry.action}</code> · ${entry.entity_kind} <span class="muted small">${entry.entity_id}</span></h3>
      <p>${entry.actor_email} · <time datetime="${entry.at}">${Format.dateTime(entry.at)}</time></p>
      ${changes(entry)}
    </div>
  </div>`;
}

function filters() {
  const kind = byId('audit-kind').value;
  const id = byId('audit-entity').value.trim();
  const query = { ...pager.query };
  if (kind) query.entity = id ? kind + ':' + id : kind;
  const actor = byId('audit-actor').value;
  if (actor) query.actor = actor;
  // Dates are whole days: the API reads a date alone as its start (from) or its end (to), UTC.
  if (byId('audit-from').value) query.from = byId('audit-from').value;
  if (byId('audit-to').value) query.to = byId('audit-to').value;
  return query;
}

/** The admins to filter by: the accounts with the admin role (one page is plenty). */
async function loadAdmins() {
  try {
    const users = await api.auth.listUsers({ limit: 200 });
    const admins = users.filter((u) => u.role === 'admin');
    render(
      byId('audit-actor'),
      html`<option value="">Any admin</option>${admins.map((u) => html`<option value="${u.id}">${u.email}</option>`)}`,
    );
  } catch (error) {
    UI.handleError(error);
  }
}

export async function loadAudit() {
  const list = byId('admin-audit');
  const ticket = reads.next();
  list.setAttribute('aria-busy', 'true');
  try {
    const entries = await api.audit.list(filters(), { signal: ticket.signal });
    if (ticket.stale) return;
    render(list, entries.length ? entries.map(entryItem) : UI.emptyState('No entries', 'No admin action matches these filters.'));
    pager.received(entries.length);
  } catch (error) {
    if (!ticket.stale) UI.handleError(error);
  } finally {
    if (!ticket.stale) list.removeAttribute('aria-busy');
  }
  if (byId('audit-actor').options.length === 1 && state.me) loadAdmins();
}

export function setupAudit() {
  pager = new Pager(PAGE, { previous: byId('audit-prev'), next: byId('audit-next'), onChange: loadAudit });
  byId('audit-filters').addEventListener('submit', (e) => {
    e.preventDefault();
    pager.reset();
    loadAudit();
  });
}
