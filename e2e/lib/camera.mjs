// A fake camera for Chromium: `--use-file-for-fake-video-capture=<file.y4m>` plays a YUV4MPEG2
// file as the webcam. These helpers draw a QR code (the ticket's qr.svg) onto a white frame in a
// page's canvas, read back its pixels as luma, and write that as a 4:2:0 y4m file: no image
// decoder or video tool needed.
import fs from 'node:fs';

export const FRAME = { width: 640, height: 480 };

/**
 * The luma (Y, 0..255) of `svg` drawn `size` px wide in the middle of a white `width`×`height`
 * frame, rendered by the browser behind `page` (any page; about:blank is enough). → Buffer.
 */
export async function qrLuma(page, svg, { width = FRAME.width, height = FRAME.height, size = 360 } = {}) {
  const base64 = await page.evaluate(
    async ({ svg, width, height, size }) => {
      const image = new Image();
      image.src = 'data:image/svg+xml;base64,' + btoa(unescape(encodeURIComponent(svg)));
      await image.decode();
      const canvas = document.createElement('canvas');
      canvas.width = width;
      canvas.height = height;
      const context = canvas.getContext('2d');
      context.fillStyle = '#fff';
      context.fillRect(0, 0, width, height);
      context.imageSmoothingEnabled = false;
      context.drawImage(image, (width - size) / 2, (height - size) / 2, size, size);
      const { data } = context.getImageData(0, 0, width, height);
      let text = '';
      for (let i = 0; i < data.length; i += 4) {
        const luma = Math.round(0.299 * data[i] + 0.587 * data[i + 1] + 0.114 * data[i + 2]);
        text += String.fromCharCode(luma);
      }
      return btoa(text);
    },
    { svg, width, height, size },
  );
  return Buffer.from(base64, 'base64');
}

/** Writes `luma` (width×height bytes) as a y4m file of `frames` identical grey frames (4:2:0, chroma neutral). */
export function writeY4m(file, luma, { width = FRAME.width, height = FRAME.height, frames = 2 } = {}) {
  if (luma.length !== width * height) throw new Error(`luma is ${luma.length} bytes, not ${width}x${height}`);
  const chroma = Buffer.alloc((width / 2) * (height / 2), 128);
  const parts = [Buffer.from(`YUV4MPEG2 W${width} H${height} F10:1 Ip A1:1 C420jpeg\n`, 'ascii')];
  for (let i = 0; i < frames; i += 1) parts.push(Buffer.from('FRAME\n', 'ascii'), luma, chroma, chroma);
  fs.writeFileSync(file, Buffer.concat(parts));
  return file;
}

/** Chromium switches that make `file` the camera and allow it without asking. */
export function fakeCameraArgs(file) {
  return ['--use-fake-ui-for-media-stream', '--use-fake-device-for-media-stream', `--use-file-for-fake-video-capture=${file}`];
}
