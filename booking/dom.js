// Markup that is safe by construction. `html` is a tagged template that escapes every
// interpolated value unless it is itself an `html` result (or, rarely, a constant marked with
// `trusted`); arrays are joined, null and undefined print nothing. `render`, `append` and
// `replace` are the only way markup reaches the page, and they take only such results.
//
// Inline styles never travel in markup, because a Content-Security-Policy without
// 'unsafe-inline' refuses them: `styled({ property: value })` marks an element, and its
// properties are set through the CSSOM once the markup is parsed.

const ESCAPES = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/** Markup known to be safe, with the styles of its `styled` elements (ref → properties). */
class SafeHtml {
  constructor(text, styles) {
    this.text = text;
    this.styles = styles;
  }
}

function escapeHtml(value) {
  return String(value).replace(/[&<>"']/g, (c) => ESCAPES[c]);
}

function add(out, value) {
  if (value === null || value === undefined) return;
  if (value instanceof SafeHtml) {
    out.text += value.text;
    value.styles.forEach((properties, ref) => out.styles.set(ref, properties));
  } else if (Array.isArray(value)) {
    value.forEach((item) => add(out, item));
  } else {
    out.text += escapeHtml(value);
  }
}

const compacted = new WeakMap();

/**
 * The fixed parts of a template with each line break and the indentation after it removed (as
 * JSX does), so templates may be laid out on several lines without adding text between tags.
 * A space that matters goes inside a line.
 */
function fixedParts(strings) {
  let parts = compacted.get(strings);
  if (!parts) {
    parts = strings.map((s) => s.replace(/\n\s*/g, ''));
    compacted.set(strings, parts);
  }
  return parts;
}

/** html`<li>${name}</li>`: every value escaped, except nested html results; arrays joined. */
export function html(strings, ...values) {
  const parts = fixedParts(strings);
  const out = { text: parts[0], styles: new Map() };
  values.forEach((value, i) => {
    add(out, value);
    out.text += parts[i + 1];
  });
  return new SafeHtml(out.text, out.styles);
}

/** Marks a constant piece of markup (an icon's drawing) as safe. Never for data. */
export function trusted(markup) {
  return new SafeHtml(String(markup), new Map());
}

let lastStyleRef = 0;

/** An attribute for an element whose style is computed: <span${styled({ width: pct + '%' })}>. */
export function styled(properties) {
  lastStyleRef += 1;
  const ref = 's' + lastStyleRef;
  return new SafeHtml(' data-style-ref="' + ref + '"', new Map([[ref, properties]]));
}

/** Parsed nodes of `content` (a plain value becomes escaped text), styles applied. */
function fragment(content) {
  const safe = content instanceof SafeHtml ? content : html`${content}`;
  const template = document.createElement('template');
  template.innerHTML = safe.text;
  template.content.querySelectorAll('[data-style-ref]').forEach((el) => {
    const properties = safe.styles.get(el.dataset.styleRef) || {};
    Object.keys(properties).forEach((name) => el.style.setProperty(name, properties[name]));
    el.removeAttribute('data-style-ref');
  });
  return template.content;
}

/** Replaces the children of `target` with `content`. */
export function render(target, content) {
  target.replaceChildren(fragment(content));
}

/** Adds `content` after the children of `target`. */
export function append(target, content) {
  target.append(fragment(content));
}

/** Puts `content` in the place of `target` itself. */
export function replace(target, content) {
  target.replaceWith(fragment(content));
}

/** Shorthand for document.getElementById. */
export const byId = (id) => document.getElementById(id);
