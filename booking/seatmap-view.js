// The zoomable venue map (issue 19), drawn as SVG from a venue's layout document
// (GET /events/venues/{id}/layout): sections as polygons coloured by their share of free seats,
// every seat at its position, the stage. A section is tapped (or reached with the arrow keys and
// Enter) to zoom into it; wheel, pinch, drag and the +/− buttons zoom and pan freely; a mini-map
// shows where the view is while zoomed. SVG rather than canvas: every seat is an element with its
// own accessible name, focus and CSS states, hit-testing is the browser's, and 4,608 seats draw in
// a few tens of milliseconds (README). booking.js and the admin's venue editor both use it; the
// caller owns the seats' states and sets them on the elements (data-status, aria-pressed, …).
import { html, render, trusted } from './dom.js';
import { t } from './i18n.js';
import { SHAPES, SYMBOLS, syncMark } from './seatmap-marks.js';
import { ViewBox } from './seatmap-zoom.js';

export { stateSwatch, SYMBOLS, symbolText, tierSwatch } from './seatmap-marks.js';

const NS = 'http://www.w3.org/2000/svg';

/** Stripes for held seats (grey) and for the buyer's own hold (violet). */
const DEFS = trusted(
  '<defs><pattern id="sm-stripes" width=".5" height=".5" patternUnits="userSpaceOnUse" patternTransform="rotate(45)"><rect width=".5" height=".5" fill="#fff"/><rect width=".22" height=".5" fill="#8a86a3"/></pattern>' +
    '<pattern id="sm-mine" width=".5" height=".5" patternUnits="userSpaceOnUse" patternTransform="rotate(45)"><rect width=".5" height=".5" fill="#fff"/><rect width=".25" height=".5" fill="#7c3aed"/></pattern></defs>',
);
const num = (n) => Math.round(n * 100) / 100;

/** Availability bands of a section: its share of free seats. */
export function availabilityBand(free, total) {
  if (!total || !free) return 'none';
  const share = free / total;
  return share > 0.5 ? 'many' : share > 0.15 ? 'some' : 'few';
}

function centroid(points) {
  let x = 0;
  let y = 0;
  points.forEach((p) => {
    x += p[0];
    y += p[1];
  });
  return [x / points.length, y / points.length];
}

function bounds(points, pad = 0) {
  const xs = points.map((p) => p[0]);
  const ys = points.map((p) => p[1]);
  const x = Math.min(...xs) - pad;
  const y = Math.min(...ys) - pad;
  return { x, y, w: Math.max(...xs) + pad - x, h: Math.max(...ys) + pad - y };
}

/**
 * new SeatMapView(host, layout, options): draws `layout` into `host`.
 * options: tierShape(tier) → 0..3, tierColour(tier) → CSS colour, seatInfo(id) → {status,
 * price_cents} | null, price(cents) → text, onPick(id) (a seat tapped or Enter/Space on it when
 * zoomed in), announce(text), name (the map's accessible name).
 */
export class SeatMapView {
  constructor(host, layout, options) {
    const started = performance.now();
    this.host = host;
    this.layout = layout;
    this.opts = options;
    this.seatEls = new Map();
    this.sections = layout.sections.map((s, i) => ({
      index: i,
      name: s.name || t('Seats'),
      shape: s.shape,
      centre: centroid(s.shape),
      box: bounds(s.shape, 1.5),
      width: bounds(s.shape).w,
      // "104" for "Block 104": what a section is called where its whole name does not fit.
      short: /\S+$/.exec(s.name || '') ? /\S+$/.exec(s.name)[0] : '',
      seats: [], // [{id, x, y, row}]
    }));
    this.active = null; // the section zoomed into
    this.draw();
    this.zoom = new ViewBox(this, this.full());
    this.setActive(null);
    this.bind();
    this.resize();
    this.refresh();
    this.drawMs = performance.now() - started;
    host.dataset.drawMs = String(Math.round(this.drawMs));
    // And until the first frame with the map is on screen (the figure in the README).
    requestAnimationFrame(() => setTimeout(() => {
      host.dataset.paintMs = String(Math.round(performance.now() - started));
    }));
  }

