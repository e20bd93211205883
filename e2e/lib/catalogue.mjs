// What the booking site says, read from its files: every key a page's HTML shows (its text, its
// labels, its title and description) and every key its scripts pass to `t('…')`, and the words a
// script shows without `t()` (text in an html`` template, a literal given to the functions that
// put words on the page). The catalogue test (tests/catalogues.test.mjs) holds them against
// booking/i18n/*.json; `node lib/catalogue.mjs` prints the keys, to start a catalogue from.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

export const BOOKING = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../booking');
export const LANGUAGES = ['en', 'de', 'fr', 'es'];

/** The buyer's pages, translated in full; admin.html and checkin.html stay English. */
export const PAGES = [
  'Home.html', 'events.html', 'movies.html', 'theatres.html', 'detail.html',
  'booking.html', 'payment.html', 'profile.html', 'ticket.html', 'login.html', 'venue.html',
  '404.html', 'terms.html', 'privacy.html', 'reset.html', 'queue.html',
];
/** The scripts those pages run, and the modules every page shares. */
export const SCRIPTS = [
  'home.js', 'events.js', 'movies.js', 'theatres.js', 'detail.js', 'booking.js', 'payment.js',
  'profile.js', 'ticket.js', 'login.js', 'venue.js', 'ui.js', 'data.js', 'auth.js', 'reset.js',
  'queue.js', 'waitlist.js', 'seatmap-view.js', 'ticket-types.js', 'best-available.js',
];

const read = (file) => readFileSync(path.join(BOOKING, file), 'utf8');
const decode = (text) =>
  text.replace(/&larr;/g, '←').replace(/&rarr;/g, '→').replace(/&amp;/g, '&').replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&nbsp;/g, '\u00a0');
const words = (text) => /\p{L}{2,}/u.test(text);

/** The keys an HTML page shows before its script runs (i18n.js translates them in place). */
export function htmlKeys(file) {
  const source = read(file).replace(/<(script|style|noscript)\b[^>]*>[\s\S]*?<\/\1>/g, '');
  const keys = new Set();
  const title = /<title>([^<]*)<\/title>/.exec(source);
  if (title) decode(title[1]).split(' · ').filter((p) => p !== 'ProEventa' && words(p)).forEach((p) => keys.add(p.trim()));
  const body = source.replace(/<head>[\s\S]*?<\/head>/, (head) => head.replace(/<title>[\s\S]*?<\/title>/, ''));
  for (const m of body.matchAll(/<meta name="description" content="([^"]*)"/g)) keys.add(decode(m[1]));
  for (const m of body.matchAll(/\s(?:placeholder|aria-label|title|alt)="([^"]*)"/g)) if (words(m[1])) keys.add(decode(m[1]));
  for (const m of body.matchAll(/>([^<>]+)</g)) {
    const text = decode(m[1]).trim();
    // Not a figure the script replaces at once ("0.00 EUR").
    if (words(text) && text !== 'ProEventa' && !/^[\d.,\s]+[A-Z]{3}$/.test(text)) keys.add(text);
  }
  return keys;
}

/** The literal keys a script passes to t(). */
export function scriptKeys(file) {
  const keys = new Set();
  for (const m of read(file).matchAll(/\bt\(\s*(?:'((?:[^'\\]|\\.)*)'|"((?:[^"\\]|\\.)*)")/g)) {
    keys.add((m[1] ?? m[2]).replace(/\\(.)/g, '$1'));
  }
  return keys;
}

/** Words a script shows without t(): template text between tags, and the literal sentences it
 * gives the functions that write on the page. Each as "file: text". */
export function untranslated(file) {
  const source = read(file).replace(/^\s*\/\/.*$/gm, '').replace(/\/\*[\s\S]*?\*\//g, '');
  const found = [];
  // Text between markup on any line: after a tag's `>` or an expression's `}`, before a `<` or
  // a `${` (templates nest, so lines are read, not whole templates); and the labels people hear.
  source.split('\n').forEach((line) => {
    for (const m of line.matchAll(/(?:>|\})([^<>{}`'"]*?)(?:<\/?[a-z]|\$\{)/g)) {
      const piece = decode(m[1]).trim();
      if (words(piece) && !/^(Pro|Eventa|ProEventa)$/.test(piece) && !/[=&|;()]/.test(piece)) found.push(file + ': ' + piece);
    }
    for (const m of line.matchAll(/\s(?:placeholder|aria-label|title|alt)="([^"$]*)"/g)) {
      if (words(m[1])) found.push(file + ': ' + m[1]);
    }
  });
  // On a line that writes words on the page, a literal that reads as words and is not in t().
  const writers = /showError|showStatus|emptyState|setTitle|busy\(|textContent\s*=|announce\(|label:|text:|title:/;
  source.split('\n').filter((line) => writers.test(line)).forEach((whole) => {
    const line = whole.replace(/\bt\((?:'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")/g, 't(');
    for (const m of line.matchAll(/(?<!t\()'([^'\n]*)'/g)) {
      if (/^[A-Z\p{Lu}][\p{L}]+|\p{L}{2,} \p{L}/u.test(m[1]) && !/^[A-Z_]+$|\.(html|js)\b/.test(m[1])) found.push(file + ': ' + m[1]);
    }
  });
  return found;
}

/** Every key of the buyer's pages and scripts. */
export function allKeys() {
  const keys = new Set();
  PAGES.forEach((f) => htmlKeys(f).forEach((k) => keys.add(k)));
  SCRIPTS.forEach((f) => scriptKeys(f).forEach((k) => keys.add(k)));
  return keys;
}

export function catalogue(lang) {
  return JSON.parse(read('i18n/' + lang + '.json'));
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const which = process.argv[2] || 'keys';
  if (which === 'keys') console.log(JSON.stringify([...allKeys()].sort(), null, 1));
  else SCRIPTS.forEach((f) => untranslated(f).forEach((line) => console.log(line)));
}
