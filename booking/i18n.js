// The site's four languages: English, German, French and Spanish. English is the source
// language: a key is the English text itself (`t('Choose seats')`), so an English page needs no
// catalogue and a key that is missing elsewhere still reads as English. The others live in one
// catalogue per language, i18n/<lang>.json (en.json lists every key; e2e/tests/catalogues.test.mjs
// fails when a catalogue lacks one, or when a page or script shows a string that is not a key).
//
// The visitor's choice is kept in localStorage ("proeventa.lang"); without one, the browser's
// own language when it is one of the four, else English. `<html lang>` follows the choice, and
// data.js formats dates, numbers and prices with `locale()` through Intl.

export const LANGUAGES = [
  { code: 'en', name: 'English', locale: 'en-GB' },
  { code: 'de', name: 'Deutsch', locale: 'de-DE' },
  { code: 'fr', name: 'Français', locale: 'fr-FR' },
  { code: 'es', name: 'Español', locale: 'es-ES' },
];

const STORAGE_KEY = 'proeventa.lang';

function known(code) {
  return LANGUAGES.find((l) => l.code === code) || null;
}

function chosen() {
  let stored = null;
  try {
    stored = window.localStorage.getItem(STORAGE_KEY);
  } catch (_) {
    stored = null;
  }
  if (known(stored)) return stored;
  const browser = (navigator.languages || [navigator.language || 'en']).map((l) => String(l).slice(0, 2).toLowerCase());
  return browser.find((code) => known(code)) || 'en';
}

const current = known(chosen());

/** The catalogue of this page's language: English needs none; a catalogue that fails to load
 * (a door phone offline) leaves the English words rather than no page. */
async function loadCatalogue(code) {
  if (code === 'en') return {};
  try {
    const response = await fetch(new URL('i18n/' + code + '.json', import.meta.url));
    return response.ok ? await response.json() : {};
  } catch (_) {
    return {};
  }
}

const catalogue = await loadCatalogue(current.code);

/** "en", "de", "fr" or "es". */
export const lang = () => current.code;

/** The Intl locale of the chosen language ("de-DE"). */
export const locale = () => current.locale;

/** The chosen language's words for `key` (the English text), each `{name}` replaced by `vars.name`. */
export function t(key, vars) {
  const text = Object.prototype.hasOwnProperty.call(catalogue, key) ? catalogue[key] : key;
  if (!vars) return text;
  return String(text).replace(/\{(\w+)\}/g, (whole, name) => (name in vars ? String(vars[name]) : whole));
}

/** A category's label inside a sentence: lower case, except in German, where it is a noun ("Konzerte"). */
export function inSentence(label) {
  return current.code === 'de' ? String(label) : String(label).toLocaleLowerCase(current.locale);
}

/** Remembers a language for every page and reloads this one in it. */
export function setLanguage(code) {
  if (!known(code)) return;
  try {
    window.localStorage.setItem(STORAGE_KEY, code);
  } catch (_) {
    /* private mode: the choice lasts this page only */
  }
  window.location.reload();
}

const ATTRIBUTES = ['placeholder', 'aria-label', 'title', 'alt'];

/** Translates the words written in a page's HTML: its text nodes, their labels, its title and
 * description. Pages draw the rest with `t()`. */
function translateStatic() {
  document.documentElement.lang = current.code;
  if (current.code === 'en') return;
  const swap = (text) => {
    const key = text.trim();
    return key && Object.prototype.hasOwnProperty.call(catalogue, key) ? text.replace(key, t(key)) : text;
  };
  document.title = document.title
    .split(' · ')
    .map((part) => swap(part))
    .join(' · ');
  const description = document.querySelector('meta[name="description"]');
  if (description) description.content = swap(description.content);
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) node.nodeValue = swap(node.nodeValue);
  document.body.querySelectorAll('[placeholder],[aria-label],[title],[alt]').forEach((el) => {
    ATTRIBUTES.forEach((name) => {
      if (el.hasAttribute(name)) el.setAttribute(name, swap(el.getAttribute(name)));
    });
  });
}

translateStatic();
