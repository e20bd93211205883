// Admin, Sales tab (issue 21): every event's sales over a period (GET /admin/reports/sales?from&to):
// the totals per currency, a line per event and a bar per day (tickets sold, refunds apart). Drawn
// as SVG by hand like the event's charts in sales.js: a bar per day needs no chart library.
import { api } from '../api.js';
import { Format } from '../data.js';
import { byId, html, render } from '../dom.js';
import { newestWins } from '../requests.js';
import * as UI from '../ui.js';

const loads = newestWins();
const DAY_MS = 24 * 3600 * 1000;

/** The date inputs' default: the last 30 days, today included (UTC days, as the report counts). */
function defaultWindow() {
  const today = new Date().toISOString().slice(0, 10);
  const from = new Date(Date.now() - 29 * DAY_MS).toISOString().slice(0, 10);
  return { from, to: today };
}

export function setupSalesWindow() {
  const window = defaultWindow();
  byId('sales-from').value = window.from;
  byId('sales-to').value = window.to;
  byId('sales-window-form').addEventListener('submit', (e) => {
    e.preventDefault();
    loadSalesWindow();
  });
}

export async function loadSalesWindow() {
  const target = byId('sales-window');
  const query = {};
  if (byId('sales-from').value) query.from = byId('sales-from').value;
  if (byId('sales-to').value) query.to = byId('sales-to').value;
  target.setAttribute('aria-busy', 'true');
  try {
    const ticket = loads.next();
    const report = await api.reports.sales(query);
    if (ticket.stale) return;
    render(target, windowView(report));
  } catch (error) {
    UI.handleError(error);
  } finally {
    target.removeAttribute('aria-busy');
  }
}

function windowView(report) {
  if (!report.by_event.length) {
    return html`<p class="muted" id="sales-window-empty">No ticket was sold or refunded in this period.</p>`;
  }
  const money = (cents, currency) => Format.money(cents, currency);
  return html`<dl class="sales-figures">
      <div class="sales-figure" data-figure="window-sold"><dt>Tickets sold</dt><dd>${report.sold}</dd></div>
      <div class="sales-figure" data-figure="window-refunded"><dt>Tickets refunded</dt><dd>${report.refunded}</dd></div>
      ${report.by_currency.map(
        (c) => html`<div class="sales-figure" data-figure="${'window-revenue-' + c.currency}"><dt>${'Revenue (' + c.currency + ')'}</dt><dd>${money(c.revenue_cents - c.refunded_cents, c.currency)}</dd></div>`,
      )}
    </dl>
    <div class="table-scroll"><table class="sales-events" id="sales-window-events">
      <thead><tr><th scope="col">Event</th><th scope="col">Sold</th><th scope="col">Revenue</th><th scope="col">Refunded</th></tr></thead>
      <tbody>${report.by_event.map(
        (e) => html`<tr data-event="${e.event_id}"><th scope="row">${e.name}</th><td>${e.sold}</td><td>${money(e.revenue_cents, e.currency)}</td><td>${money(e.refunded_cents, e.currency)}</td></tr>`,
      )}</tbody>
    </table></div>
    <h3>Tickets sold per day</h3>
    ${dayChart(report)}`;
}

/** Every day of the window (at most its last 92), a bar of the tickets sold and one of those refunded. */
function dayChart(report) {
  const sold = new Map();
  report.per_day.forEach((d) => {
    const line = sold.get(d.day) || { sold: 0, refunded: 0 };
    line.sold += d.sold;
    line.refunded += d.refunded;
    sold.set(d.day, line);
  });
  const last = Date.parse(report.to.slice(0, 10));
  const first = Math.max(Date.parse(report.from.slice(0, 10)), last - 91 * DAY_MS);
  const days = [];
  for (let at = first; at <= last; at += DAY_MS) {
    const day = new Date(at).toISOString().slice(0, 10);
    days.push({ day, ...(sold.get(day) || { sold: 0, refunded: 0 }) });
  }
  const top = Math.max(1, ...days.map((d) => d.sold));
  const [left, bottom, height] = [36, 20, 160];
  const width = Math.max(320, days.length * 12 + left);
  const slot = (width - left) / days.length;
  const plot = height - bottom - 10;
  const bar = (value) => Math.round((value / top) * plot);
  return html`<div class="sales-chart-wrap"><svg id="sales-window-chart" class="sales-chart" viewBox="0 0 ${width} ${height}" width="${width}" height="${height}" role="img" aria-label="${'Tickets sold per day, at most ' + top + ' in a day'}">
    <line class="axis" x1="${left}" y1="${height - bottom}" x2="${width}" y2="${height - bottom}"></line>
    <text class="axis-label" x="${left - 4}" y="14" text-anchor="end">${top}</text>
    <text class="axis-label" x="${left - 4}" y="${height - bottom}" text-anchor="end">0</text>
    ${days.map((d, i) => {
      const x = left + i * slot + 1;
      const w = Math.max(2, slot - 3);
      return html`<rect class="sales-bar" data-day="${d.day}" data-sold="${d.sold}" x="${x.toFixed(1)}" y="${height - bottom - bar(d.sold)}" width="${w.toFixed(1)}" height="${bar(d.sold)}"><title>${d.day + ': ' + d.sold + ' sold, ' + d.refunded + ' refunded'}</title></rect>`;
    })}
    <text class="axis-label" x="${left}" y="${height - 4}">${days[0].day}</text>
    <text class="axis-label" x="${width}" y="${height - 4}" text-anchor="end">${days[days.length - 1].day}</text>
  </svg></div>`;
}
