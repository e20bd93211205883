// Admin, Venues tab: the visual venue editor (issue 19). Sections are added from rows × seats,
// curve, spacing, position and tiers (per row or per seat range); seats are marked as aisle,
// wheelchair, companion or restricted view by clicking them in the preview, which is drawn by
// the buyers' own map (seatmap-view.js); the venue is saved with POST /events/venues {layout}.
// A layout drawn elsewhere comes in as CSV (section,row,seat,x,y,tier,attributes).
// "Edit layout" on a saved venue loads its layout (GET /events/venues/{id}/layout) as explicit
// seats, the way a CSV comes in: sections, rows, every seat's position, tier and attributes (the
// curve and spacing it was drawn with are not kept; each section's shape becomes the box around
// its seats, the stage is drawn again above them). Rows can be added behind a section's last row
// or taken off, sections added beside it, seats marked; it is saved with PATCH
// /events/venues/{id}, which the server refuses (409 venue_in_use, shown here) while an event of
// the venue is on sale, or when a seat left out was booked.
import { api } from '../api.js';
import { Data } from '../data.js';
import { byId, html, render } from '../dom.js';
import { SeatMapView, SYMBOLS, symbolText } from '../seatmap-view.js';
import * as UI from '../ui.js';
import { state } from './shared.js';
import { loadVenues } from './venues.js';
import { ATTRIBUTES, buildLayout, drawSection, layoutFromCsv, previewLayout } from './venue-layout.js';

const editor = {
  sections: [], // [{spec, drawn}] in the order added
  marks: new Map(), // "section|row|number" → Set of attributes
  base: null, // explicit sections (a CSV's, or a saved venue's): {sections, fromCsv}
  editing: null, // the saved venue being edited: {id, name, plain}
  view: null,
};

const MARK_LABELS = { aisle: 'Aisle', wheelchair: 'Wheelchair space', companion: 'Companion seat', restricted_view: 'Restricted view' };

