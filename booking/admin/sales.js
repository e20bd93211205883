// Admin, Sales tab (issue 21): one event's sales report (GET /admin/reports/events/{id}): totals,
// by tier, tickets sold per hour as a bar chart, the seats coloured by status as an occupancy
// picture (from the live seat map), and its orders as CSV. The charts are SVG drawn here by hand:
// a bar per hour and a square per seat need no chart library, and the page loads nothing from
// another origin (the site's CSP allows none).
import { api } from '../api.js';
import { Format } from '../data.js';
import { byId, html, render } from '../dom.js';
import { newestWins } from '../requests.js';
import * as UI from '../ui.js';
import { state } from './shared.js';

const loads = newestWins();
/** At most this many hours are drawn (the latest ones): two weeks of bars. */
const MAX_HOURS = 14 * 24;
const HOUR_MS = 3600 * 1000;

/** Fills the event picker (every event, past ones too) and shows the first event's report. */
export async function loadSales() {
  try {
    const events = await api.events.getEvents({ include_past: 'true', limit: 200 });
    events.forEach((ev) => {
      if (!state.events.find((x) => x.id === ev.id)) state.events.push(ev);
    });
    render(
      byId('sales-event'),
      html`${events.map((ev) => html`<option value="${ev.id}">${ev.name + ' · ' + Format.whenShort(ev)}</option>`)}`,
    );
    if (events.length) await showReport(byId('sales-event').value);
    else render(byId('sales-report'), UI.emptyState('No events yet', 'Create an event to see its sales here.'));
  } catch (error) {
    UI.handleError(error);
  }
}

export function setupSales() {
  byId('sales-event').addEventListener('change', (e) => showReport(e.target.value));
  byId('sales-refresh').addEventListener('click', () => showReport(byId('sales-event').value));
  byId('sales-csv').addEventListener('click', async (e) => {
    const eventId = byId('sales-event').value;
    if (!eventId) return;
    try {
      await UI.busy(e.currentTarget, 'Preparing…', async () => {
        const blob = await api.reports.ordersCsv(eventId);
        UI.saveFile(blob, 'orders-' + eventId.slice(0, 8) + '.csv');
      });
    } catch (error) {
      UI.handleError(error);
    }
  });
}

async function showReport(eventId) {
  if (!eventId) return;
  const target = byId('sales-report');
  target.setAttribute('aria-busy', 'true');
  try {
    const ticket = loads.next();
    const [report, seats] = await Promise.all([api.reports.event(eventId), api.events.getSeats(eventId)]);
    if (ticket.stale) return;
    const event = state.events.find((x) => x.id === eventId);
    render(target, reportView(report, (seats && seats.seats) || [], event ? event.currency : 'EUR'));
  } catch (error) {
    UI.handleError(error);
  } finally {
    target.removeAttribute('aria-busy');
  }
}

function figure(name, label, value) {
  return html`<div class="sales-figure" data-figure="${name}"><dt>${label}</dt><dd>${value}</dd></div>`;
}

function reportView(report, seats, currency) {
  const money = (cents) => Format.money(cents, currency);
  return html`<dl class="sales-figures">
      ${figure('seats', 'Seats', report.seats)}
      ${figure('sold', 'Sold', report.sold)}
      ${figure('held', 'Held', report.held)}
      ${figure('available', 'Available', report.available)}
      ${figure('revenue', 'Revenue', money(report.revenue_cents))}
      ${figure('refunded', 'Refunded', money(report.refunded_cents))}
    </dl>
    <h3>By tier</h3>
    <div class="table-scroll"><table class="sales-tiers">
      <thead><tr><th scope="col">Tier</th><th scope="col">Seats</th><th scope="col">Sold</th><th scope="col">Held</th><th scope="col">Available</th><th scope="col">Revenue</th></tr></thead>
      <tbody>${report.by_tier.map(
        (t) => html`<tr data-tier="${t.tier}"><th scope="row">${Format.label(t.tier)}</th><td>${t.seats}</td><td>${t.sold}</td><td>${t.held}</td><td>${t.available}</td><td>${money(t.revenue_cents)}</td></tr>`,
      )}</tbody>
    </table></div>
    <p class="small muted">By ticket type: ${report.by_type.map((t) => Format.label(t.ticket_type) + ' ' + t.sold + ' sold, ' + money(t.revenue_cents)).join('; ')}.</p>
    <h3>Tickets sold per hour</h3>
    ${hourChart(report.sales_per_hour)}
    <h3>Occupancy</h3>
    ${occupancy(seats)}`;
}

