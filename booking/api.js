// `api`: every call the booking site makes to the ProEventa API (see README-API.md). config.js,
// a classic script that runs before every module, sets window.API_BASE_URL; it is read at each
// call. No dependencies, no build step.

/** Where the bearer token lives; auth.js writes it, every request here reads it. */
const TOKEN_KEY = 'proeventa.token';

/** An error answer of the API ({"error","detail"}) or a network failure (status 0). */
export class ApiError extends Error {
  constructor({ status, code, detail, requestId, retryAfter, body }) {
    super(detail || code || 'Request failed');
    this.name = 'ApiError';
    this.status = status;
    this.code = code || 'unknown';
    this.detail = detail || '';
    this.requestId = requestId || null;
    this.retryAfter = retryAfter || null;
    /** The whole error body: some answers carry more than {error, detail} (a 409 scan: when and where). */
    this.body = body || null;
  }
}

function baseUrl() {
  return String(window.API_BASE_URL || '').replace(/\/+$/, '');
}

function token() {
  try {
    return window.localStorage.getItem(TOKEN_KEY);
  } catch (_) {
    return null;
  }
}

function query(params) {
  if (!params) return '';
  const search = new URLSearchParams();
  Object.keys(params).forEach((key) => {
    const value = params[key];
    if (value === undefined || value === null || value === '') return;
    search.set(key, String(value));
  });
  const text = search.toString();
  return text ? '?' + text : '';
}