function markup() {
  return html`<div class="panel venue-editor">
    <h2 id="ve-title">Draw a venue</h2>
    <p class="small muted">Add sections around the stage, mark aisles and accessible spaces by clicking seats in the preview, and save. Or import a layout drawn elsewhere as CSV. A saved venue's layout is changed with “Edit layout” in the list, while none of its events is on sale.</p>
    <div id="ve-editing" class="notice" hidden><p id="ve-editing-text"></p>
      <button class="btn btn-ghost btn-sm" type="button" id="ve-cancel-edit">Stop editing</button></div>
    <div class="editor-grid">
      <form id="ve-form" novalidate aria-labelledby="ve-title">
        <div class="field"><label for="ve-name">Venue name</label><input id="ve-name" maxlength="200" required></div>
        <div class="field-pair">
          <div class="field"><label for="ve-kind">Kind</label><select id="ve-kind"></select></div>
          <div class="field"><label for="ve-location">Location</label><input id="ve-location" maxlength="200"></div>
        </div>
        <div class="field-pair">
          <div class="field"><label for="ve-zone">Time zone</label><input id="ve-zone" list="time-zones" placeholder="Europe/Berlin" autocomplete="off" spellcheck="false"></div>
          <div class="field"><label for="ve-stage">Stage label</label><input id="ve-stage" maxlength="40" value="Stage"></div>
        </div>
        <fieldset id="ve-section-fields">
          <legend>Section</legend>
          <div class="field"><label for="ve-sec-name">Section name</label><input id="ve-sec-name" maxlength="40"></div>
          <div class="field-pair">
            <div class="field"><label for="ve-rows">Rows</label><input id="ve-rows" type="number" min="1" max="200" value="5" inputmode="numeric"></div>
            <div class="field"><label for="ve-seats">Seats per row</label><input id="ve-seats" type="number" min="1" max="500" value="10" inputmode="numeric"></div>
          </div>
          <div class="field-pair">
            <div class="field"><label for="ve-row-style">Rows named</label><select id="ve-row-style"><option value="letters">A, B, C…</option><option value="numbers">1, 2, 3…</option></select></div>
            <div class="field"><label for="ve-curve">Curve (degrees of arc)</label><input id="ve-curve" type="number" min="0" max="180" value="0" inputmode="numeric"></div>
          </div>
          <div class="field-pair">
            <div class="field"><label for="ve-seat-spacing">Seat spacing (units)</label><input id="ve-seat-spacing" type="number" min="1" step="0.1" value="1.2"></div>
            <div class="field"><label for="ve-row-spacing">Row spacing (units)</label><input id="ve-row-spacing" type="number" min="1" step="0.1" value="1.6"></div>
          </div>
          <div class="field-pair">
            <div class="field"><label for="ve-x">Position x (empty: beside the last)</label><input id="ve-x" type="number" min="0" step="0.5"></div>
            <div class="field"><label for="ve-y">Position y</label><input id="ve-y" type="number" min="0" step="0.5" value="0"></div>
          </div>
          <div class="field"><label for="ve-tier">Tier</label><input id="ve-tier" maxlength="40" value="standard"></div>
          <div class="field"><label for="ve-tier-rules">Other tiers, one a line</label>
            <textarea id="ve-tier-rules" rows="2" aria-describedby="ve-tier-hint" placeholder="A-B vip"></textarea>
            <p class="small muted flush" id="ve-tier-hint">Rows “A-B vip”, or a seat range of a row “C 1-4 premium”.</p></div>
          <button class="btn btn-secondary btn-sm" type="button" id="ve-add">Add section</button>
        </fieldset>
        <ul class="editor-sections" id="ve-sections" aria-label="Sections"></ul>
        <fieldset id="ve-rows-edit" hidden>
          <legend>Rows of a section</legend>
          <div class="field"><label for="ve-edit-section">Section</label><select id="ve-edit-section"></select></div>
          <div class="btn-row">
            <button class="btn btn-secondary btn-sm" type="button" id="ve-add-row">Add a row behind the last</button>
            <button class="btn btn-ghost btn-sm" type="button" id="ve-remove-row">Remove the last row</button>
          </div>
        </fieldset>
        <details id="ve-csv-box"><summary>Import a layout from CSV</summary>
          <p class="small muted">A line per seat: <code>section,row,seat,x,y,tier,attributes</code> (a header line, attributes separated by | or ;, e.g. <code>aisle|wheelchair</code>). Each section's shape is the box around its seats.</p>
          <div class="field"><label for="ve-csv-file">CSV file</label><input id="ve-csv-file" type="file" accept=".csv,text/csv,text/plain"></div>
          <div class="field"><label for="ve-csv">Or paste it</label><textarea id="ve-csv" rows="6" spellcheck="false"></textarea></div>
          <button class="btn btn-secondary btn-sm" type="button" id="ve-csv-import">Preview the CSV</button>
        </details>
        <div id="ve-alert" role="alert" hidden></div>
        <button class="btn btn-primary" type="submit" id="ve-save">Save venue</button>
      </form>
      <div class="ve-preview-col">
        <h3>Preview as buyers will see it</h3>
        <fieldset class="editor-mark"><legend class="small">Clicking a seat marks it as</legend>
          ${ATTRIBUTES.map((a, i) => html`<label class="inline-check"><input type="radio" name="ve-mark" value="${a}"${i === 0 ? ' checked' : ''}> ${MARK_LABELS[a]}</label>`)}
        </fieldset>
        <p class="small muted" id="ve-summary" aria-live="polite">No sections yet.</p>
        <div id="ve-preview" class="seatmap seatmap-arena"></div>
        <div id="ve-news" class="visually-hidden" aria-live="polite"></div>
      </div>
    </div>
  </div>`;
}

function number(id) {
  const v = byId(id).value.trim();
  return v === '' ? null : Number(v);
}

/** The sections as drawn, each placed beside the last unless it has an x of its own. */
function drawnSections() {
  const base = editor.base ? editor.base.sections.flatMap((s) => s.rows.flatMap((r) => r.seats.map((seat) => seat.x))) : [];
  let right = base.length ? Math.max(...base) + 1 : 0;
  return editor.sections.map(({ spec }) => {
    const placed = { ...spec, x: spec.x === null ? (right ? right + 3 : 0) : spec.x };
    const drawn = drawSection(placed);
    const xs = drawn.rows.flatMap((r) => r.seats.map((s) => s.x));
    right = Math.max(right, Math.max(...xs) + 1);
    return drawn;
  });
}

