// How a seat of the venue map looks beside its colour (seatmap-view.js): the shapes that tell
// tiers apart, the tick of a pick and the cross of a sold seat (added only on those seats), the
// ♿/C symbols of wheelchair spaces and companion seats, and the same drawings for the key.

const NS = 'http://www.w3.org/2000/svg';
/** Seat shapes (centred, about 0.9 units across) that tell tiers apart beside their colours:
 * [element, its geometry]. The shape is the seat's element itself (one element a seat). */
export const SHAPES = [
  ['circle', 'r=".45"'],
  ['rect', 'x="-.41" y="-.41" width=".82" height=".82" rx=".1"'],
  ['path', 'd="M0-.52.52 0 0 .52-.52 0Z"'],
  ['path', 'd="M-.26-.45h.52L.52 0 .26.45h-.52L-.52 0Z"'],
];
const num = (n) => Math.round(n * 100) / 100;
const shapeOf = (i) => SHAPES[(i || 0) % SHAPES.length];
/** The tick over a picked seat and the cross over a sold one, drawn only on those seats (4,608
 * marks would double the map's elements), just after the seat (and its symbol). */
const MARKS = { tick: 'M-.25 0-.06.2.27-.2', cross: 'M-.2-.2.2.2M.2-.2-.2.2' };
const marks = new WeakMap(); // seat element → its mark

export function syncMark(el) {
  const want = el.getAttribute('aria-pressed') === 'true' ? 'tick' : el.dataset.status === 'sold' ? 'cross' : null;
  let mark = marks.get(el);
  if (!want) {
    if (mark) mark.remove();
    marks.delete(el);
    return;
  }
  if (!mark) {
    mark = document.createElementNS(NS, 'path');
    mark.setAttribute('aria-hidden', 'true');
    const transform = el.getAttribute('transform');
    if (transform) mark.setAttribute('transform', transform);
    const symbol = el.nextElementSibling && el.nextElementSibling.classList.contains('sm-sym') ? el.nextElementSibling : el;
    symbol.after(mark);
    marks.set(el, mark);
  }
  mark.setAttribute('class', `sm-mark sm-${want}`);
  mark.setAttribute('d', MARKS[want]);
}

/** A seat in a state, for the key: the map's own drawing. */
export function stateSwatch(status, picked) {
  const svg = document.createElementNS(NS, 'svg');
  svg.setAttribute('class', 'sm-swatch');
  svg.setAttribute('viewBox', '-.6 -.6 1.2 1.2');
  svg.setAttribute('aria-hidden', 'true');
  const seat = document.createElementNS(NS, 'circle');
  seat.setAttribute('class', 'sm-seat');
  seat.setAttribute('r', '.45');
  seat.setAttribute('fill', '#0f766e');
  if (status) seat.dataset.status = status;
  if (picked) seat.setAttribute('aria-pressed', 'true');
  svg.appendChild(seat);
  syncMark(seat);
  return svg.outerHTML;
}
/** The symbols drawn over wheelchair spaces and companion seats (explained in the legend). */
export const SYMBOLS = { wheelchair: '♿', companion: 'C' };

/** A tier's shape in its colour, for the key (markup made of constants and a checked colour). */
export function tierSwatch(shape, colour) {
  const fill = /^#[0-9a-fA-F]{3,8}$/.test(colour || '') ? colour : '#0f766e';
  const [tag, geometry] = shapeOf(shape);
  return `<svg class="sm-swatch" viewBox="-.6 -.6 1.2 1.2" aria-hidden="true"><${tag} class="sm-seat" fill="${fill}" ${geometry}/></svg>`;
}

/** A seat's symbol (♿, C) as an SVG text at its position, after the seat's element. */
export function symbolText(symbol, x, y) {
  const text = document.createElementNS(NS, 'text');
  text.setAttribute('class', 'sm-sym');
  text.setAttribute('aria-hidden', 'true');
  text.setAttribute('x', String(num(x)));
  text.setAttribute('y', String(num(y)));
  text.textContent = symbol;
  return text;
}