/** A fresh Idempotency-Key: one per user action, reused only by an automatic retry. */
function newIdempotencyKey() {
  if (window.crypto && typeof window.crypto.randomUUID === 'function') return window.crypto.randomUUID();
  const bytes = new Uint8Array(16);
  if (window.crypto && window.crypto.getRandomValues) window.crypto.getRandomValues(bytes);
  else for (let i = 0; i < 16; i += 1) bytes[i] = Math.floor(Math.random() * 256);
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

function id(value) {
  return encodeURIComponent(String(value));
}

/**
 * One HTTP call. Returns { status, data, etag, notModified }; throws ApiError for every
 * non-2xx answer (except 304) and for network failures.
 */
async function send(method, path, options) {
  const opts = options || {};
  const headers = { Accept: 'application/json' };
  const bearer = opts.auth === false ? null : token();
  if (bearer) headers.Authorization = 'Bearer ' + bearer;
  if (opts.body !== undefined) headers['Content-Type'] = 'application/json';
  if (opts.raw !== undefined) headers['Content-Type'] = opts.raw.type || 'application/octet-stream';
  if (opts.idempotencyKey) headers['Idempotency-Key'] = opts.idempotencyKey;
  if (opts.etag) headers['If-None-Match'] = opts.etag;
  Object.assign(headers, opts.headers || {});

  const url = baseUrl() + path + query(opts.query);
  const init = {
    method,
    headers,
    mode: 'cors',
    cache: opts.cache || 'no-store',
    body: opts.raw !== undefined ? opts.raw : opts.body === undefined ? undefined : JSON.stringify(opts.body),
    signal: opts.signal,
  };

  let response;
  const attempts = opts.idempotencyKey ? 2 : 1; // a keyed POST is safe to send again
  for (let attempt = 1; ; attempt += 1) {
    try {
      response = await fetch(url, init);
      break;
    } catch (error) {
      if (error && error.name === 'AbortError') throw error;
      if (attempt < attempts) continue;
      throw new ApiError({
        status: 0,
        code: 'network_error',
        detail: 'The ProEventa service could not be reached.',
      });
    }
  }

  const requestId = response.headers.get('x-request-id');
  const etag = response.headers.get('ETag');
  if (response.status === 304) return { status: 304, data: null, etag: etag || opts.etag || null, notModified: true };

  let data = null;
  const text = await response.text();
  if (text) {
    try {
      data = JSON.parse(text);
    } catch (_) {
      data = null;
    }
  }

  if (!response.ok) {
    const error = new ApiError({
      status: response.status,
      code: data && typeof data.error === 'string' ? data.error : 'http_' + response.status,
      detail: data && typeof data.detail === 'string' ? data.detail : '',
      requestId,
      retryAfter: response.headers.get('Retry-After'),
      body: data,
    });
    // invalid_credentials answers a wrong password (login, password change), not a dead session.
    if (response.status === 401 && bearer && error.code !== 'invalid_credentials' && typeof api.onUnauthorized === 'function') {
      api.onUnauthorized(error);
    }
    throw error;
  }
  return { status: response.status, data, etag, notModified: false };
}

async function call(method, path, options) {
  return (await send(method, path, options)).data;
}

/**
 * A file the API makes for the signed-in user (a QR image, a PDF, a calendar file): fetched with
 * the bearer token, which an <img src> or a plain link could not send. → Blob; an error answer
 * throws ApiError like every other call.
 */
async function file(path) {
  const headers = {};
  const bearer = token();
  if (bearer) headers.Authorization = 'Bearer ' + bearer;
  let response;
  try {
    response = await fetch(baseUrl() + path, { headers, mode: 'cors', cache: 'no-store' });
  } catch (_) {
    throw new ApiError({ status: 0, code: 'network_error', detail: 'The ProEventa service could not be reached.' });
  }
  if (!response.ok) {
    let data = null;
    try {
      data = JSON.parse(await response.text());
    } catch (_) {
      data = null;
    }
    const error = new ApiError({
      status: response.status,
      code: data && typeof data.error === 'string' ? data.error : 'http_' + response.status,
      detail: data && typeof data.detail === 'string' ? data.detail : '',
      requestId: response.headers.get('x-request-id'),
      body: data,
    });
    if (response.status === 401 && bearer && typeof api.onUnauthorized === 'function') api.onUnauthorized(error);
    throw error;
  }
  return response.blob();
}

export const api = {
  ApiError,
  TOKEN_KEY,
  newIdempotencyKey,
  baseUrl,
  /** Called with the ApiError when a request carrying a token is answered 401 (auth.js clears the session). */
  onUnauthorized: null,
  request: call,
  send,

  meta: {
    info: () => call('GET', '/', { auth: false }),
    health: () => call('GET', '/health', { auth: false }),
  },

  auth: {
    /** signup({email, password, name}) or signup(email, password, name) → User */
    signup(emailOrBody, password, name) {
      const body = typeof emailOrBody === 'object' ? emailOrBody : { email: emailOrBody, password, name };
      return call('POST', '/auth/signup', { body, auth: false });
    },
    /** login({email, password}) or login(email, password) → {access_token, token_type, expires_in, user} */
    login(emailOrBody, password) {
      const body = typeof emailOrBody === 'object' ? emailOrBody : { email: emailOrBody, password };
      return call('POST', '/auth/login', { body, auth: false });
    },
    /** requestPasswordReset(email) → {detail}: the same answer whether or not the address has an account. */
    requestPasswordReset: (email) => call('POST', '/auth/password-reset', { body: { email }, auth: false }),
    /** confirmPasswordReset(token, password) → User; every session from before ends. */
    confirmPasswordReset: (token, password) =>
      call('POST', '/auth/password-reset/confirm', { body: { token, password }, auth: false }),
    me: () => call('GET', '/auth/me'),
    updateMe: (changes) => call('PATCH', '/auth/me', { body: changes }),
    getUser: (userId) => call('GET', '/auth/users/' + id(userId)),
    /** listUsers({q, limit, offset}, {signal}) → [User] */
    listUsers: (filters, options) => call('GET', '/auth/users', { query: filters, signal: options && options.signal }),
    updateUser: (userId, changes) => call('PATCH', '/auth/users/' + id(userId), { body: changes }),
  },

  events: {
    /** getEvents({category, venue_id, q, from, to, include_past, limit, offset}, {signal}) → [Event] */
    getEvents: (filters, options) =>
      call('GET', '/events/events', { query: filters, auth: false, signal: options && options.signal }),
    /** getEventById(eventId, accessCode?) → Event; with an access code, the hidden ticket types it unlocks too (422 invalid_code otherwise). */
    getEventById: (eventId, accessCode) =>
      call('GET', '/events/events/' + id(eventId), { auth: false, query: accessCode ? { access_code: accessCode } : undefined }),
    /**
     * The live seat map. Pass the last ETag to get { notModified: true } when nothing changed.
     * → { seats: [SeatState] | null, etag, notModified }
     */
    async getSeats(eventId, options) {
      const answer = await send('GET', '/events/events/' + id(eventId) + '/seats', {
        auth: false,
        etag: options && options.etag,
        signal: options && options.signal,
      });
      return { seats: answer.data, etag: answer.etag, notModified: answer.notModified };
    },
    /**
     * getSeatStates(eventId) → {seats, available, held, sold, states}: the seats' statuses alone,
     * run-length encoded in the seat map's order (Data.seatStates decodes them). Sent as a simple
     * request (no header of its own, so no CORS preflight); the browser's cache revalidates it.
     */
    getSeatStates: (eventId) =>
      call('GET', '/events/events/' + id(eventId) + '/seat-states', { auth: false, cache: 'no-cache' }),
    createEvent: (event, idempotencyKey) =>
      call('POST', '/events/events', { body: event, idempotencyKey: idempotencyKey || newIdempotencyKey() }),
    updateEvent: (eventId, changes) => call('PATCH', '/events/events/' + id(eventId), { body: changes }),
    cancelEvent: (eventId) => call('DELETE', '/events/events/' + id(eventId)),
    /** uploadPoster(eventId, file) → the event with its `poster` (admin; the file's bytes as the body). */
    uploadPoster: (eventId, file) => call('PUT', '/events/events/' + id(eventId) + '/poster', { raw: file }),
    removePoster: (eventId) => call('DELETE', '/events/events/' + id(eventId) + '/poster'),
    getVenues: () => call('GET', '/events/venues', { auth: false }),
    getVenueById: (venueId) => call('GET', '/events/venues/' + id(venueId), { auth: false }),
    /** getVenueLayout(venueId) → {version, width, height, stage, sections: [{name, shape, rows: [{row, seats: [{id, number, label, x, y, tier, attributes}]}]}]} */
    getVenueLayout: (venueId) => call('GET', '/events/venues/' + id(venueId) + '/layout', { auth: false, cache: 'no-cache' }),
    createVenue: (venue, idempotencyKey) =>
      call('POST', '/events/venues', { body: venue, idempotencyKey: idempotencyKey || newIdempotencyKey() }),
    /** updateVenue(venueId, {time_zone?, layout? | rows?}) → the venue with its seats (admin); a new layout: 409 venue_in_use while an event of it is on sale. */
    updateVenue: (venueId, changes) => call('PATCH', '/events/venues/' + id(venueId), { body: changes }),
  },

  /** The waiting list of a sold-out event: seats freed later are offered to it in order. */
  waitlist: {
    /** join(eventId, {seats, tier}) → {id, position}; 409 not_sold_out while seats can be held. */
    join: (eventId, wish) => call('POST', '/events/events/' + id(eventId) + '/waitlist', { body: wish }),
    /** entry(eventId) → {id, seats, tier, status, position, joined_at, offer: {booking_id, status, expires_at, total_cents, currency} | null} */
    entry: (eventId) => call('GET', '/events/events/' + id(eventId) + '/waitlist'),
    leave: (eventId) => call('DELETE', '/events/events/' + id(eventId) + '/waitlist'),
  },

  reservations: {
    /**
     * makeReservation(eventId, seatIds) holds 1–10 seats at once (all or none) → Booking.
     * makeReservation({event_id, seat_id}) holds one seat → Reservation.
     */
    makeReservation(eventIdOrBody, seatIds, idempotencyKey, admission) {
      const body =
        typeof eventIdOrBody === 'object' ? eventIdOrBody : { event_id: eventIdOrBody, seat_ids: seatIds };
      return call('POST', '/reservations/reservations/reserve', {
        body,
        idempotencyKey: idempotencyKey || newIdempotencyKey(),
        // The waiting room's admission, while the event's queue is on.
        headers: admission ? { 'X-Admission-Token': admission } : undefined,
      });
    },
    /** getUserReservations(userId, {status, limit, offset}) → [Reservation], newest first */
    getUserReservations: (userId, filters) =>
      call('GET', '/reservations/reservations/user/' + id(userId), { query: filters }),
    getEventReservations: (eventId, filters) =>
      call('GET', '/reservations/reservations/event/' + id(eventId), { query: filters }),
    getReservation: (reservationId) => call('GET', '/reservations/reservations/' + id(reservationId)),
    cancelReservation: (reservationId) => call('DELETE', '/reservations/reservations/' + id(reservationId)),
    getBooking: (bookingId) => call('GET', '/reservations/bookings/' + id(bookingId)),
    cancelBooking: (bookingId) => call('DELETE', '/reservations/bookings/' + id(bookingId)),
    /** The booking's one hold extension → Booking (its seats' new expiry); 409 extension_used after. */
    extendBooking: (bookingId) => call('POST', '/reservations/bookings/' + id(bookingId) + '/extend', { body: {} }),
    /** Admin oversight: listAll({event_id, user_id, status, limit, offset}, {signal}) → [Reservation] */
    listAll: (filters, options) =>
      call('GET', '/reservations/reservations', { query: filters, signal: options && options.signal }),
  },

  tickets: {
    /** list({booking_id, user_id (admins), limit, offset}) → [Ticket], the caller's own, newest first */
    list: (filters) => call('GET', '/reservations/tickets', { query: filters }),
    /** → {id, booking_id, reservation_id, event_id, seat_id, seat_label, holder_name, status, code, …} */
    get: (ticketId) => call('GET', '/reservations/tickets/' + id(ticketId)),
    /** The QR the door scans, as an SVG Blob. */
    qrSvg: (ticketId) => file('/reservations/tickets/' + id(ticketId) + '/qr.svg'),
    /** The printable ticket, as a PDF Blob. */
    pdf: (ticketId) => file('/reservations/tickets/' + id(ticketId) + '/ticket.pdf'),
    /** The event as an iCalendar (.ics) Blob. */
    calendar: (ticketId) => file('/reservations/tickets/' + id(ticketId) + '/calendar.ics'),
    /** Every ticket of a booking, one page each, as a PDF Blob. */
    bookingPdf: (bookingId) => file('/reservations/bookings/' + id(bookingId) + '/tickets.pdf'),
  },

  /** The waiting room in front of a hot event. */
  queue: {
    /** join(eventId) → {queue_token, position}: the caller's place (joining again answers the same one). */
    join: (eventId) => call('POST', '/queue/events/' + id(eventId) + '/join', { body: {} }),
    /** status(eventId, queueToken, etag) → {status, data, etag, notModified}: data is
     * {position, ahead, estimated_wait_seconds, admission_token, session_ends_at, on_sale_at}. */
    status: (eventId, queueToken, etag) =>
      send('GET', '/queue/events/' + id(eventId) + '/status', {
        auth: false,
        etag,
        headers: { 'X-Queue-Token': queueToken },
      }),
    /** stats(eventId) → {joined, let_through, waiting, active} (admins) */
    stats: (eventId) => call('GET', '/queue/events/' + id(eventId) + '/stats'),
  },

  /** The door (staff and admins). */
  checkin: {
    /** The public key that verifies ticket codes: {algorithm, key_id, public_key} */
    key: () => call('GET', '/checkin/key', { auth: false }),
    /** scan({code, event_id, gate}) → {status: "admitted", ticket_id, seat_label, holder_name}; refusals throw ApiError */
    scan: (body, options) => call('POST', '/checkin/scan', { body, signal: options && options.signal }),
    /** → {event_id, sold, admitted, to_come, revoked, gates: [{gate, admitted}]} */
    summary: (eventId) => call('GET', '/checkin/events/' + id(eventId) + '/summary'),
    /** What a gate needs to admit people with no network: valid and used tickets, revoked ids, the key. */
    manifest: (eventId) => call('GET', '/checkin/events/' + id(eventId) + '/manifest'),
    /** sync({event_id, gate, scans: [{scan_id, code, scanned_at, gate}]}) → {results: [...]}, in order */
    sync: (body) => call('POST', '/checkin/sync', { body }),
  },

  payments: {
    /** What the payment page may offer: {provider, test_mode} (test cards only in test mode). */
    config: () => call('GET', '/payments/config', { auth: false }),
    /** Opens a pending payment for a held booking → Payment; with a promo code, after its discount
     * (`discount_cents`), closing the booking's payment still pending. */
    checkout: (bookingId, idempotencyKey, promoCode) =>
      call('POST', '/payments/checkout', {
        body: promoCode ? { booking_id: bookingId, promo_code: promoCode } : { booking_id: bookingId },
        idempotencyKey: idempotencyKey || newIdempotencyKey(),
      }),
    /** confirm(paymentId, {card_number, exp_month, exp_year, cvc, cardholder}) → Payment (succeeded) */
    confirm: (paymentId, card, idempotencyKey, admission) =>
      call('POST', '/payments/' + id(paymentId) + '/confirm', {
        body: card,
        idempotencyKey: idempotencyKey || newIdempotencyKey(),
        // A sale ends the buyer's waiting-room session, freeing the slot for the next in line.
        headers: admission ? { 'X-Admission-Token': admission } : undefined,
      }),
    getPayment: (paymentId) => call('GET', '/payments/' + id(paymentId)),
    /** list() → the caller's payments; admins may pass {user_id} */
    list: (filters) => call('GET', '/payments', { query: filters }),
    /** The newest payment of a booking, preferring an open (pending) one; null when none. */
    async findForBooking(bookingId) {
      const all = (await call('GET', '/payments', { query: { limit: 200 } })) || [];
      const mine = all
        .filter((p) => p.booking_id === bookingId)
        .sort((a, b) => String(b.created_at).localeCompare(String(a.created_at)));
      return mine.find((p) => p.status === 'pending') || mine[0] || null;
    },
  },
};

/** An event's sales (admins; issue 21). */
api.reports = {
  /** event(eventId) → {seats, sold, held, available, revenue_cents, refunded_cents, by_type, by_tier, sales_per_hour} */
  event: (eventId) => call('GET', '/admin/reports/events/' + id(eventId)),
  /** ordersCsv(eventId) → Blob: the event's orders, a line per seat sold. */
  ordersCsv: (eventId) => file('/admin/reports/events/' + id(eventId) + '/orders.csv'),
  /** sales({from, to}) → {from, to, sold, refunded, by_currency, by_event, per_day}: every event's sales in a window (dates or RFC 3339 times; default the last 30 days) */
  sales: (window) => call('GET', '/admin/reports/sales', { query: window }),
};

/** The audit log (admins; issue 21). */
api.audit = {
  /** list({entity: "<kind>" or "<kind>:<id>", actor, from, to, limit, offset}, {signal}) → [AuditEntry], newest first */
  list: (filters, options) => call('GET', '/admin/audit', { query: filters, signal: options && options.signal }),
};

/** Outgoing webhooks (admins; issue 21). The secret is sent once, never answered. */
api.webhooks = {
  list: () => call('GET', '/admin/webhooks'),
  /** create({url, secret, events}) → the endpoint, without its secret */
  create: (body) => call('POST', '/admin/webhooks', { body }),
  remove: (webhookId) => call('DELETE', '/admin/webhooks/' + id(webhookId)),
  /** deliveries(webhookId) → newest first: status, attempts, last answer, next attempt */
  deliveries: (webhookId) => call('GET', '/admin/webhooks/' + id(webhookId) + '/deliveries', { query: { limit: 50 } }),
  replay: (webhookId, deliveryId) =>
    call('POST', '/admin/webhooks/' + id(webhookId) + '/deliveries/' + id(deliveryId) + '/replay'),
};

/** Promo and access codes (admins; issue 21). */
api.codes = {
  list: () => call('GET', '/admin/codes', { query: { limit: 200 } }),
  /** create({code, kind, value?, event_id?, tiers?, max_uses?, max_uses_per_user?, valid_from?, valid_to?}) → Code */
  create: (body) => call('POST', '/admin/codes', { body }),
  update: (codeId, body) => call('PATCH', '/admin/codes/' + id(codeId), { body }),
  remove: (codeId) => call('DELETE', '/admin/codes/' + id(codeId)),
};

// Aliases, so callers may think in resources.
api.venues = {
  getVenues: api.events.getVenues,
  getVenueById: api.events.getVenueById,
  createVenue: api.events.createVenue,
  updateVenue: api.events.updateVenue,
};
api.users = {
  list: api.auth.listUsers,
  get: api.auth.getUser,
  update: api.auth.updateUser,
};