/** Every section, explicit ones first (a CSV's or a saved venue's), then the drawn ones. */
function allSections() {
  return [...(editor.base ? editor.base.sections : []), ...drawnSections()];
}

function currentLayout() {
  const sections = allSections();
  if (!sections.length) return null;
  // A CSV's layout has no stage; a saved venue's keeps its label (in the stage field).
  const stage = editor.base && editor.base.fromCsv ? null : byId('ve-stage').value.trim() || null;
  return buildLayout(sections, editor.marks, stage);
}

function tierPalette(layout) {
  const tiers = new Set();
  layout.sections.forEach((s) => s.rows.forEach((r) => {
    tiers.add(r.tier || 'standard');
    r.seats.forEach((seat) => seat.tier && tiers.add(seat.tier));
  }));
  const list = Data.tiers(Array.from(tiers, (tier, i) => ({ tier, price_cents: i })));
  return new Map(list.map((x, i) => [x.tier, { colour: x.colour, shape: i }]));
}

function renderPreview() {
  const host = byId('ve-preview');
  const layout = currentLayout();
  render(
    byId('ve-sections'),
    editor.sections.map(({ spec }, i) => html`<li><span><strong>${spec.name}</strong> · ${spec.rows} × ${spec.seats}${spec.curve ? ` · ${spec.curve}°` : ''} · ${spec.tier}</span>
      <button class="btn btn-ghost btn-sm" type="button" data-remove-section="${i}" aria-label="Remove section ${spec.name}">Remove</button></li>`),
  );
  const explicit = editor.base ? editor.base.sections : [];
  byId('ve-rows-edit').hidden = !explicit.length;
  const chosen = byId('ve-edit-section').value;
  render(byId('ve-edit-section'), explicit.map((s, i) => html`<option value="${i}"${String(i) === chosen ? ' selected' : ''}>${s.name || 'Rows'}</option>`));
  if (!layout) {
    host.replaceChildren();
    editor.view = null;
    byId('ve-summary').textContent = 'No sections yet.';
    return;
  }
  const seats = layout.sections.reduce((n, s) => n + s.rows.reduce((m, r) => m + r.seats.length, 0), 0);
  const from = editor.base && editor.base.fromCsv ? ' (from CSV)' : editor.editing ? ` (editing ${editor.editing.name})` : '';
  byId('ve-summary').textContent = `${layout.sections.length} section${layout.sections.length === 1 ? '' : 's'}, ${seats} seats${from}.`;
  const palette = tierPalette(layout);
  const shown = previewLayout(layout);
  const attrs = new Map();
  shown.sections.forEach((s) => s.rows.forEach((r) => r.seats.forEach((seat) => attrs.set(seat.id, seat))));
  editor.view = new SeatMapView(host, shown, {
    name: 'Preview of the venue',
    tierColour: (tier) => (palette.get(tier) || {}).colour || '#0f766e',
    tierShape: (tier) => (palette.get(tier) || {}).shape || 0,
    seatInfo: () => ({ status: 'available', price_cents: null }),
    price: () => '',
    onPick: (id) => mark(id, shown),
    announce: (text) => {
      byId('ve-news').textContent = text;
    },
  });
  shown.sections.forEach((s) => s.rows.forEach((r) => r.seats.forEach((seat) => {
    const el = editor.view.seatElement(seat.id);
    const label = `${s.name} · Row ${r.row} · Seat ${seat.number}, ${seat.tier}${(seat.attributes || []).length ? ', ' + seat.attributes.join(', ') : ''}`;
    el.setAttribute('aria-label', label);
    el.dataset.status = 'available';
  })));
}

