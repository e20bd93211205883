// The venue editor's arithmetic (admin/venue-editor.js), no DOM: a section drawn from its rows ×
// seats, curve and spacing becomes seats at positions; the sections become the layout document
// that POST /events/venues takes (shared/src/domain/layout.rs checks it again, whole); a CSV
// (section,row,seat,x,y,tier,attributes) becomes the same document.

/** Units around a section's seats (its shape is their bounding box grown by this). */
export const MARGIN = 1;
export const ATTRIBUTES = ['aisle', 'wheelchair', 'companion', 'restricted_view'];

const round = (n) => Math.round(n * 1000) / 1000;

/** "A".."Z", "AA".. for letters; "1".. for numbers. */
export function rowName(i, style) {
  if (style === 'numbers') return String(i + 1);
  let n = i;
  let name = '';
  do {
    name = String.fromCharCode(65 + (n % 26)) + name;
    n = Math.floor(n / 26) - 1;
  } while (n >= 0);
  return name;
}

/**
 * Other tiers of a section, one rule a line: "A-B vip" (rows A to B), "C 1-4 premium" (seats 1 to
 * 4 of row C), "3 premium" (row 3). → [{from, to, seatFrom, seatTo, tier}] or throws a sentence.
 */
export function parseTierRules(text, rowNames) {
  const rules = [];
  String(text || '').split(/\n|;/).map((l) => l.trim()).filter(Boolean).forEach((line) => {
    const m = /^([A-Za-z0-9]+)(?:\s*-\s*([A-Za-z0-9]+))?(?:\s+(\d+)(?:\s*-\s*(\d+))?)?\s*:?\s+([A-Za-z][\w-]*)$/.exec(line);
    if (!m) throw new Error(`“${line}” is not a tier rule (e.g. “A-B vip” or “C 1-4 premium”)`);
    const from = rowNames.indexOf(m[1].toUpperCase()) >= 0 ? rowNames.indexOf(m[1].toUpperCase()) : rowNames.indexOf(m[1]);
    const toName = m[2] || m[1];
    const to = rowNames.indexOf(toName.toUpperCase()) >= 0 ? rowNames.indexOf(toName.toUpperCase()) : rowNames.indexOf(toName);
    if (from < 0 || to < 0) throw new Error(`“${line}” names a row the section does not have`);
    rules.push({
      from: Math.min(from, to),
      to: Math.max(from, to),
      seatFrom: m[3] ? Number(m[3]) : 1,
      seatTo: m[4] ? Number(m[4]) : m[3] ? Number(m[3]) : Infinity,
      tier: m[5].toLowerCase(),
    });
  });
  return rules;
}

/**
 * A section's seats: rows × seats, `curve` degrees of arc for its front row (0: straight rows),
 * `seatSpacing` and `rowSpacing` in units (at least 1), its top-left corner at (x, y).
 * → {name, rows: [{row, tier, seats: [{number, x, y, tier?}]}]}
 */
export function drawSection(spec) {
  const rows = Math.max(1, Math.min(200, Math.floor(spec.rows)));
  const count = Math.max(1, Math.min(500, Math.floor(spec.seats)));
  const sp = Math.max(1, Number(spec.seatSpacing) || 1.2);
  const rp = Math.max(1, Number(spec.rowSpacing) || 1.6);
  const curve = Math.max(0, Math.min(180, Number(spec.curve) || 0));
  const names = Array.from({ length: rows }, (_, i) => rowName(i, spec.rowStyle));
  const rules = parseTierRules(spec.tierRules, names);
  const raw = [];
  for (let r = 0; r < rows; r += 1) {
    const seats = [];
    if (curve > 0) {
      // The front row spans `curve` degrees of a circle whose centre is towards the stage; every
      // row behind it is `rp` further out, its seats `sp` apart (as chords).
      const front = ((count - 1) * sp) / ((curve * Math.PI) / 180);
      const radius = front + r * rp;
      const step = 2 * Math.asin(Math.min(1, sp / (2 * radius)));
      for (let i = 0; i < count; i += 1) {
        const angle = (i - (count - 1) / 2) * step;
        seats.push({ number: i + 1, x: radius * Math.sin(angle), y: radius * Math.cos(angle) - front });
      }
    } else {
      for (let i = 0; i < count; i += 1) seats.push({ number: i + 1, x: i * sp, y: r * rp });
    }
    raw.push(seats);
  }
  const all = raw.flat();
  const minX = Math.min(...all.map((s) => s.x));
  const minY = Math.min(...all.map((s) => s.y));
  const ox = (Number(spec.x) || 0) + MARGIN - minX;
  const oy = (Number(spec.y) || 0) + MARGIN - minY;
  const base = String(spec.tier || 'standard').trim().toLowerCase() || 'standard';
  return {
    name: spec.name,
    rows: raw.map((seats, r) => {
      const rowTier = (rules.find((x) => r >= x.from && r <= x.to && x.seatFrom === 1 && x.seatTo === Infinity) || {}).tier || base;
      return {
        row: names[r],
        tier: rowTier,
        seats: seats.map((s) => {
          const seat = { number: s.number, x: round(s.x + ox), y: round(s.y + oy) };
          const rule = rules.find((x) => r >= x.from && r <= x.to && s.number >= x.seatFrom && s.number <= x.seatTo && !(x.seatFrom === 1 && x.seatTo === Infinity));
          if (rule && rule.tier !== rowTier) seat.tier = rule.tier;
          return seat;
        }),
      };
    }),
  };
}