  /** The whole venue with a margin: the overview's view box. */
  full() {
    const points = [];
    this.layout.sections.forEach((s) => points.push(...s.shape));
    if (this.layout.stage) points.push(...this.layout.stage.shape);
    return bounds(points, 2);
  }

  draw() {
    const L = this.layout;
    const o = this.opts;
    const points = (shape) => shape.map((p) => p.join(',')).join(' ');
    const shapes = SHAPES.map(([tag, geometry]) => [trusted(tag), trusted(geometry)]);
    const stage = L.stage
      ? html`<g class="sm-stage" aria-hidden="true"><polygon points="${points(L.stage.shape)}"/><text x="${num(centroid(L.stage.shape)[0])}" y="${num(centroid(L.stage.shape)[1])}">${L.stage.label || t('Stage')}</text></g>`
      : '';
    const areas = this.sections.map((s) => html`<g class="sm-section" role="button" tabindex="-1" data-section="${s.index}"><polygon points="${points(s.shape)}"/></g>`);
    const seats = L.sections.map((section, i) => {
      const drawn = [];
      section.rows.forEach((row, r) => {
        row.seats.forEach((seat) => {
          const tier = seat.tier || row.tier;
          const shape = shapes[o.tierShape(tier) % SHAPES.length];
          const attrs = seat.attributes || [];
          const symbol = attrs.includes('wheelchair') ? SYMBOLS.wheelchair : attrs.includes('companion') ? SYMBOLS.companion : '';
          this.sections[i].seats.push({ id: seat.id, x: seat.x, y: seat.y, row: r });
          drawn.push(
            html`<${shape[0]} class="sm-seat" role="button" tabindex="-1" data-seat-id="${seat.id}" data-section="${i}" data-row="${row.row}" data-number="${seat.number}" data-attrs="${attrs.join(' ')}" transform="translate(${num(seat.x)} ${num(seat.y)})" fill="${o.tierColour(tier)}" ${shape[1]}/>${symbol ? html`<text class="sm-sym" aria-hidden="true" x="${num(seat.x)}" y="${num(seat.y)}">${symbol}</text>` : ''}`,
          );
        });
      });
      return html`<g class="sm-seats" data-section="${i}" aria-hidden="true" role="group" aria-label="${this.sections[i].name}">${drawn}</g>`;
    });
    const labels = this.sections.map((s) => html`<text class="sm-label" data-section="${s.index}" x="${num(s.centre[0])}" y="${num(s.centre[1])}"><tspan class="sm-label-name">${s.name}</tspan><tspan class="sm-label-short">${s.short}</tspan><tspan class="sm-label-price" x="${num(s.centre[0])}" dy="1.3em"></tspan></text>`);
    const mini = this.sections.map((s) => html`<polygon data-section="${s.index}" points="${points(s.shape)}"/>`);
    render(
      this.host,
      html`<div class="sm-toolbar"><div class="sm-zoom-buttons"><button type="button" class="btn btn-ghost btn-sm sm-out" aria-label="${t('Zoom out')}">−</button><button type="button" class="btn btn-ghost btn-sm sm-in" aria-label="${t('Zoom in')}">+</button><button type="button" class="btn btn-ghost btn-sm sm-reset">${t('Whole venue')}</button></div><span class="sm-where small muted" aria-hidden="true"></span></div><div class="sm-box"><svg class="sm-svg" xmlns="${NS}" role="group" aria-label="${o.name || t('Seat map')}" aria-roledescription="${t('seat map')}">${DEFS}${stage}<g class="sm-areas">${areas}</g>${seats}<g class="sm-labels" aria-hidden="true">${labels}</g></svg><p class="sm-stage-hint" aria-hidden="true" hidden></p><svg class="sm-mini" aria-hidden="true" hidden>${mini}${L.stage ? html`<polygon class="sm-mini-stage" points="${points(L.stage.shape)}"/>` : ''}<rect class="sm-mini-view"/></svg></div>`,
    );
    this.svg = this.host.querySelector('.sm-svg');
    this.box = this.host.querySelector('.sm-box');
    this.mini = this.host.querySelector('.sm-mini');
    this.miniView = this.host.querySelector('.sm-mini-view');
    this.hint = this.host.querySelector('.sm-stage-hint');
    this.where = this.host.querySelector('.sm-where');
    const f = this.full();
    this.mini.setAttribute('viewBox', `${num(f.x)} ${num(f.y)} ${num(f.w)} ${num(f.h)}`);
    this.host.querySelectorAll('.sm-seat').forEach((el) => this.seatEls.set(el.dataset.seatId, el));
    this.sectionEls = Array.from(this.host.querySelectorAll('.sm-section'));
    this.seatLayers = Array.from(this.host.querySelectorAll('.sm-seats'));
    this.labels = Array.from(this.host.querySelectorAll('.sm-label'));
    this.minis = Array.from(this.mini.querySelectorAll('polygon[data-section]'));
    this.sectionEls[0].tabIndex = 0;
  }

