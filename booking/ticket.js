// ticket.html?id=<ticket id>: one ticket as the buyer shows it at the door — event, time (UTC
// until venues have time zones), venue, seat, holder, status and the QR — with t('Download PDF'),
// t('Add to calendar') and t('Print') (style.css's print rules leave only the ticket, QR large).
// The QR, the PDF and the .ics need the bearer token, which an <img src> or a plain link cannot
// send: each is fetched as a Blob and shown or saved through a blob: URL.
import { api } from './api.js';
import { Auth } from './auth.js';
import { Data, Format } from './data.js';
import { byId, html, render } from './dom.js';
import { t } from './i18n.js';
import * as UI from './ui.js';

const ticketEl = byId('ticket');
/** blob: URLs this page made, released when it goes away. */
const objectUrls = [];

function objectUrl(blob) {
  const url = URL.createObjectURL(blob);
  objectUrls.push(url);
  return url;
}
window.addEventListener('pagehide', () => objectUrls.forEach((url) => URL.revokeObjectURL(url)));

function fact(label, value, id) {
  return html`<div><dt>${label}</dt><dd${id ? html` id="${id}"` : ''}>${value}</dd></div>`;
}

/** The ticket's state; the time it was scanned is the door's, so on the venue's clock. */
function statusLine(ticket, event) {
  const info = Data.TICKET_STATUS[ticket.status] || { label: Format.label(ticket.status), hint: '' };
  const admitted = ticket.admission || null;
  const scanned = admitted && admitted.at ? Format.zoned(admitted.at, Format.zoneOf(event)) : '';
  const when = scanned ? ' ' + (admitted.gate ? t('at {time}, gate {gate}', { time: scanned, gate: admitted.gate }) : t('at {time}', { time: scanned })) : '';
  return html`<span class="status status-ticket-${ticket.status}" id="ticket-status" data-ticket-status="${ticket.status}">${info.label}</span>
    <span class="small muted">${ticket.status === 'used' ? t('Scanned at the door') + when + '.' : info.hint + '.'}</span>`;
}

function renderTicket(ticket, event) {
  const venue = (event && event.venue) || {};
  const revoked = ticket.status === 'revoked';
  const reference = String(ticket.booking_id || '').slice(0, 8).toUpperCase();
  render(
    ticketEl,
    html`<article class="ticket-sheet" aria-labelledby="ticket-event" data-ticket-id="${ticket.id}">
      <div class="ticket-info">
        <p class="eyebrow">${t('ProEventa ticket')}</p>
        <h1 id="ticket-event">${event ? event.name : t('Event')}</h1>
        <dl class="ticket-facts">
          ${fact(t('Date and time'), event ? html`<time datetime="${event.start_time}" data-event-time>${Format.when(event)}</time>` : '—', 'ticket-time')}
          ${fact(t('Venue'), venue.name ? venue.name + (venue.location ? ', ' + venue.location : '') : '—', 'ticket-venue')}
          ${fact(t('Seat'), ticket.seat_label, 'ticket-seat')}
          ${ticket.tier ? fact(t('Tier'), Format.label(ticket.tier)) : ''}
          ${ticket.price_cents !== undefined && ticket.price_cents !== null ? fact(t('Price'), Format.money(ticket.price_cents, ticket.currency)) : ''}
          ${fact(t('Holder'), ticket.holder_name, 'ticket-holder')}
          ${fact(t('Booking'), reference)}
          ${fact(t('Status'), statusLine(ticket, event))}
        </dl>
        <p class="ticket-id small muted">${t('Ticket {id}', { id: ticket.id })}</p>
      </div>
      <div class="ticket-qr">
        ${revoked
          ? html`<p class="ticket-void" id="ticket-void">${t('This ticket was revoked: its seat was canceled, so it no longer admits anyone.')}</p>`
          : html`<img id="ticket-qr" alt="${t('QR code of this ticket, to scan at the door')}" width="280" height="280">
            <p class="small muted">${t('Show this code at the door, on screen or printed.')}</p>`}
      </div>
      ${revoked
        ? ''
        : html`<div class="btn-row no-print ticket-actions">
          <button type="button" class="btn btn-primary" id="download-pdf">${t('Download PDF')}</button>
          <button type="button" class="btn btn-secondary" id="add-calendar">${t('Add to calendar')}</button>
          <button type="button" class="btn btn-ghost" id="print-ticket">${t('Print')}</button>
        </div>`}
      <div id="ticket-alert" role="alert" hidden class="no-print"></div>
    </article>`,
  );
  if (revoked) return;

  const alertEl = byId('ticket-alert');
  const name = 'proeventa-ticket-' + reference.toLowerCase() + '-' + String(ticket.seat_label).replace(/[^A-Za-z0-9]+/g, '-').toLowerCase();
  byId('download-pdf').addEventListener('click', async (e) => {
    UI.clear(alertEl);
    try {
      const pdf = await UI.busy(e.currentTarget, t('Preparing PDF…'), () => api.tickets.pdf(ticket.id));
      UI.saveFile(pdf, name + '.pdf');
    } catch (error) {
      UI.handleError(error, alertEl);
    }
  });
  byId('add-calendar').addEventListener('click', async (e) => {
    UI.clear(alertEl);
    try {
      const ics = await UI.busy(e.currentTarget, t('Preparing…'), () => api.tickets.calendar(ticket.id));
      UI.saveFile(ics, name + '.ics');
    } catch (error) {
      UI.handleError(error, alertEl);
    }
  });
  byId('print-ticket').addEventListener('click', () => window.print());
}

async function loadQr(ticket) {
  const img = byId('ticket-qr');
  if (!img) return;
  try {
    const svg = await api.tickets.qrSvg(ticket.id);
    img.addEventListener('load', () => img.setAttribute('data-loaded', 'true'), { once: true });
    img.src = objectUrl(svg);
  } catch (error) {
    img.remove();
    UI.handleError(error, byId('ticket-alert'));
  }
}

async function start() {
  if (!Auth.requireLogin()) return;
  const ticketId = UI.param('id');
  if (!ticketId) {
    ticketEl.removeAttribute('aria-busy');
    UI.showError(t('No ticket chosen'), t('Open a ticket from your list of tickets.'));
    return;
  }
  try {
    const ticket = await api.tickets.get(ticketId);
    const event = await api.events.getEventById(ticket.event_id).catch(() => null);
    UI.setTitle(t('Ticket') + (event ? ' · ' + event.name : ''));
    renderTicket(ticket, event);
    await loadQr(ticket);
  } catch (error) {
    ticketEl.replaceChildren();
    UI.handleError(error);
  } finally {
    ticketEl.removeAttribute('aria-busy');
  }
}

start();
