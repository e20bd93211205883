// The best-available control beside booking.html's map (issue 19): a count, a tier and "I need a
// wheelchair space"; the server picks the seats and holds them (all or none), and the page shows
// them as this buyer's hold through the functions booking.js hands over.
import { api } from './api.js';
import { Auth } from './auth.js';
import { Data, Format } from './data.js';
import { byId, html, render } from './dom.js';
import { t } from './i18n.js';
import * as UI from './ui.js';

/**
 * Wires the control to `els` (bestForm, bestCount, bestTier, bestFind, bestAccessible,
 * reserveAlert) and the page's `state`; returns `renderTiers`, called once the event is read.
 */
export function mountBestAvailable({ els, state, eventId, refreshSeats, paintSeat, showHold, announce, renderSummary }) {
  /** The control's tiers: any, or one the event sells. */
  function renderTiers() {
    const tiers = Data.tiers(state.event.prices);
    render(
      els.bestTier,
      html`<option value="">${t('Any tier')}</option>${tiers.map((x) => html`<option value="${x.tier}">${Format.label(x.tier)}</option>`)}`,
    );
  }

  /**
   * Best available: the server picks the count's adjacent seats in one row, nearest the front and
   * the row's middle, and holds them (all or none). The seats found show on the map as held by the
   * buyer, in the summary and in the hold box, which leads on to payment as a hold of picked seats does.
   */
  async function findBest(e) {
    e.preventDefault();
    if (state.reserving) return;
    UI.clear(els.reserveAlert);
    if (!Auth.isLoggedIn()) {
      Auth.redirectToLogin();
      return;
    }
    state.reserving = true;
    const ask = { count: Number(els.bestCount.value) };
    if (els.bestTier.value) ask.tier = els.bestTier.value;
    if (els.bestAccessible.checked) ask.accessible = true;
    try {
      const booking = await UI.busy(els.bestFind, t('Finding seats…'), () =>
        api.reservations.makeReservation({ event_id: eventId, best_available: ask }, undefined, undefined, state.admission));
      state.selected = []; // a pick made by hand gives way to the seats found
      state.found = booking.reservations;
      state.mine = new Set(booking.reservations.map((r) => r.seat_id));
      try {
        await refreshSeats(true);
      } catch (_) {
        /* the poll will catch up */
      }
      state.seats.forEach(paintSeat);
      showHold(booking.id, booking.reservations);
      const names = Data.seatList(booking.reservations);
      UI.showStatus(t('Found {seats}. They are held for you while you pay.', { seats: names }), 'success');
      announce(t('Found {seats}. They are held for you while you pay.', { seats: names }));
      const first = state.seats.get(booking.reservations[0].seat_id);
      if (first && state.view) state.view.reveal(first.seat.seat_id);
      else if (first) first.el.scrollIntoView({ block: 'nearest', inline: 'center' });
    } catch (error) {
      UI.clear(byId('page-status'));
      UI.handleError(error, els.reserveAlert);
    } finally {
      state.reserving = false;
      renderSummary();
    }
  }

  els.bestForm.addEventListener('submit', findBest);
  // A wheelchair space comes with up to 3 companion seats: 1 to 4 seats in all.
  els.bestAccessible.addEventListener('change', () => {
    const accessible = els.bestAccessible.checked;
    for (const option of els.bestCount.options) option.disabled = accessible && Number(option.value) > 4;
    if (accessible && Number(els.bestCount.value) > 4) els.bestCount.value = '4';
  });

  return { renderTiers };
}