  /** The element of a seat, for the caller to set its state on. */
  seatElement(id) {
    return this.seatEls.get(id) || null;
  }

  /** A seat's state changed: its mark (a tick when picked, a cross when sold) follows; the
   * sections' colours and labels follow on the next frame. */
  paint(id) {
    const el = id ? this.seatEls.get(id) : null;
    if (el) syncMark(el);
    if (this.pending) return;
    this.pending = requestAnimationFrame(() => {
      this.pending = null;
      this.refresh();
    });
  }

  /** Each section's free seats, price range and colour band; its accessible name says them. */
  refresh() {
    const info = this.opts.seatInfo;
    this.sections.forEach((s) => {
      let free = 0;
      let min = Infinity;
      let max = -Infinity;
      s.seats.forEach((seat) => {
        const state = info(seat.id);
        if (!state) return;
        if (state.status === 'available') free += 1;
        if (state.price_cents != null) {
          min = Math.min(min, state.price_cents);
          max = Math.max(max, state.price_cents);
        }
      });
      s.free = free;
      const band = availabilityBand(free, s.seats.length);
      const prices = min === Infinity ? '' : min === max ? this.opts.price(min) : `${this.opts.price(min)}–${this.opts.price(max)}`;
      this.sectionEls[s.index].dataset.band = band;
      this.minis[s.index].dataset.band = band;
      this.labels[s.index].lastChild.textContent = prices;
      this.sectionEls[s.index].setAttribute(
        'aria-label',
        t('{section}: {free} of {total} seats free, {prices}. Enter zooms in.', { section: s.name, free, total: s.seats.length, prices }),
      );
    });
    if (this.scale) this.fitLabels(this.scale);
  }

  resize() {
    const width = this.box.clientWidth || 320;
    const f = this.full();
    const top = this.box.getBoundingClientRect().top + window.scrollY;
    const room = Math.max(200, window.innerHeight - Math.min(top, window.innerHeight * 0.6) - 16);
    const phone = window.matchMedia('(max-width: 640px)').matches;
    // Below the map a phone keeps a sticky bar with the total (style.css): room for it too.
    const fit = Math.min((width * f.h) / f.w, phone ? room - 140 : room);
    const zoomedHeight = Math.min(window.innerHeight * (phone ? 0.55 : 0.7), Math.max(fit, width * 1.4));
    const height = Math.round(Math.max(180, this.active !== null ? Math.max(fit, zoomedHeight) : fit));
    this.box.style.height = height + 'px';
    // The overview stays the whole venue whatever the box's new shape.
    if (this.active === null && !this.host.classList.contains('sm-zoomed')) this.zoom.vb = this.zoom.fit(f);
    this.zoom.apply();
  }

