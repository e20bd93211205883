// Admin, Webhooks tab (issue 21): register an endpoint (URL, secret, event types), list and
// delete endpoints, and an endpoint's deliveries with their last answer, each delivered or failed
// one replayable. The secret is sent once and never shown again (the API never answers it).
import { api } from '../api.js';
import { Format } from '../data.js';
import { byId, html, render } from '../dom.js';
import * as UI from '../ui.js';
import { askFirst, badge, problemSentence } from './shared.js';

export const EVENT_TYPES = ['booking.confirmed', 'booking.canceled', 'refund.created', 'event.canceled', 'ticket.checked_in'];

const STATUS_KIND = { pending: 'held', delivered: 'on_sale', failed: 'canceled' };

function webhookItem(w) {
  return html`<div class="list-item" data-webhook-id="${w.id}">
    <div class="grow">
      <h3>${w.url}</h3>
      <p>${w.events.join(', ')} · since ${Format.date(w.created_at)}</p>
    </div>
    <div class="btn-row">
      <button class="btn btn-ghost btn-sm" type="button" data-deliveries>Deliveries</button>
      <button class="btn btn-danger btn-sm" type="button" data-delete>Delete</button>
    </div>
    <div class="confirm-slot"></div>
  </div>`;
}

function deliveryRow(webhookId, d) {
  const answer = d.last_status_code ? String(d.last_status_code) : '—';
  return html`<tr data-delivery-id="${d.id}">
    <td>${d.event_type}</td>
    <td>${badge(d.status, STATUS_KIND[d.status] || 'held')}</td>
    <td>${String(d.attempts)}</td>
    <td>${answer}</td>
    <td class="small">${d.last_response || ''}</td>
    <td>${d.next_attempt_at ? Format.dateTime(d.next_attempt_at) : d.delivered_at ? Format.dateTime(d.delivered_at) : ''}</td>
    <td>${d.status === 'pending'
      ? ''
      : html`<button class="btn btn-ghost btn-sm" type="button" data-replay="${webhookId}">Replay</button>`}</td>
  </tr>`;
}

export async function loadWebhooks() {
  const list = byId('admin-webhooks');
  list.setAttribute('aria-busy', 'true');
  try {
    const hooks = await api.webhooks.list();
    render(
      list,
      hooks.length ? hooks.map(webhookItem) : UI.emptyState('No endpoints yet', 'Register one above to hear of bookings, refunds and check-ins.'),
    );
  } catch (error) {
    UI.handleError(error);
  } finally {
    list.removeAttribute('aria-busy');
  }
}

async function showDeliveries(webhookId) {
  const target = byId('webhook-deliveries');
  try {
    const deliveries = await api.webhooks.deliveries(webhookId);
    render(
      target,
      deliveries.length
        ? html`<h3>Deliveries</h3><table class="table"><thead><tr><th>Event</th><th>Status</th><th>Attempts</th>
            <th>Answer</th><th>Body or reason</th><th>Next try / delivered</th><th></th></tr></thead>
            <tbody>${deliveries.map((d) => deliveryRow(webhookId, d))}</tbody></table>`
        : UI.emptyState('No deliveries yet', 'Events of the types it asked for appear here within seconds.'),
    );
  } catch (error) {
    UI.handleError(error);
  }
}

export function setupWebhooks() {
  render(
    byId('webhook-events'),
    html`${EVENT_TYPES.map(
      (t) => html`<div><label class="small"><input type="checkbox" name="webhook-event" value="${t}" class="inline-check"> ${t}</label></div>`,
    )}`,
  );
  byId('webhook-form').addEventListener('submit', async (e) => {
    e.preventDefault();
    const url = byId('webhook-url').value.trim();
    const secret = byId('webhook-secret').value;
    const events = Array.from(document.querySelectorAll('input[name="webhook-event"]:checked')).map((i) => i.value);
    const problems = [];
    if (!/^https?:\/\//.test(url)) problems.push('give a URL starting with http:// or https://');
    if (secret.length < 16 || secret.length > 256) problems.push('choose a secret of 16 to 256 characters');
    if (!events.length) problems.push('tick at least one event type');
    if (problems.length) {
      UI.showError('Not registered', problemSentence(problems));
      return;
    }
    try {
      await UI.busy(e.submitter || byId('webhook-register'), 'Registering…', () => api.webhooks.create({ url, secret, events }));
      byId('webhook-secret').value = '';
      UI.clear();
      UI.showStatus('Registered: each ' + events.join(', ') + ' is posted to ' + url + ', signed with the secret.', 'success');
      await loadWebhooks();
    } catch (error) {
      UI.handleError(error);
    }
  });
  byId('admin-webhooks').addEventListener('click', (e) => {
    const item = e.target.closest('[data-webhook-id]');
    if (!item) return;
    const id = item.dataset.webhookId;
    if (e.target.closest('[data-deliveries]')) {
      showDeliveries(id);
      return;
    }
    if (e.target.closest('[data-delete]')) {
      askFirst(item.querySelector('.confirm-slot'), {
        question: 'Delete this endpoint?',
        consequence: 'Nothing more is posted to it, and its deliveries are forgotten.',
        yes: 'Yes, delete',
        busyText: 'Deleting…',
        action: async () => {
          await api.webhooks.remove(id);
          render(byId('webhook-deliveries'), html``);
          await loadWebhooks();
        },
      });
    }
  });
  byId('webhook-deliveries').addEventListener('click', async (e) => {
    const button = e.target.closest('[data-replay]');
    const row = e.target.closest('[data-delivery-id]');
    if (!button || !row) return;
    try {
      await UI.busy(button, 'Replaying…', () => api.webhooks.replay(button.dataset.replay, row.dataset.deliveryId));
      UI.showStatus('Replayed: it is posted again within seconds, with the same id.', 'success');
      await showDeliveries(button.dataset.replay);
    } catch (error) {
      UI.handleError(error);
    }
  });
}
