// Formatting and reference data shared by every page: money from price_cents + currency,
// dates and times, category and status labels, seat tiers.
//
// An event's times are always shown on its venue's clock, labelled ("Sat 12 Dec 2026, 20:30
// Madrid time"), wherever the visitor is: `Format.when(event)` and its short forms, all from
// `zonedParts`. The words are the ones the server prints on tickets (`TimeZone::for_people`).
// In German, French and Spanish the dates, numbers and prices follow that language through Intl
// (i18n.js); English keeps the forms the tickets and e-mails print.
import { lang, locale, t } from './i18n.js';

const LOCALE = locale();
const ENGLISH = lang() === 'en';

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
  if (!ENGLISH) {
    return new Intl.NumberFormat(LOCALE, { style: 'currency', currency: code, currencyDisplay: 'code' }).format(value);
  }
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

/** The venue's IANA time zone of an event (UTC for a venue that has none). */
function zoneOf(event) {
  return (event && event.venue && event.venue.time_zone) || 'UTC';
}

/** "Europe/Madrid" → "Madrid time", "America/New_York" → "New York time", "UTC" → "UTC". */
function zoneLabel(zone) {
  const name = zone || 'UTC';
  const slash = name.lastIndexOf('/');
  return slash < 0 ? name : t('{city} time', { city: name.slice(slash + 1).replace(/_/g, ' ') });
}

const ZONED_FORMATS = new Map();

/** An Intl formatter of every part, in `zone`; null when this browser does not know the zone. */
function zonedFormat(zone) {
  if (!ZONED_FORMATS.has(zone)) {
    let format = null;
    try {
      format = new Intl.DateTimeFormat('en-GB', {
        timeZone: zone,
        weekday: 'short',
        day: 'numeric',
        month: 'short',
        year: 'numeric',
        hour: '2-digit',
        minute: '2-digit',
        hourCycle: 'h23',
      });
    } catch (_) {
      format = null;
    }
    ZONED_FORMATS.set(zone, format);
  }
  return ZONED_FORMATS.get(zone);
}

/**
 * An instant's parts on the clock of `zone`: {weekday, day, month, year, hour, minute, label,
 * key} (key: "2026-12-12" style, for grouping by day), or null for no valid instant. A zone this
 * browser does not know is shown as UTC and labelled so, never as another zone's time.
 */
function zonedParts(value, zone) {
  const date = toDate(value);
  if (!date) return null;
  let name = zone || 'UTC';
  let format = zonedFormat(name);
  if (!format) {
    name = 'UTC';
    format = zonedFormat(name);
  }
  const parts = {};
  format.formatToParts(date).forEach((p) => {
    parts[p.type] = p.value;
  });
  const months = { Jan: 1, Feb: 2, Mar: 3, Apr: 4, May: 5, Jun: 6, Jul: 7, Aug: 8, Sep: 9, Oct: 10, Nov: 11, Dec: 12 };
  const key = parts.year + '-' + String(months[parts.month] || 0).padStart(2, '0') + '-' + String(parts.day).padStart(2, '0');
  // Other languages: the day in their own words and order ("Sa., 12. Dez."), the clock as is.
  const local = ENGLISH ? null : localDay(name, date);
  const dayText = local ? local.day : parts.weekday + ' ' + parts.day + ' ' + parts.month;
  const dateText = local ? local.year : dayText + ' ' + parts.year;
  return { ...parts, label: zoneLabel(name), key, dayText, dateText };
}

const LOCAL_DAYS = new Map();

/** The day of an instant in `zone` in the chosen language: {day, year} (with the year). */
function localDay(zone, date) {
  if (!LOCAL_DAYS.has(zone)) {
    const options = { timeZone: zone, weekday: 'short', day: 'numeric', month: 'short' };
    LOCAL_DAYS.set(zone, [new Intl.DateTimeFormat(LOCALE, options), new Intl.DateTimeFormat(LOCALE, { ...options, year: 'numeric' })]);
  }
  const [day, year] = LOCAL_DAYS.get(zone);
  return { day: day.format(date), year: year.format(date) };
}

/** "Today", "Tomorrow" or "Sat 12 Dec" for an instant, counted in days of `zone`. */
function zonedDay(value, zone) {
  const at = zonedParts(value, zone);
  if (!at) return '';
  const today = zonedParts(new Date(), zone);
  if (at.key === today.key) return t('Today');
  const [y, m, d] = today.key.split('-').map(Number);
  if (at.key === new Date(Date.UTC(y, m - 1, d + 1)).toISOString().slice(0, 10)) return t('Tomorrow');
  return at.dayText;
}