  bind() {
    this.host.querySelector('.sm-in').addEventListener('click', () => this.zoom.by(0.6));
    this.host.querySelector('.sm-out').addEventListener('click', () => this.zoom.by(1 / 0.6));
    this.host.querySelector('.sm-reset').addEventListener('click', () => this.overview(true));
    this.svg.addEventListener('click', (e) => this.onClick(e));
    this.svg.addEventListener('keydown', (e) => this.onKey(e));
    this.mini.addEventListener('click', (e) => {
      const p = this.zoom.point(e, this.mini);
      this.zoom.centreOn(p[0], p[1]);
    });
    this.zoom.bindPointers(this.svg);
    // A view drawn over by a newer one (the editor's preview) stops following the window.
    window.addEventListener('resize', () => this.box.isConnected && this.resize());
  }

  /** The view box moved: the mini-map, the stage hint and the label scale follow. */
  moved(vb) {
    const f = this.full();
    const zoomed = vb.w < f.w * 0.92;
    this.host.classList.toggle('sm-zoomed', zoomed);
    this.mini.toggleAttribute('hidden', !zoomed); // an SVG element: no `hidden` property
    this.miniView.setAttribute('x', num(vb.x));
    this.miniView.setAttribute('y', num(vb.y));
    this.miniView.setAttribute('width', num(vb.w));
    this.miniView.setAttribute('height', num(vb.h));
    // Pixels per unit: labels keep a readable size whatever the zoom.
    const scale = this.box.clientWidth / vb.w;
    this.svg.style.setProperty('--sm-unit', String(1 / Math.max(scale, 0.01)));
    this.host.classList.toggle('sm-fine', scale >= 9);
    this.scale = scale;
    this.fitLabels(scale);
    const stage = this.layout.stage ? bounds(this.layout.stage.shape) : null;
    if (stage) {
      const off = stage.x + stage.w < vb.x || stage.x > vb.x + vb.w || stage.y + stage.h < vb.y || stage.y > vb.y + vb.h;
      const c = [stage.x + stage.w / 2, stage.y + stage.h / 2];
      const dx = c[0] - (vb.x + vb.w / 2);
      const dy = c[1] - (vb.y + vb.h / 2);
      const arrow = Math.abs(dy) >= Math.abs(dx) ? (dy < 0 ? '↑' : '↓') : dx < 0 ? '←' : '→';
      this.hint.hidden = !off;
      this.hint.textContent = `${this.layout.stage.label || t('Stage')} ${arrow}`;
    }
  }

  /**
   * Each section's label as large as its width allows (13 px at most): its whole name and price
   * range, else its short name ("104") alone, else nothing (the section's own name is still read).
   */
  fitLabels(scale) {
    this.sections.forEach((s) => {
      const label = this.labels[s.index];
      const room = s.width * scale;
      const full = Math.min(13, room / (Math.max(4, s.name.length) * 0.62));
      const short = Math.min(12, room / (Math.max(2, s.short.length) * 0.62));
      const price = label.lastChild.textContent.length;
      let mode = 'full';
      let px = full;
      if (full < 9.5) {
        mode = short >= 8 ? 'short' : 'none';
        px = short;
      } else if (room < price * px * 0.5) mode = 'name';
      label.dataset.fit = mode;
      label.style.setProperty('font-size', `${(px / scale).toFixed(3)}px`);
    });
  }

  /** Back to the whole venue; focus on the section that was open. */
  overview(focus) {
    const was = this.active;
    this.setActive(null);
    this.zoom.animate(this.full());
    this.resize();
    if (was !== null) this.opts.announce(t('Whole venue. Choose a section.'));
    if (focus && was !== null) this.focusSection(was);
  }