/** The hours from the first sale to the last, the empty ones as zero; the latest MAX_HOURS. */
function hourSeries(hours) {
  if (!hours.length) return [];
  const sold = new Map(hours.map((h) => [Date.parse(h.hour), h]));
  const last = Date.parse(hours[hours.length - 1].hour);
  const first = Math.max(Date.parse(hours[0].hour), last - (MAX_HOURS - 1) * HOUR_MS);
  const series = [];
  for (let at = first; at <= last; at += HOUR_MS) {
    const h = sold.get(at);
    series.push({ at, sold: h ? h.sold : 0, revenue_cents: h ? h.revenue_cents : 0 });
  }
  return series;
}

/** A bar per hour, its height the tickets sold then; the tallest bar's count on the axis. */
function hourChart(hours) {
  const series = hourSeries(hours);
  if (!series.length) return html`<p class="muted" id="sales-chart-empty">No ticket sold yet.</p>`;
  const top = Math.max(1, ...series.map((h) => h.sold));
  const [width, height, left, bottom] = [Math.max(320, series.length * 14 + 40), 160, 36, 20];
  const slot = (width - left) / series.length;
  const bar = Math.min(24, Math.max(2, slot - 3));
  const plot = height - bottom - 10;
  return html`<div class="sales-chart-wrap"><svg id="sales-chart" class="sales-chart" viewBox="0 0 ${width} ${height}" width="${width}" height="${height}" role="img" aria-label="${'Tickets sold per hour, at most ' + top + ' in an hour'}">
    <line class="axis" x1="${left}" y1="${height - bottom}" x2="${width}" y2="${height - bottom}"></line>
    <text class="axis-label" x="${left - 4}" y="${14}" text-anchor="end">${top}</text>
    <text class="axis-label" x="${left - 4}" y="${height - bottom}" text-anchor="end">0</text>
    ${series.map((h, i) => {
      const tall = Math.round((h.sold / top) * plot);
      const label = Format.dateTime(new Date(h.at)) + ': ' + h.sold + ' sold';
      return html`<rect class="sales-bar" data-hour="${new Date(h.at).toISOString()}" data-sold="${h.sold}" x="${(left + i * slot + 1.5).toFixed(1)}" y="${height - bottom - tall}" width="${bar.toFixed(1)}" height="${tall}"><title>${label}</title></rect>`;
    })}
    <text class="axis-label" x="${left}" y="${height - 4}">${Format.dateTime(new Date(series[0].at))}</text>
  </svg></div>`;
}

/** Every seat as a small square in its row, coloured by its status. */
function occupancy(seats) {
  if (!seats.length) return html`<p class="muted">This venue has no seats.</p>`;
  const rows = [];
  const byRow = new Map();
  seats.forEach((s) => {
    if (!byRow.has(s.row)) {
      byRow.set(s.row, []);
      rows.push(s.row);
    }
    byRow.get(s.row).push(s);
  });
  const widest = Math.max(...rows.map((r) => byRow.get(r).length));
  const cell = widest > 100 ? 4 : 10;
  const [left, gap] = [28, cell > 4 ? 2 : 1];
  const width = left + widest * (cell + gap);
  const height = rows.length * (cell + gap);
  const status = (s) => Format.label(s);
  return html`<div class="sales-chart-wrap"><svg id="sales-occupancy" class="occupancy" viewBox="0 0 ${width} ${height}" width="${width}" height="${height}" role="img" aria-label="The seats coloured by status">
      ${rows.map((row, r) =>
        html`<text class="axis-label" x="${left - 4}" y="${r * (cell + gap) + cell}" text-anchor="end" font-size="${Math.max(cell, 8)}">${cell > 4 ? row : ''}</text>
        ${byRow.get(row).map(
          (s, i) => html`<rect class="${'occ occ-' + s.status}" data-status="${s.status}" x="${left + i * (cell + gap)}" y="${r * (cell + gap)}" width="${cell}" height="${cell}"><title>${'Row ' + s.row + ' · Seat ' + s.seat_number + ' · ' + status(s.status)}</title></rect>`,
        )}`,
      )}
    </svg></div>
    <ul class="occupancy-key small">
      <li><span class="key-swatch occ-available"></span> Available</li>
      <li><span class="key-swatch occ-held"></span> Held</li>
      <li><span class="key-swatch occ-sold"></span> Sold</li>
    </ul>`;
}