/** A seat clicked in the preview: the chosen mark is put on it, or taken off. */
function mark(id, shown) {
  const [index, row, num] = id.split('|');
  const section = shown.sections[Number(index)];
  const attribute = (document.querySelector('input[name="ve-mark"]:checked') || {}).value || 'aisle';
  const key = `${section.name}|${row}|${num}`;
  const base = editor.base && Number(index) < editor.base.sections.length ? editor.base.sections[Number(index)] : null;
  if (base) {
    const seat = base.rows.find((r) => r.row === row).seats.find((s) => String(s.number) === num);
    const set = new Set(seat.attributes || []);
    if (set.has(attribute)) set.delete(attribute);
    else set.add(attribute);
    seat.attributes = ATTRIBUTES.filter((a) => set.has(a));
    if (!seat.attributes.length) delete seat.attributes;
  } else {
    const set = editor.marks.get(key) || new Set();
    if (set.has(attribute)) set.delete(attribute);
    else set.add(attribute);
    editor.marks.set(key, set);
  }
  const el = editor.view.seatElement(id);
  const has = base
    ? new Set(base.rows.find((r) => r.row === row).seats.find((s) => String(s.number) === num).attributes || [])
    : editor.marks.get(key);
  el.dataset.attrs = Array.from(has).join(' ');
  const next = el.nextElementSibling;
  if (next && next.classList.contains('sm-sym')) next.remove();
  const symbol = has.has('wheelchair') ? SYMBOLS.wheelchair : has.has('companion') ? SYMBOLS.companion : '';
  if (symbol) {
    const seat = section.rows.find((r) => r.row === row).seats.find((x) => String(x.number) === num);
    el.after(symbolText(symbol, seat.x, seat.y));
  }
  const label = `${section.name} · Row ${row} · Seat ${num}${has.size ? ', ' + Array.from(has).join(', ') : ''}`;
  el.setAttribute('aria-label', label);
  byId('ve-news').textContent = `${label}.`;
}

function addSection() {
  const alertEl = byId('ve-alert');
  UI.clear(alertEl);
  const name = byId('ve-sec-name').value.trim() || `Block ${editor.sections.length + 1}`;
  const spec = {
    name,
    rows: number('ve-rows') || 1,
    seats: number('ve-seats') || 1,
    rowStyle: byId('ve-row-style').value,
    curve: number('ve-curve') || 0,
    seatSpacing: Math.max(1, number('ve-seat-spacing') || 1.2),
    rowSpacing: Math.max(1, number('ve-row-spacing') || 1.6),
    x: number('ve-x'),
    y: number('ve-y') || 0,
    tier: byId('ve-tier').value.trim().toLowerCase().replace(/\s+/g, '_') || 'standard',
    tierRules: byId('ve-tier-rules').value,
  };
  const problems = [];
  if (allSections().some((s) => s.name === name)) problems.push(`a section is already called ${name}`);
  if (!(spec.rows >= 1 && spec.rows <= 200)) problems.push('rows must be 1 to 200');
  if (!(spec.seats >= 1 && spec.seats <= 500)) problems.push('seats per row must be 1 to 500');
  try {
    drawSection(spec);
  } catch (error) {
    problems.push(error.message);
  }
  if (problems.length) {
    UI.showError('Please check the section', problems.join('; ') + '.', alertEl);
    return;
  }
  editor.sections.push({ spec });
  byId('ve-sec-name').value = '';
  byId('ve-tier-rules').value = '';
  renderPreview();
}

async function importCsv() {
  const alertEl = byId('ve-alert');
  UI.clear(alertEl);
  const file = byId('ve-csv-file').files[0];
  const text = file ? await file.text() : byId('ve-csv').value;
  let layout = null;
  try {
    layout = layoutFromCsv(text);
  } catch (error) {
    UI.showError('The CSV cannot be read', error.message + '.', alertEl);
    return;
  }
  editor.base = { sections: sectionsOf(layout), fromCsv: true };
  editor.sections = [];
  editor.marks.clear();
  renderPreview();
}

