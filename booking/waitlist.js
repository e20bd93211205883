// The waiting list of a sold-out event, in its panel on detail.html: join it (how many seats, any
// tier or one), see one's place, and once seats free up the offer: held for the buyer until a
// time, paid through the usual payment page. While waiting the entry is read again every 15 s, so
// an offer shows without a reload.
import { api } from './api.js';
import { Auth } from './auth.js';
import { Data, Format } from './data.js';
import { byId, html, render } from './dom.js';
import { t } from './i18n.js';
import * as UI from './ui.js';

const POLL_MS = 15000;
let timer = null;

function seatsText(count) {
  return count === 1 ? t('1 seat') : t('{count} seats', { count });
}

function joinForm(event) {
  const tiers = Data.tiers(event.prices);
  const counts = Array.from({ length: 10 }, (_, i) => i + 1);
  return html`<form id="waitlist-form" novalidate>
    <p class="small">${t('Sold out. Join the waiting list: seats that free up are offered to it in turn, and held for you for a while.')}</p>
    <div class="field-row">
      <div class="field"><label for="waitlist-seats">${t('Seats')}</label>
        <select id="waitlist-seats">${counts.map((n) => html`<option value="${n}">${n}</option>`)}</select></div>
      <div class="field"><label for="waitlist-tier">${t('Tier')}</label>
        <select id="waitlist-tier"><option value="">${t('Any tier')}</option>
          ${tiers.map((tier) => html`<option value="${tier.tier}">${Format.label(tier.tier)}</option>`)}</select></div>
    </div>
    <div id="waitlist-alert" role="alert" hidden></div>
    <button class="btn btn-primary btn-lg btn-block" id="waitlist-join" type="submit">${t('Join the waiting list')}</button>
  </form>`;
}

function offerView(entry) {
  const offer = entry.offer;
  if (offer.status === 'held') {
    return html`<div class="notice notice-success" id="waitlist-offer">${UI.icon('check')}
        <div><strong>${t('Seats are free for you!')}</strong> ${t('{seats} held for you until {time}. Pay before then to keep them.', {
          seats: seatsText(entry.seats),
          time: Format.dateTime(offer.expires_at),
        })}</div></div>
      <a class="btn btn-primary btn-lg btn-block" id="waitlist-pay" href="payment.html?booking=${encodeURIComponent(offer.booking_id)}">${t('Pay now')}</a>`;
  }
  if (offer.status === 'confirmed') {
    return html`<p id="waitlist-status">${t('You bought the seats the waiting list offered you.')}</p>
      <a class="btn btn-secondary btn-block" href="profile.html">${t('My bookings')}</a>`;
  }
  return html`<p id="waitlist-status">${t('The seats offered to you were not paid in time and went to the next person.')}</p>
    <button class="btn btn-secondary btn-block" id="waitlist-leave" type="button">${t('Leave the waiting list')}</button>`;
}

function entryView(entry) {
  if (entry.status === 'offered' && entry.offer) return offerView(entry);
  return html`<p id="waitlist-status">${t('You are number {position} on the waiting list for {seats}.', {
      position: entry.position,
      seats: seatsText(entry.seats),
    })}</p>
    <p class="small muted">${t('When seats free up they are held for you, and you get an e-mail; this page shows them too.')}</p>
    <button class="btn btn-secondary btn-block" id="waitlist-leave" type="button">${t('Leave the waiting list')}</button>`;
}

async function readEntry(event) {
  try {
    return await api.waitlist.entry(event.id);
  } catch (error) {
    if (error.status === 404) return null;
    throw error;
  }
}

async function show(root, event) {
  clearTimeout(timer);
  let entry;
  try {
    entry = await readEntry(event);
  } catch (error) {
    UI.handleError(error);
    return;
  }
  render(root, entry ? entryView(entry) : joinForm(event));
  const form = byId('waitlist-form');
  if (form) {
    form.addEventListener('submit', async (submitted) => {
      submitted.preventDefault();
      const wish = { seats: Number(byId('waitlist-seats').value) };
      const tier = byId('waitlist-tier').value;
      if (tier) wish.tier = tier;
      await UI.busy(byId('waitlist-join'), t('Joining…'), async () => {
        try {
          await api.waitlist.join(event.id, wish);
          UI.showStatus(t('You are on the waiting list.'), 'success');
          await show(root, event);
        } catch (error) {
          UI.handleError(error, byId('waitlist-alert'));
        }
      });
    });
  }
  const leave = byId('waitlist-leave');
  if (leave) {
    leave.addEventListener('click', async () => {
      try {
        await api.waitlist.leave(event.id);
        UI.showStatus(t('You left the waiting list.'), 'info');
        await show(root, event);
      } catch (error) {
        UI.handleError(error);
      }
    });
  }
  if (entry && entry.status === 'waiting') timer = setTimeout(() => show(root, event), POLL_MS);
}

/** Fills `root` with the waiting list of the sold-out `event`. */
export function showWaitlist(root, event) {
  if (!Auth.isLoggedIn()) {
    render(
      root,
      html`<p class="small">${t('Sold out. Join the waiting list: seats that free up are offered to it in turn, and held for you for a while.')}</p>
        <a class="btn btn-secondary btn-block" id="waitlist-login" href="${Auth.loginUrl()}">${t('Log in to join the waiting list')}</a>`,
    );
    return;
  }
  show(root, event);
}
