// The four catalogues (booking/i18n/{en,de,fr,es}.json) against what the site says: every string
// a buyer's page shows in its HTML or through t('…') is a key of each catalogue, no catalogue
// has a key the others lack or a stale one, placeholders survive translation, and no script
// shows words without t(). No browser: it reads the files (lib/catalogue.mjs).
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { allKeys, catalogue, LANGUAGES, SCRIPTS, untranslated } from '../lib/catalogue.mjs';

const placeholders = (text) => [...String(text).matchAll(/\{(\w+)\}/g)].map((m) => m[1]).sort();

describe('language catalogues', () => {
  const used = allKeys();
  const english = catalogue('en');

  test('English lists every string the pages and scripts show, and nothing else', () => {
    const missing = [...used].filter((k) => !(k in english));
    const stale = Object.keys(english).filter((k) => !used.has(k));
    assert.deepEqual(missing, [], 'strings shown but missing from en.json');
    assert.deepEqual(stale, [], 'keys in en.json that no page or script uses');
    for (const [key, value] of Object.entries(english)) assert.equal(value, key, 'an English key is its own text');
  });

  for (const lang of LANGUAGES.filter((l) => l !== 'en')) {
    test(`${lang}.json has every key of en.json, translated, with the same placeholders`, () => {
      const other = catalogue(lang);
      assert.deepEqual(Object.keys(english).filter((k) => !(k in other)), [], `keys missing from ${lang}.json`);
      assert.deepEqual(Object.keys(other).filter((k) => !(k in english)), [], `keys in ${lang}.json that en.json lacks`);
      for (const [key, value] of Object.entries(other)) {
        assert.equal(typeof value, 'string', key);
        assert.ok(value.trim(), `${lang}: "${key}" is empty`);
        assert.deepEqual(placeholders(value), placeholders(key), `${lang}: "${key}" keeps its placeholders`);
      }
    });
  }

  test('no script shows words without t()', () => {
    assert.deepEqual(SCRIPTS.flatMap(untranslated), []);
  });
});