async function save(e) {
  e.preventDefault();
  const alertEl = byId('ve-alert');
  UI.clear(alertEl);
  const name = byId('ve-name').value.trim();
  let layout = null;
  try {
    layout = currentLayout();
  } catch (error) {
    UI.showError('Please check the venue', error.message + '.', alertEl);
    return;
  }
  const problems = [];
  if (!name && !editor.editing) problems.push('the venue needs a name');
  if (!layout) problems.push('add a section or import a CSV');
  if (problems.length) {
    UI.showError('Please check the venue', problems.join('; ') + '.', alertEl);
    return;
  }
  if (editor.editing) {
    await saveEdit(layout, alertEl);
    return;
  }
  const body = {
    name,
    kind: byId('ve-kind').value,
    location: byId('ve-location').value.trim() || undefined,
    time_zone: byId('ve-zone').value.trim() || undefined,
    layout,
  };
  try {
    const venue = await UI.busy(byId('ve-save'), 'Saving…', () => api.events.createVenue(body));
    UI.showStatus(`Venue “${venue.name}” created with ${venue.seats ? venue.seats.length : venue.seat_count} seats in ${layout.sections.length} sections.`, 'success');
    resetEditor();
    await loadVenues();
  } catch (error) {
    // A 422 names the problem (two seats too close, a seat outside its section…): shown here.
    UI.handleError(error, alertEl);
  }
}

/** The explicit sections of a layout document ({sections: [{name, rows: [{row, seats}]}]}), as
 * buildLayout takes them: a row's tier is its first seat's, other seats keep theirs. */
function sectionsOf(layout) {
  return layout.sections.map((s) => ({
    name: s.name,
    rows: s.rows.map((r) => {
      const tier = r.tier || (r.seats[0] && r.seats[0].tier) || 'standard';
      return {
        row: r.row,
        tier,
        seats: r.seats.map((seat) => {
          const out = { number: seat.number, x: seat.x, y: seat.y };
          if (seat.tier && seat.tier !== tier) out.tier = seat.tier;
          if ((seat.attributes || []).length) out.attributes = seat.attributes.slice();
          return out;
        }),
      };
    }),
  }));
}

/** The next row's name after `name`: 9 → 10, H → I, Z → AA. */
function nextRowName(name) {
  if (/^\d+$/.test(name)) return String(Number(name) + 1);
  if (!/^[A-Z]+$/.test(name)) return name + '2';
  const letters = name.split('');
  let i = letters.length - 1;
  while (i >= 0 && letters[i] === 'Z') {
    letters[i] = 'A';
    i -= 1;
  }
  if (i < 0) return 'A' + letters.join('');
  letters[i] = String.fromCharCode(letters[i].charCodeAt(0) + 1);
  return letters.join('');
}

/** A row behind the chosen section's last one: its seats, moved back by the rows' spacing. */
function addRow() {
  const section = editor.base.sections[Number(byId('ve-edit-section').value) || 0];
  const rows = section.rows;
  const last = rows[rows.length - 1];
  const meanY = (r) => r.seats.reduce((n, s) => n + s.y, 0) / r.seats.length;
  const step = rows.length > 1 ? meanY(last) - meanY(rows[rows.length - 2]) || 1.6 : 1.6;
  const taken = new Set(rows.map((r) => r.row));
  let name = nextRowName(last.row);
  while (taken.has(name)) name = nextRowName(name);
  rows.push({
    row: name,
    tier: last.tier,
    seats: last.seats.map((s) => ({ number: s.number, x: s.x, y: Math.round((s.y + step) * 1000) / 1000, ...(s.tier ? { tier: s.tier } : {}) })),
  });
  renderPreview();
  byId('ve-news').textContent = `Row ${name} added to ${section.name || 'the venue'}.`;
}

function removeRow() {
  const section = editor.base.sections[Number(byId('ve-edit-section').value) || 0];
  if (section.rows.length < 2) {
    UI.showError('Please check the section', 'a section keeps at least one row.', byId('ve-alert'));
    return;
  }
  const gone = section.rows.pop();
  renderPreview();
  byId('ve-news').textContent = `Row ${gone.row} removed from ${section.name || 'the venue'}.`;
}

