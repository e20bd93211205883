// Ticket types on the booking page (issue 21). When an event sells more than one type (adult,
// child, student, …), each picked seat in the summary gets a "Ticket type" select listing every
// type with its price for that seat's tier ("Adult — 25.00 EUR"); the total follows the choices,
// and the reserve request names each seat's type (`ticket_types`). The server prices the hold
// itself: what is shown here is only what it will charge. An event with one type shows nothing
// new and sends nothing new.
import { Format } from './data.js';
import { html } from './dom.js';
import { t } from './i18n.js';

/** The type picked for each seat (seat id → type name); a seat not in it is of the first type. */
const picked = new Map();

function types(event) {
  return (event && Array.isArray(event.ticket_types)) ? event.ticket_types : [];
}

function priceFor(type, tier) {
  const price = (type.prices || []).find((p) => p.tier === tier);
  return price ? price.price_cents : null;
}

export const TicketTypes = {
  /** Whether the event offers a choice of types. */
  offered(event) {
    return types(event).length > 1;
  },

  /** The name of the type picked for `seatId` (the event's first by default). */
  of(event, seatId) {
    const all = types(event);
    const name = picked.get(seatId);
    return all.some((type) => type.name === name) ? name : (all[0] && all[0].name);
  },

  /** What `seat` (a seat-map seat) costs as the type picked for it. */
  price(event, seat) {
    const type = types(event).find((candidate) => candidate.name === TicketTypes.of(event, seat.seat_id));
    const cents = type ? priceFor(type, seat.tier) : null;
    return cents === null ? seat.price_cents : cents;
  },

  /** The "Ticket type" select of one picked seat, or nothing for an event with one type. */
  picker(event, seat) {
    if (!TicketTypes.offered(event)) return null;
    const current = TicketTypes.of(event, seat.seat_id);
    const options = types(event).map((type) => {
      const cents = priceFor(type, seat.tier);
      const text = Format.label(type.name) + (cents === null ? '' : ' — ' + Format.money(cents, event.currency));
      return type.name === current
        ? html`<option value="${type.name}" selected>${text}</option>`
        : html`<option value="${type.name}">${text}</option>`;
    });
    return html`<label class="ticket-type small">${t('Ticket type')} <select data-ticket-type="${seat.seat_id}">${options}</select></label>`;
  },

  /** Calls `changed` whenever a type is picked in `container` (the summary). */
  listen(container, changed) {
    container.addEventListener('change', (e) => {
      const select = e.target.closest('[data-ticket-type]');
      if (!select) return;
      picked.set(select.dataset.ticketType, select.value);
      changed();
    });
  },

  /** The reserve body's `ticket_types` for `seatIds`: undefined for an event with one type. */
  body(event, seatIds) {
    if (!TicketTypes.offered(event)) return undefined;
    const named = {};
    seatIds.forEach((id) => {
      named[id] = TicketTypes.of(event, id);
    });
    return named;
  },
};