/** The bounding box of seats grown by the margin, as a polygon. */
function boxShape(seats) {
  const xs = seats.map((s) => s.x);
  const ys = seats.map((s) => s.y);
  const [x0, y0, x1, y1] = [Math.min(...xs) - MARGIN, Math.min(...ys) - MARGIN, Math.max(...xs) + MARGIN, Math.max(...ys) + MARGIN];
  return [[round(x0), round(y0)], [round(x1), round(y0)], [round(x1), round(y1)], [round(x0), round(y1)]];
}

/**
 * The layout document from sections of rows of seats ({name, rows: [{row, tier, seats}]}), with
 * `marks` (a Map "section|row|number" → Set of attributes): shapes are the seats' bounding boxes
 * plus a margin, everything shifted to start at 2 units, a stage drawn above when `stage` is named.
 */
export function buildLayout(sections, marks, stage) {
  const all = sections.flatMap((s) => s.rows.flatMap((r) => r.seats));
  if (!all.length) throw new Error('add at least one section');
  const top = stage ? 10 : 2;
  const dx = 2 + MARGIN - Math.min(...all.map((s) => s.x));
  const dy = top + MARGIN - Math.min(...all.map((s) => s.y));
  const out = sections.map((section) => {
    const rows = section.rows.map((row) => ({
      row: row.row,
      tier: row.tier,
      seats: row.seats.map((seat) => {
        const s = { number: seat.number, x: round(seat.x + dx), y: round(seat.y + dy) };
        if (seat.tier) s.tier = seat.tier;
        const attrs = new Set(seat.attributes || []);
        ((marks && marks.get(`${section.name}|${row.row}|${seat.number}`)) || []).forEach((a) => attrs.add(a));
        if (attrs.size) s.attributes = ATTRIBUTES.filter((a) => attrs.has(a));
        return s;
      }),
    }));
    return { name: section.name, shape: boxShape(rows.flatMap((r) => r.seats)), rows };
  });
  const corners = out.flatMap((s) => s.shape);
  const width = round(Math.max(...corners.map((p) => p[0])) + 2);
  const height = round(Math.max(...corners.map((p) => p[1])) + 2);
  const layout = { width, height, sections: out };
  if (stage) {
    const w = Math.max(4, width * 0.4);
    const x0 = round((width - w) / 2);
    layout.stage = { label: stage, shape: [[x0, 2], [round(x0 + w), 2], [round(x0 + w), 7], [x0, 7]] };
  }
  return layout;
}

/** One CSV line's fields ("a","b, c",d): double quotes around a field that has commas. */
function fields(line) {
  const out = [];
  let cur = '';
  let quoted = false;
  for (let i = 0; i < line.length; i += 1) {
    const c = line[i];
    if (quoted) {
      if (c === '"' && line[i + 1] === '"') {
        cur += '"';
        i += 1;
      } else if (c === '"') quoted = false;
      else cur += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') {
      out.push(cur.trim());
      cur = '';
    } else cur += c;
  }
  out.push(cur.trim());
  return out;
}

/**
 * A layout from CSV text: `section,row,seat,x,y,tier,attributes` a line (a header line is
 * skipped; attributes separated by | or ;). Throws an Error naming the line of the first problem.
 */
export function layoutFromCsv(text) {
  const sections = new Map();
  const lines = String(text || '').split(/\r?\n/);
  lines.forEach((line, i) => {
    if (!line.trim() || line.trim().startsWith('#')) return;
    const f = fields(line);
    if (i === 0 && /^section$/i.test(f[0])) return;
    const where = `line ${i + 1}`;
    if (f.length < 5) throw new Error(`${where}: expected section,row,seat,x,y,tier,attributes`);
    const [section, row, seat, x, y, tier, attributes] = f;
    const number = Number(seat);
    const px = Number(x);
    const py = Number(y);
    if (!section || !row) throw new Error(`${where}: the section and the row are needed`);
    if (!Number.isInteger(number) || number < 1) throw new Error(`${where}: the seat must be a whole number from 1`);
    if (!Number.isFinite(px) || !Number.isFinite(py) || x === '' || y === '') throw new Error(`${where}: x and y must be numbers`);
    const attrs = String(attributes || '').split(/[|;]/).map((a) => a.trim().toLowerCase()).filter(Boolean);
    const unknown = attrs.find((a) => !ATTRIBUTES.includes(a));
    if (unknown) throw new Error(`${where}: unknown attribute “${unknown}” (known: ${ATTRIBUTES.join(', ')})`);
    if (!sections.has(section)) sections.set(section, { name: section, rows: new Map() });
    const rows = sections.get(section).rows;
    if (!rows.has(row)) rows.set(row, { row, tier: (tier || 'standard').toLowerCase(), seats: [] });
    const r = rows.get(row);
    const s = { number, x: px, y: py, attributes: attrs };
    if (tier && tier.toLowerCase() !== r.tier) s.tier = tier.toLowerCase();
    r.seats.push(s);
  });
  if (!sections.size) throw new Error('the CSV has no seats');
  const list = Array.from(sections.values(), (s) => ({ name: s.name, rows: Array.from(s.rows.values()) }));
  return buildLayout(list, null, null);
}

/** The layout with an id per seat, as GET …/layout answers it, for the preview. */
export function previewLayout(layout) {
  return {
    ...layout,
    sections: layout.sections.map((s, i) => ({
      ...s,
      rows: s.rows.map((r) => ({
        ...r,
        seats: r.seats.map((seat) => ({ ...seat, id: `${i}|${r.row}|${seat.number}`, tier: seat.tier || r.tier })),
      })),
    })),
  };
}