export const Format = {
  money,
  zoneOf,
  zoneLabel,
  /** "Sat 12 Dec 2026, 20:30 Madrid time": an instant on the clock of `zone`, labelled. */
  zoned(value, zone) {
    const at = zonedParts(value, zone);
    return at ? at.dateText + ', ' + at.hour + ':' + at.minute + ' ' + at.label : '';
  },
  /** "Sat 12 Dec 2026, 20:30 Madrid time": when an event starts, on its venue's clock. */
  when: (event) => Format.zoned(event && event.start_time, zoneOf(event)),
  /** "Tomorrow 20:30 Madrid time": the short form, for cards and lists. */
  whenShort(event) {
    const at = zonedParts(event && event.start_time, zoneOf(event));
    return at ? zonedDay(event.start_time, zoneOf(event)) + ' ' + at.hour + ':' + at.minute + ' ' + at.label : '';
  },
  /** "20:30": an event's start on its venue's clock (with `eventZoneLabel` nearby). */
  eventClock(event) {
    const at = zonedParts(event && event.start_time, zoneOf(event));
    return at ? at.hour + ':' + at.minute : '';
  },
  /** "Madrid time": the label of the clock `eventClock` reads. */
  eventZoneLabel(event) {
    const at = zonedParts(event && event.start_time, zoneOf(event));
    return at ? at.label : '';
  },
  /** "Today", "Tomorrow" or "Sat 12 Dec": an event's day at its venue. */
  eventDay: (event) => zonedDay(event && event.start_time, zoneOf(event)),
  /** The one time zone of every event given, or null when their venues' zones differ. */
  commonZone(events) {
    const zones = new Set((events || []).map(zoneOf));
    return zones.size === 1 ? zones.values().next().value : null;
  },
  /** "2026-12-12": an event's day at its venue, for grouping. */
  eventDayKey(event) {
    const at = zonedParts(event && event.start_time, zoneOf(event));
    return at ? at.key : '';
  },
  /** An instant → the value of an <input type="datetime-local"> on the clock of `zone`. */
  toZonedInput(value, zone) {
    const at = zonedParts(value, zone);
    return at ? at.key + 'T' + at.hour + ':' + at.minute : '';
  },
  /**
   * A datetime-local value read on the clock of `zone` → RFC 3339 UTC, or null. As the server
   * reads a wall time (`TimeZone::instant_of`): in the hour a clock goes back, the earlier of
   * the two; in the gap when it goes forward, an hour later.
   */
  fromZonedInput(value, zone) {
    const match = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})/.exec(value || '');
    if (!match) return null;
    const [y, mo, d, h, mi] = match.slice(1).map(Number);
    const wallAt = (instant) => {
      const at = zonedParts(new Date(instant), zone);
      const [ay, am, ad] = at.key.split('-').map(Number);
      return Date.UTC(ay, am - 1, ad, Number(at.hour), Number(at.minute));
    };
    for (let wanted = Date.UTC(y, mo - 1, d, h, mi), tries = 0; tries < 3; wanted += 3600e3, tries += 1) {
      // The zone's offsets half a day either side; the wall time is one of them, both, or neither (a gap).
      const offsets = [wanted - 12 * 3600e3, wanted + 12 * 3600e3].map((t) => wallAt(t) - t);
      const fits = offsets.map((offset) => wanted - offset).filter((t) => wallAt(t) === wanted);
      if (fits.length) return new Date(Math.min(...fits)).toISOString().replace(/\.\d{3}Z$/, 'Z');
    }
    return null;
  },
  // On the visitor's own clock, for instants that are not an event's: when a booking was made,
  // when a hold ends, when the seat map was refreshed.
  /** "Thu 26 Nov 2026" */
  date: (value) => fmt(value, { weekday: 'short', day: 'numeric', month: 'short', year: 'numeric' }),
  /** "Thu 26 Nov" */
  shortDate: (value) => fmt(value, { weekday: 'short', day: 'numeric', month: 'short' }),
  /** "18:00" */
  time: (value) => fmt(value, { hour: '2-digit', minute: '2-digit', hour12: false }),
  /** "Thu 26 Nov 2026, 18:00" */
  dateTime: (value) =>
    fmt(value, { weekday: 'short', day: 'numeric', month: 'short', year: 'numeric', hour: '2-digit', minute: '2-digit', hour12: false }),
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
  /** An instant → the value of an <input type="datetime-local"> on the visitor's clock. */
  toLocalInput(value) {
    const date = toDate(value);
    if (!date) return '';
    const pad = (n) => String(n).padStart(2, '0');
    return (
      date.getFullYear() + '-' + pad(date.getMonth() + 1) + '-' + pad(date.getDate()) +
      'T' + pad(date.getHours()) + ':' + pad(date.getMinutes())
    );
  },
  /**
   * A date shortcut of the events list on the clock of `zone`, as its first and last day
   * ({from, to}, "2026-12-12" style, both included): 'today', 'weekend' (Saturday and Sunday; on
   * a Sunday, that day) or 'week' (today and the six days after); null for another word.
   */
  shortcutDays(shortcut, zone) {
    const today = zonedParts(new Date(), zone);
    if (!today) return null;
    const [y, m, d] = today.key.split('-').map(Number);
    const day = (n) => new Date(Date.UTC(y, m - 1, d + n)).toISOString().slice(0, 10);
    const weekday = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'].indexOf(today.weekday);
    if (shortcut === 'today') return { from: day(0), to: day(0) };
    if (shortcut === 'week') return { from: day(0), to: day(6) };
    if (shortcut === 'weekend') return weekday === 0 ? { from: day(0), to: day(0) } : { from: day(6 - weekday), to: day(7 - weekday) };
    return null;
  },
  /** "2026-12-12" → "2026-12-11" (days < 0) or "2026-12-14" (days = 2): calendar days, no clock. */
  addDays(key, days) {
    const [y, m, d] = String(key).split('-').map(Number);
    return new Date(Date.UTC(y, m - 1, d + days)).toISOString().slice(0, 10);
  },
  /** "Hafenstraße 1, Hamburg" → "Hamburg": a venue's city, the last part of its address. */
  cityOf: (location) => String(location || '').split(',').pop().trim(),
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
  { id: 'movie', label: t('Movies'), single: t('Movie') },
  { id: 'theatre', label: t('Theatre'), single: t('Theatre') },
  { id: 'concert', label: t('Concerts'), single: t('Concert') },
  { id: 'sport', label: t('Sport'), single: t('Sport') },
  { id: 'comedy', label: t('Comedy'), single: t('Comedy') },
  { id: 'other', label: t('Other'), single: t('Event') },
];