  setActive(index) {
    this.active = index;
    this.seatLayers.forEach((layer, i) => {
      layer.setAttribute('aria-hidden', i === index ? 'false' : 'true');
      layer.classList.toggle('sm-open', i === index);
    });
    this.host.dataset.active = index === null ? '' : String(index);
    this.where.textContent = index === null ? t('Whole venue') : this.sections[index].name;
    this.sectionEls.forEach((el, i) => el.classList.toggle('sm-open', i === index));
  }

  /** Zooms into a section; with `focus`, the keyboard goes to its first free seat. */
  zoomSection(index, focus) {
    const s = this.sections[index];
    this.setActive(index);
    this.resize();
    this.zoom.animate(this.zoom.fit(s.box));
    // On a phone the open section fills the screen above the sticky bar with the total.
    if (window.matchMedia('(max-width: 640px)').matches) {
      const header = document.querySelector('.site-header'); // sticky: the map goes just under it
      const under = (header ? header.getBoundingClientRect().bottom : 0) + 8;
      const top = this.host.getBoundingClientRect().top;
      if (Math.abs(top - under) > 4) window.scrollBy({ top: top - under, behavior: 'instant' });
    }
    this.opts.announce(t('{section}: {free} of {total} seats free. Arrow keys move between seats, Escape shows the whole venue.', { section: s.name, free: s.free, total: s.seats.length }));
    if (focus) {
      const info = this.opts.seatInfo;
      const first = s.seats.find((seat) => (info(seat.id) || {}).status === 'available') || s.seats[0];
      this.focusSeat(first.id);
    }
  }

  /** Shows a seat (zooming into its section) without moving the keyboard focus. */
  reveal(id) {
    const el = this.seatEls.get(id);
    if (!el) return;
    const index = Number(el.dataset.section);
    if (this.active !== index) this.zoomSection(index, false);
  }

  focusSection(index) {
    this.host.querySelectorAll('[tabindex="0"]').forEach((el) => {
      if (el.closest('svg')) el.tabIndex = -1;
    });
    this.sectionEls[index].tabIndex = 0;
    this.sectionEls[index].focus();
  }

  focusSeat(id) {
    const el = this.seatEls.get(id);
    if (!el) return;
    this.host.querySelectorAll('[tabindex="0"]').forEach((other) => {
      if (other.closest('svg')) other.tabIndex = -1;
    });
    el.tabIndex = 0;
    el.focus({ preventScroll: true });
    const s = this.sections[Number(el.dataset.section)].seats.find((seat) => seat.id === id);
    this.zoom.keepInView(s.x, s.y);
  }

  onClick(e) {
    if (this.zoom.dragged) return;
    const seat = e.target.closest('.sm-seat');
    const area = e.target.closest('[data-section]');
    if (!area) return;
    const index = Number(area.dataset.section);
    // A seat is picked when it is drawn large enough to aim at (its section zoomed into, or
    // zoomed in by hand); else the tap zooms into its section.
    if (seat && (this.active === index || this.host.classList.contains('sm-fine'))) {
      if (this.active !== index) this.setActive(index);
      this.focusSeat(seat.dataset.seatId);
      this.opts.onPick(seat.dataset.seatId);
      return;
    }
    if (this.active !== index) this.zoomSection(index, false);
  }

  /** The nearest item in the arrow's direction: [{key, x, y}], from `from`. */
  static nearest(items, from, key, strict) {
    const dir = { ArrowRight: [1, 0], ArrowLeft: [-1, 0], ArrowDown: [0, 1], ArrowUp: [0, -1] }[key];
    let best = null;
    let score = Infinity;
    items.forEach((item) => {
      const dx = item.x - from.x;
      const dy = item.y - from.y;
      const along = dx * dir[0] + dy * dir[1];
      if (along <= 0.3) return;
      const across = Math.abs(dx * dir[1] + dy * dir[0]);
      if (strict && across > along) return;
      const s = along * along + 4 * across * across;
      if (s < score) {
        score = s;
        best = item;
      }
    });
    return best;
  }

