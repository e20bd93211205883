// Admin, Events tab: an event's poster. "Add poster" opens a small panel in the event's row with
// a file picker (JPEG, PNG or WebP, at most 5 MB), the current poster if any and a way to remove
// it. The server checks the file by its bytes and answers with the event and its two sizes.
import { api } from '../api.js';
import { html, render } from '../dom.js';
import * as UI from '../ui.js';

const MAX_BYTES = 5 * 1024 * 1024;

/** Opens the poster panel of `ev` in its row `item`; `reload` refreshes the list after a change. */
export function choosePoster(item, ev, reload) {
  const slot = item.querySelector('.confirm-slot');
  const inputId = 'poster-file-' + ev.id;
  render(
    slot,
    html`<div class="confirm-box poster-box">
      ${ev.poster ? html`<img class="poster-preview" src="${ev.poster.small}" alt="${'Current poster of ' + ev.name}">` : ''}
      <div class="field"><label for="${inputId}">Poster image (JPEG, PNG or WebP, at most 5 MB)</label>
        <input id="${inputId}" type="file" accept="image/jpeg,image/png,image/webp" data-poster-file></div>
      <div role="alert" data-poster-alert hidden></div>
      <div class="btn-row"><button class="btn btn-primary btn-sm" type="button" data-poster-upload>Upload poster</button>
        ${ev.poster ? html`<button class="btn btn-ghost btn-sm" type="button" data-poster-remove>Remove poster</button>` : ''}
        <button class="btn btn-ghost btn-sm" type="button" data-poster-close>Close</button></div>
    </div>`,
  );
  const alertEl = slot.querySelector('[data-poster-alert]');
  const input = slot.querySelector('[data-poster-file]');
  slot.querySelector('[data-poster-close]').addEventListener('click', () => slot.replaceChildren());
  slot.querySelector('[data-poster-upload]').addEventListener('click', async (e) => {
    UI.clear(alertEl);
    const file = input.files && input.files[0];
    if (!file) {
      UI.showError('No file chosen', 'Choose an image file first.', alertEl);
      input.focus();
      return;
    }
    // Said here to save the upload; the server checks the size and the content again.
    if (file.size > MAX_BYTES) {
      UI.showError('Image too large', 'The image is larger than 5 MB; choose one of at most 5 MB.', alertEl);
      return;
    }
    try {
      await UI.busy(e.currentTarget, 'Uploading…', () => api.events.uploadPoster(ev.id, file));
      UI.showStatus('The poster of “' + ev.name + '” was saved.', 'success');
      reload();
    } catch (error) {
      UI.handleError(error, alertEl);
    }
  });
  const remove = slot.querySelector('[data-poster-remove]');
  if (remove) {
    remove.addEventListener('click', async (e) => {
      try {
        await UI.busy(e.currentTarget, 'Removing…', () => api.events.removePoster(ev.id));
        UI.showStatus('The poster of “' + ev.name + '” was removed; its drawn poster is shown again.', 'success');
        reload();
      } catch (error) {
        UI.handleError(error, alertEl);
      }
    });
  }
  input.focus();
}
