// Formatting and reference data shared by every page: money from price_cents + currency,
// dates and times, category and status labels, seat tiers.

const LOCALE = 'en-GB';

function fractionDigits(currency) {
  try {
    return new Intl.NumberFormat('en', { style: 'currency', currency }).resolvedOptions().maximumFractionDigits;
  } catch (_) {
    return 2;
  }
}

/** 1150, "EUR" → "11.50 EUR" (minor units as the currency defines them). */
function money(cents, currency) {
  const code = (currency || 'EUR').toUpperCase();
  const digits = fractionDigits(code);
  const value = Number(cents || 0) / Math.pow(10, digits);
  const text = value.toLocaleString('en-US', {
    minimumFractionDigits: digits,
    maximumFractionDigits: digits,
    useGrouping: true,
  });
  return text + ' ' + code;
}

function toDate(value) {
  const date = value instanceof Date ? value : new Date(value);
  return Number.isNaN(date.getTime()) ? null : date;
}

function fmt(value, options) {
  const date = toDate(value);
  return date ? date.toLocaleString(LOCALE, options) : '';
}

function sameDay(a, b) {
  return a.getFullYear() === b.getFullYear() && a.getMonth() === b.getMonth() && a.getDate() === b.getDate();
}

export const Format = {
  money,
  /** "Thu 26 Nov 2026" */
  date: (value) => fmt(value, { weekday: 'short', day: 'numeric', month: 'short', year: 'numeric' }),
  /** "Thu 26 Nov" */
  shortDate: (value) => fmt(value, { weekday: 'short', day: 'numeric', month: 'short' }),
  /** "18:00" */
  time: (value) => fmt(value, { hour: '2-digit', minute: '2-digit', hour12: false }),
  /** "Thu 26 Nov 2026, 18:00" */
  dateTime: (value) =>
    fmt(value, { weekday: 'short', day: 'numeric', month: 'short', year: 'numeric', hour: '2-digit', minute: '2-digit', hour12: false }),
  /**
   * "Thu 26 Nov 2026, 18:00 UTC": what a ticket prints. Venues have no time zone yet, so a ticket
   * says UTC plainly rather than guess the reader's; one place to change when venues get zones.
   */
  ticketTime: (value) =>
    fmt(value, {
      weekday: 'short', day: 'numeric', month: 'short', year: 'numeric', hour: '2-digit', minute: '2-digit', hour12: false, timeZone: 'UTC',
    }) + ' UTC',
  /** "Today", "Tomorrow" or "Thu 26 Nov" */
  dayLabel(value) {
    const date = toDate(value);
    if (!date) return '';
    const now = new Date();
    if (sameDay(date, now)) return 'Today';
    const tomorrow = new Date(now.getFullYear(), now.getMonth(), now.getDate() + 1);
    if (sameDay(date, tomorrow)) return 'Tomorrow';
    return Format.shortDate(date);
  },
  /** 118 → "1 h 58 min" */
  duration(minutes) {
    const m = Number(minutes);
    if (!m || m <= 0) return '';
    const h = Math.floor(m / 60);
    const rest = m % 60;
    if (!h) return rest + ' min';
    return rest ? h + ' h ' + rest + ' min' : h + ' h';
  },
  /** seconds → "9:05" */
  clock(totalSeconds) {
    const s = Math.max(0, Math.floor(totalSeconds));
    const m = Math.floor(s / 60);
    return m + ':' + String(s % 60).padStart(2, '0');
  },
  /** "stalls_premium" → "Stalls premium" */
  label(code) {
    const text = String(code || '').replace(/[_-]+/g, ' ').trim();
    if (/^vip$/i.test(text)) return 'VIP';
    return text ? text.charAt(0).toUpperCase() + text.slice(1) : '';
  },
  /** An ISO instant → the value of an <input type="datetime-local"> in local time. */
  toLocalInput(value) {
    const date = toDate(value);
    if (!date) return '';
    const pad = (n) => String(n).padStart(2, '0');
    return (
      date.getFullYear() + '-' + pad(date.getMonth() + 1) + '-' + pad(date.getDate()) +
      'T' + pad(date.getHours()) + ':' + pad(date.getMinutes())
    );
  },
  /** The value of a datetime-local input (local time) → RFC 3339 UTC, or null. */
  fromLocalInput(value) {
    if (!value) return null;
    const date = new Date(value);
    return Number.isNaN(date.getTime()) ? null : date.toISOString().replace(/\.\d{3}Z$/, 'Z');
  },
  /** A yyyy-mm-dd date input → start (or end) of that local day in RFC 3339 UTC. */
  dayBoundary(value, end) {
    if (!value) return null;
    const [y, m, d] = value.split('-').map(Number);
    if (!y || !m || !d) return null;
    const date = end ? new Date(y, m - 1, d, 23, 59, 59) : new Date(y, m - 1, d, 0, 0, 0);
    return date.toISOString().replace(/\.\d{3}Z$/, 'Z');
  },
};