const VENUE_KINDS = [
  { id: 'cinema', label: t('Cinema') },
  { id: 'theatre', label: t('Theatre') },
  { id: 'arena', label: t('Arena') },
  { id: 'hall', label: t('Hall') },
  { id: 'other', label: t('Other') },
];

const RESERVATION_STATUS = {
  held: { label: t('Held'), hint: t('Seats held for you — pay before the timer runs out') },
  confirmed: { label: t('Confirmed'), hint: t('Paid and confirmed') },
  canceled: { label: t('Canceled'), hint: t('Canceled') },
  expired: { label: t('Expired'), hint: t('The hold ran out before payment') },
};

const TICKET_STATUS = {
  valid: { label: t('Valid'), hint: t('Show it at the door') },
  used: { label: t('Used'), hint: t('Scanned at the door') },
  revoked: { label: t('Revoked'), hint: t('Its seat was canceled; it no longer admits anyone') },
};

const PAYMENT_STATUS = {
  pending: t('Awaiting payment'),
  succeeded: t('Paid'),
  failed: t('Failed'),
  refunded: t('Refunded'),
  partially_refunded: t('Partly refunded'),
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
    if (event.status === 'canceled') return { level: 'canceled', text: t('Canceled') };
    if (!total || left <= 0) return { level: 'soldout', text: t('Sold out') };
    if (left / total <= 0.1 || left <= 10) return { level: 'low', text: t('Only {n} left', { n: left }) };
    return { level: 'ok', text: t('{left} of {total} seats free', { left, total }) };
  },
  /** A booking's status from its reservations, as the API derives it: confirmed, else held, else canceled, else expired. */
  bookingStatus(reservations) {
    const statuses = reservations.map((r) => r.status);
    if (statuses.includes('confirmed')) return 'confirmed';
    if (statuses.includes('held')) return 'held';
    if (statuses.includes('canceled')) return 'canceled';
    return 'expired';
  },
  /** The statuses a `/seat-states` string stands for ("3ah2s": 3 available, 1 held, 2 sold;
   * see shared/src/domain/seat_states.rs), or null when it is not one. */
  seatStates(encoded) {
    const names = { a: 'available', h: 'held', s: 'sold' };
    const run = /(\d*)([ahs])/y;
    const statuses = [];
    while (run.lastIndex < encoded.length) {
      const found = run.exec(encoded);
      if (!found) return null;
      const length = found[1] ? Number(found[1]) : 1;
      if (!length || statuses.length + length > 1000000) return null;
      for (let i = 0; i < length; i += 1) statuses.push(names[found[2]]);
    }
    return statuses;
  },
  /** "Row A seat 2": the row is named, never run into the number (row 1 seat 11 and row 11
   * seat 1 written together both read "111"). */
  seatName(seat) {
    const name = t('Row {row} seat {n}', { row: seat.row, n: seat.seat_number });
    return seat.section ? `${seat.section} · ${name}` : name;
  },
  /** "Row A seats 2, 3 · Row B seat 1" for a list of reservations or seat states, ordered by row
   * then number. */
  seatList(items) {
    const rows = new Map();
    items
      .map((r) => r.seat || r)
      .slice()
      .sort(
        (a, b) =>
          String(a.section || '').localeCompare(String(b.section || ''), undefined, { numeric: true }) ||
          String(a.row).localeCompare(String(b.row), undefined, { numeric: true }) ||
          a.seat_number - b.seat_number,
      )
      .forEach((s) => {
        // Keyed by section and row: two sections may both have a row "1" (issue 19).
        const key = `${s.section || ''}\u0000${s.row}`;
        if (!rows.has(key)) rows.set(key, { section: s.section, row: s.row, numbers: [] });
        rows.get(key).numbers.push(s.seat_number);
      });
    return Array.from(rows.values(), ({ section, row, numbers }) => {
      const name =
        numbers.length === 1
          ? t('Row {row} seat {n}', { row, n: numbers[0] })
          : t('Row {row} seats {list}', { row, list: numbers.join(', ') });
      return section ? `${section} · ${name}` : name;
    }).join(' · ');
  },
};
