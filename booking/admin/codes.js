// Admin, Codes tab (issue 21): promo codes (percent or fixed off, for one event or all, tied to
// tiers, with a validity window and use limits) and access codes (unlock one event's presale);
// listed with their uses, created here, deleted after asking.
import { api } from '../api.js';
import { Format } from '../data.js';
import { byId, html, render } from '../dom.js';
import * as UI from '../ui.js';
import { askFirst, problemSentence, state } from './shared.js';

function valueText(c) {
  if (c.kind === 'percent') return c.value + '% off';
  if (c.kind === 'fixed') return Format.money(c.value, 'EUR') + ' off';
  return 'presale access';
}

function eventName(eventId) {
  if (!eventId) return 'all events';
  const event = state.events.find((e) => e.id === eventId);
  return event ? event.name : 'event ' + eventId.slice(0, 8);
}

function windowText(c) {
  if (!c.valid_from && !c.valid_to) return 'always valid';
  const from = c.valid_from ? Format.dateTime(c.valid_from) : 'now';
  const to = c.valid_to ? Format.dateTime(c.valid_to) : 'open end';
  return from + ' – ' + to;
}

function codeItem(c) {
  const uses = c.uses + ' / ' + (c.max_uses == null ? '∞' : c.max_uses) + ' uses';
  const perUser = c.max_uses_per_user == null ? '' : ' (' + c.max_uses_per_user + ' per account)';
  const tiers = c.tiers.length ? ' · tiers ' + c.tiers.join(', ') : '';
  return html`<div class="list-item" data-code-id="${c.id}">
    <div class="grow">
      <h3>${c.code}</h3>
      <p>${valueText(c)} · ${eventName(c.event_id)}${tiers} · ${uses}${perUser} · ${windowText(c)}</p>
    </div>
    <div class="btn-row"><button class="btn btn-danger btn-sm" type="button" data-delete>Delete</button></div>
    <div class="confirm-slot"></div>
  </div>`;
}

export async function loadCodes() {
  fillEvents();
  const list = byId('admin-codes');
  list.setAttribute('aria-busy', 'true');
  try {
    const codes = await api.codes.list();
    render(
      list,
      codes.length ? codes.map(codeItem) : UI.emptyState('No codes yet', 'Create a promo or access code above.'),
    );
  } catch (error) {
    UI.handleError(error);
  } finally {
    list.removeAttribute('aria-busy');
  }
}

/** The events a code may be tied to, in the form's select. */
function fillEvents() {
  const select = byId('code-event');
  const chosen = select.value;
  render(
    select,
    html`<option value="">All events</option>${state.events.map((e) => html`<option value="${e.id}">${e.name}</option>`)}`,
  );
  select.value = chosen;
}

function optionalNumber(id) {
  const raw = byId(id).value.trim();
  return raw === '' ? undefined : Number(raw);
}

function optionalTime(id) {
  const raw = byId(id).value;
  return raw ? new Date(raw).toISOString() : undefined;
}

export function setupCodes() {
  byId('code-event').addEventListener('focus', fillEvents);
  byId('code-kind').addEventListener('change', () => {
    byId('code-value-field').hidden = byId('code-kind').value === 'access';
  });
  byId('code-form').addEventListener('submit', async (e) => {
    e.preventDefault();
    const kind = byId('code-kind').value;
    const body = {
      code: byId('code-name').value.trim(),
      kind,
      value: kind === 'access' ? undefined : optionalNumber('code-value'),
      event_id: byId('code-event').value || undefined,
      tiers: byId('code-tiers').value.split(',').map((t) => t.trim()).filter(Boolean),
      max_uses: optionalNumber('code-max-uses'),
      max_uses_per_user: optionalNumber('code-max-per-user'),
      valid_from: optionalTime('code-from'),
      valid_to: optionalTime('code-to'),
    };
    const problems = [];
    if (!/^[A-Za-z0-9_-]{3,32}$/.test(body.code)) problems.push('give a code of 3 to 32 letters, digits, - or _');
    if (kind !== 'access' && !(body.value > 0)) problems.push('give the discount');
    if (kind === 'access' && !body.event_id) problems.push('choose the event whose presale it unlocks');
    if (problems.length) {
      UI.showError('Not created', problemSentence(problems));
      return;
    }
    try {
      await UI.busy(e.submitter || byId('code-create'), 'Creating…', () => api.codes.create(body));
      byId('code-name').value = '';
      UI.clear();
      UI.showStatus('Code ' + body.code.toUpperCase() + ' created.', 'success');
      await loadCodes();
    } catch (error) {
      UI.handleError(error);
    }
  });
  byId('admin-codes').addEventListener('click', (e) => {
    const item = e.target.closest('[data-code-id]');
    if (!item || !e.target.closest('[data-delete]')) return;
    askFirst(item.querySelector('.confirm-slot'), {
      question: 'Delete this code?',
      consequence: 'It can no longer be applied; payments already opened with it keep their discount.',
      yes: 'Yes, delete',
      busyText: 'Deleting…',
      action: async () => {
        await api.codes.remove(item.dataset.codeId);
        await loadCodes();
      },
    });
  });
}
