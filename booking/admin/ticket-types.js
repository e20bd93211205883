// The event form's "Ticket types" editor (issue 21), kept small: a text box with one more type a
// line, `name price price … [quota N] [hidden]`, its prices in the order of the tier inputs above (in
// the event's currency); `hidden` makes a type that only an access code unlocks (never the first). The tier inputs are the first type's prices (`prices`); the first type is
// named by its own input (`standard` when left empty) and keeps its quota. An empty box and no
// name leave the event one type.
import { Format } from '../data.js';

/** The extra types of `event` (all but the first) as the box shows them. */
export function typesText(event, digits) {
  const tiers = ((event.ticket_types && event.ticket_types[0] && event.ticket_types[0].prices) || []).map((p) => p.tier);
  return (event.ticket_types || [])
    .slice(1)
    .map((type) => {
      const amounts = tiers.map((tier) => {
        const price = type.prices.find((p) => p.tier === tier);
        return price ? (price.price_cents / Math.pow(10, digits)).toFixed(digits) : '';
      });
      return [type.name, ...amounts, type.quota ? 'quota ' + type.quota : '', type.hidden ? 'hidden' : '']
        .filter(Boolean)
        .join(' ')
        .trim();
    })
    .join('\n');
}

/**
 * The body's `ticket_types` from the box: the first type (`first`: its name and quota, kept from
 * the event being edited) at `prices`, then one per line; `undefined` when the box is empty and
 * the event had one type. Problems are pushed to `problems` as phrases.
 */
export function typesBody(text, prices, digits, first, problems) {
  const lines = String(text || '').split('\n').map((line) => line.trim()).filter(Boolean);
  if (!lines.length && !first.hadMore && (!first.name || first.name === 'standard')) return undefined;
  const types = [{ name: first.name || 'standard', prices, quota: first.quota || null }];
  lines.forEach((line) => {
    const all = line.split(/\s+/);
    const hidden = all.slice(1).some((w) => w.toLowerCase() === 'hidden');
    const words = all.filter((w, i) => i === 0 || w.toLowerCase() !== 'hidden');
    const quotaAt = words.findIndex((w) => w.toLowerCase() === 'quota');
    const quota = quotaAt >= 0 ? Number(words[quotaAt + 1]) : null;
    const amounts = (quotaAt >= 0 ? words.slice(1, quotaAt) : words.slice(1)).map(Number);
    const name = words[0].toLowerCase();
    if (amounts.length !== prices.length || amounts.some((a) => !(a >= 0))) {
      problems.push('give type ' + Format.label(name).toLowerCase() + ' one price per tier, in the order above');
    }
    if (quotaAt >= 0 && !(Number.isInteger(quota) && quota >= 1 && quota <= 100000)) {
      problems.push('give type ' + Format.label(name).toLowerCase() + ' a quota of 1 to 100000');
    }
    types.push({
      name,
      prices: prices.map((p, i) => ({ tier: p.tier, price_cents: Math.round((amounts[i] || 0) * Math.pow(10, digits)) })),
      quota,
      hidden,
    });
  });
  return types;
}