const CATEGORIES = [
  { id: 'movie', label: 'Movies', single: 'Movie' },
  { id: 'theatre', label: 'Theatre', single: 'Theatre' },
  { id: 'concert', label: 'Concerts', single: 'Concert' },
  { id: 'sport', label: 'Sport', single: 'Sport' },
  { id: 'comedy', label: 'Comedy', single: 'Comedy' },
  { id: 'other', label: 'Other', single: 'Event' },
];

const VENUE_KINDS = [
  { id: 'cinema', label: 'Cinema' },
  { id: 'theatre', label: 'Theatre' },
  { id: 'arena', label: 'Arena' },
  { id: 'hall', label: 'Hall' },
  { id: 'other', label: 'Other' },
];

const RESERVATION_STATUS = {
  held: { label: 'Held', hint: 'Seats held for you — pay before the timer runs out' },
  confirmed: { label: 'Confirmed', hint: 'Paid and confirmed' },
  canceled: { label: 'Canceled', hint: 'Canceled' },
  expired: { label: 'Expired', hint: 'The hold ran out before payment' },
};

const TICKET_STATUS = {
  valid: { label: 'Valid', hint: 'Show it at the door' },
  used: { label: 'Used', hint: 'Scanned at the door' },
  revoked: { label: 'Revoked', hint: 'Its seat was canceled; it no longer admits anyone' },
};

const PAYMENT_STATUS = {
  pending: 'Awaiting payment',
  succeeded: 'Paid',
  failed: 'Failed',
  refunded: 'Refunded',
  partially_refunded: 'Partly refunded',
};

/** Tier colours, cheapest first; a tier is also named in every seat's label and the legend. */
const TIER_COLOURS = ['#0f766e', '#6d28d9', '#c2410c', '#be185d', '#1d4ed8', '#4d7c0f', '#a16207'];

export const Data = {
  CATEGORIES,
  VENUE_KINDS,
  RESERVATION_STATUS,
  TICKET_STATUS,
  PAYMENT_STATUS,
  TIER_COLOURS,
  category: (id) => CATEGORIES.find((c) => c.id === id) || { id, label: Format.label(id), single: Format.label(id) },
  venueKind: (id) => VENUE_KINDS.find((k) => k.id === id) || { id, label: Format.label(id) },
  /** The price of a tier in an event, or null. */
  priceOf(event, tier) {
    const price = (event.prices || []).find((p) => p.tier === tier);
    return price ? price.price_cents : null;
  },
  /** Lowest price of an event in cents, or null. */
  fromPrice(event) {
    const prices = (event.prices || []).map((p) => p.price_cents);
    return prices.length ? Math.min.apply(null, prices) : null;
  },
  /** Tiers ordered cheapest first with a colour each: [{tier, price_cents, colour}]. */
  tiers(prices) {
    return (prices || [])
      .slice()
      .sort((a, b) => a.price_cents - b.price_cents || String(a.tier).localeCompare(String(b.tier)))
      .map((p, i) => ({ tier: p.tier, price_cents: p.price_cents, colour: TIER_COLOURS[i % TIER_COLOURS.length] }));
  },
  /** "few left" style availability of an event. */
  availability(event) {
    const total = Number(event.seats_total || 0);
    const left = Number(event.seats_available || 0);
    if (event.status === 'canceled') return { level: 'canceled', text: 'Canceled' };
    if (!total || left <= 0) return { level: 'soldout', text: 'Sold out' };
    if (left / total <= 0.1 || left <= 10) return { level: 'low', text: 'Only ' + left + ' left' };
    return { level: 'ok', text: left + ' of ' + total + ' seats free' };
  },
  /** A booking's status from its reservations, as the API derives it: confirmed, else held, else canceled, else expired. */
  bookingStatus(reservations) {
    const statuses = reservations.map((r) => r.status);
    if (statuses.includes('confirmed')) return 'confirmed';
    if (statuses.includes('held')) return 'held';
    if (statuses.includes('canceled')) return 'canceled';
    return 'expired';
  },
  /** "A2, A3" for a list of reservations or seat states, ordered by row then number. */
  seatList(items) {
    return items
      .map((r) => r.seat || r)
      .slice()
      .sort((a, b) => String(a.row).localeCompare(String(b.row), undefined, { numeric: true }) || a.seat_number - b.seat_number)
      .map((s) => s.row + s.seat_number)
      .join(', ');
  },
};