  onKey(e) {
    const seatEl = e.target.closest('.sm-seat');
    const sectionEl = e.target.closest('.sm-section');
    if (e.key === '+' || e.key === '=') return this.key(e, () => this.zoom.by(0.6));
    if (e.key === '-' || e.key === '_') return this.key(e, () => this.zoom.by(1 / 0.6));
    if (e.key === 'Escape' && this.active !== null) return this.key(e, () => this.overview(true));
    if (sectionEl && !seatEl) {
      const index = Number(sectionEl.dataset.section);
      if (e.key === 'Enter' || e.key === ' ') return this.key(e, () => this.zoomSection(index, true));
      if (e.key.startsWith('Arrow')) {
        const from = this.sections[index];
        const items = this.sections.filter((s) => s !== from).map((s) => ({ key: s.index, x: s.centre[0], y: s.centre[1] }));
        const next = SeatMapView.nearest(items, { x: from.centre[0], y: from.centre[1] }, e.key, false);
        return this.key(e, () => next && this.focusSection(next.key));
      }
      return undefined;
    }
    if (!seatEl) return undefined;
    const id = seatEl.dataset.seatId;
    const s = this.sections[Number(seatEl.dataset.section)];
    const here = s.seats.find((seat) => seat.id === id);
    if (e.key === 'Enter' || e.key === ' ') return this.key(e, () => this.opts.onPick(id));
    const rows = this.rowsOf(s);
    const row = rows[here.row];
    const at = row.indexOf(here);
    if (e.key === 'ArrowLeft' || e.key === 'ArrowRight') {
      const next = row[Math.max(0, Math.min(row.length - 1, at + (e.key === 'ArrowRight' ? 1 : -1)))];
      return this.key(e, () => this.focusSeat(next.id));
    }
    if (e.key === 'ArrowUp' || e.key === 'ArrowDown') {
      // Up is towards the stage: the row in front; down the row behind.
      const step = (e.key === 'ArrowUp' ? -1 : 1) * rows.frontFirst;
      const other = rows[here.row + step];
      if (!other) return this.key(e, () => {});
      const next = other.reduce((best, seat) => (Math.hypot(seat.x - here.x, seat.y - here.y) < Math.hypot(best.x - here.x, best.y - here.y) ? seat : best));
      return this.key(e, () => this.focusSeat(next.id));
    }
    if (e.key === 'Home' || e.key === 'End') {
      return this.key(e, () => this.focusSeat((e.key === 'Home' ? row[0] : row[row.length - 1]).id));
    }
    return undefined;
  }

  /**
   * A section's rows in the layout's order, each row's seats from left to right as drawn (along
   * the row's own direction, so a row running down the side of an arena still has a first and a
   * last seat); `frontFirst` is 1 when the first row is the one nearest the stage, else -1.
   */
  rowsOf(s) {
    if (s.rows) return s.rows;
    const rows = [];
    s.seats.forEach((seat) => {
      (rows[seat.row] = rows[seat.row] || []).push(seat);
    });
    rows.forEach((row) => {
      const first = row[0];
      const last = row[row.length - 1];
      let ax = last.x - first.x;
      let ay = last.y - first.y;
      if (ax < 0 || (Math.abs(ax) < 1e-9 && ay < 0)) {
        ax = -ax;
        ay = -ay;
      }
      row.sort((a, b) => (a.x * ax + a.y * ay) - (b.x * ax + b.y * ay));
    });
    const centre = (row) => [row.reduce((n, x) => n + x.x, 0) / row.length, row.reduce((n, x) => n + x.y, 0) / row.length];
    const stage = this.layout.stage ? centroid(this.layout.stage.shape) : null;
    const away = (row) => {
      const c = centre(row);
      return stage ? Math.hypot(c[0] - stage[0], c[1] - stage[1]) : c[1];
    };
    rows.frontFirst = rows.length > 1 && away(rows[0]) > away(rows[rows.length - 1]) ? -1 : 1;
    s.rows = rows;
    return rows;
  }

  key(e, action) {
    e.preventDefault();
    action();
  }
}