/** Loads a saved venue's layout into the editor, to change it. */
async function editVenue(id) {
  const alertEl = byId('ve-alert');
  UI.clear(alertEl);
  const venue = (state.venues || []).find((v) => v.id === id);
  try {
    const layout = await api.events.getVenueLayout(id);
    resetEditor();
    // A venue of plain rows (one section without a name) is saved as rows again, so its seats
    // keep their labels; with a drawn section beside it, its section is named "Main".
    const plain = layout.sections.length === 1 && !layout.sections[0].name;
    editor.base = { sections: sectionsOf(layout), fromCsv: false };
    editor.editing = { id, name: venue ? venue.name : 'the venue', plain };
    byId('ve-stage').value = layout.stage ? layout.stage.label : '';
    byId('ve-name').value = editor.editing.name;
    ['ve-name', 've-kind', 've-location', 've-zone'].forEach((f) => {
      byId(f).disabled = true;
    });
    byId('ve-editing').hidden = false;
    byId('ve-editing-text').textContent = `Editing the layout of “${editor.editing.name}”: add or remove rows, add sections, mark seats, then save.`;
    byId('ve-save').textContent = 'Save layout';
    renderPreview();
    byId('ve-editing').scrollIntoView({ block: 'nearest' });
  } catch (error) {
    UI.handleError(error, alertEl);
  }
}

/** Saves the edited layout of a saved venue: the old body (rows) for a venue of plain rows. */
async function saveEdit(layout, alertEl) {
  const { id, name, plain } = editor.editing;
  const base = editor.base.sections;
  let body = { layout };
  if (plain && !editor.sections.length) {
    const rows = base[0].rows;
    const numbered = rows.every((r) => !r.seats.some((s) => s.tier) && r.seats.every((s, i) => s.number === i + 1));
    if (numbered) body = { rows: rows.map((r) => ({ row: r.row, seats: r.seats.length, tier: r.tier })) };
  }
  if (body.layout && plain) {
    base[0].name = base[0].name || 'Main';
    body = { layout: currentLayout() };
  }
  try {
    const venue = await UI.busy(byId('ve-save'), 'Saving…', () => api.events.updateVenue(id, body));
    UI.showStatus(`The layout of “${name}” was saved: ${venue.seats ? venue.seats.length : venue.seat_count} seats.`, 'success');
    resetEditor();
    await loadVenues();
  } catch (error) {
    // 409 venue_in_use names the event on sale, or the booked seat left out; 422 the problem.
    UI.handleError(error, alertEl);
  }
}

/** Back to an empty editor that creates a venue. */
function resetEditor() {
  editor.sections = [];
  editor.marks.clear();
  editor.base = null;
  editor.editing = null;
  byId('ve-form').reset();
  ['ve-name', 've-kind', 've-location', 've-zone'].forEach((f) => {
    byId(f).disabled = false;
  });
  byId('ve-editing').hidden = true;
  byId('ve-save').textContent = 'Save venue';
  renderPreview();
}

export function setupVenueEditor() {
  const host = byId('venue-editor');
  if (!host) return;
  render(host, markup());
  Data.VENUE_KINDS.forEach((k) => {
    const option = document.createElement('option');
    option.value = k.id;
    option.textContent = k.label;
    option.defaultSelected = k.id === 'arena'; // kept when the form is reset after a save
    byId('ve-kind').appendChild(option);
  });
  byId('ve-add').addEventListener('click', addSection);
  byId('ve-csv-import').addEventListener('click', importCsv);
  byId('ve-stage').addEventListener('change', renderPreview);
  byId('ve-form').addEventListener('submit', save);
  byId('ve-add-row').addEventListener('click', addRow);
  byId('ve-remove-row').addEventListener('click', removeRow);
  byId('ve-cancel-edit').addEventListener('click', () => {
    UI.clear(byId('ve-alert'));
    resetEditor();
  });
  // "Edit layout" on a venue of the list (admin/venues.js draws the button).
  byId('admin-venues').addEventListener('click', (e) => {
    const edit = e.target.closest('[data-edit-layout]');
    if (edit) editVenue(edit.closest('[data-venue-id]').dataset.venueId);
  });
  byId('ve-sections').addEventListener('click', (e) => {
    const remove = e.target.closest('[data-remove-section]');
    if (!remove) return;
    editor.sections.splice(Number(remove.dataset.removeSection), 1);
    renderPreview();
  });
}
