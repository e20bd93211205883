// The door page's camera: frames from getUserMedia (the back camera on a phone) read for QR codes
// by the browser's own BarcodeDetector where it has one with QR support, else by jsQR
// (vendor/jsQR.js, Apache-2.0, from npm; loaded from this site only when first needed).

const SCAN_EVERY_MS = 150;
/** jsQR reads a frame at most this wide: faster, and still plenty for a code held to the camera. */
const JSQR_MAX_WIDTH = 640;

let jsQrLoading = null;

/** vendor/jsQR.js as a classic script (it defines window.jsQR). */
function loadJsQr() {
  if (window.jsQR) return Promise.resolve(window.jsQR);
  if (!jsQrLoading) {
    jsQrLoading = new Promise((resolve, reject) => {
      const script = document.createElement('script');
      script.src = 'vendor/jsQR.js';
      script.onload = () => (window.jsQR ? resolve(window.jsQR) : reject(new Error('jsQR did not load')));
      script.onerror = () => {
        jsQrLoading = null;
        reject(new Error('The QR reader (vendor/jsQR.js) could not be loaded.'));
      };
      document.head.append(script);
    });
  }
  return jsQrLoading;
}

/** A function frame → code text or null, with the best reader this browser has. */
async function reader(video) {
  if ('BarcodeDetector' in window) {
    try {
      const formats = await window.BarcodeDetector.getSupportedFormats();
      if (formats.includes('qr_code')) {
        const detector = new window.BarcodeDetector({ formats: ['qr_code'] });
        const read = async () => {
          const found = await detector.detect(video);
          return found.length ? found[0].rawValue : null;
        };
        read.kind = 'BarcodeDetector';
        return read;
      }
    } catch (_) {
      // Fall through to jsQR.
    }
  }
  const jsQR = await loadJsQr();
  const canvas = document.createElement('canvas');
  const context = canvas.getContext('2d', { willReadFrequently: true });
  const read = async () => {
    const width = video.videoWidth;
    const height = video.videoHeight;
    if (!width || !height) return null;
    const scale = Math.min(1, JSQR_MAX_WIDTH / width);
    canvas.width = Math.round(width * scale);
    canvas.height = Math.round(height * scale);
    context.drawImage(video, 0, 0, canvas.width, canvas.height);
    const frame = context.getImageData(0, 0, canvas.width, canvas.height);
    const found = jsQR(frame.data, frame.width, frame.height, { inversionAttempts: 'attemptBoth' });
    return found && found.data ? found.data : null;
  };
  read.kind = 'jsQR';
  return read;
}

/** Whether this browser can give a page the camera at all. */
export function cameraAvailable() {
  return Boolean(navigator.mediaDevices && navigator.mediaDevices.getUserMedia);
}

/**
 * Starts the camera into `video` and calls `onCode(text)` for every code read (the caller decides
 * what a repeat means). Resolves with { stop(), kind } once frames flow; rejects with a readable
 * Error when there is no camera or it was refused.
 */
export async function startCamera(video, onCode) {
  if (!cameraAvailable()) throw new Error('This browser gives no access to a camera here: type or paste the code instead.');
  let stream;
  try {
    stream = await navigator.mediaDevices.getUserMedia({
      audio: false,
      video: { facingMode: { ideal: 'environment' }, width: { ideal: 1280 }, height: { ideal: 720 } },
    });
  } catch (error) {
    const refused = error && (error.name === 'NotAllowedError' || error.name === 'SecurityError');
    throw new Error(refused
      ? 'The camera was not allowed. Allow it in the browser, or type the code instead.'
      : 'No camera could be started. Type or paste the code instead.');
  }
  video.srcObject = stream;
  video.muted = true;
  video.setAttribute('playsinline', '');
  await video.play();
  let read;
  try {
    read = await reader(video);
  } catch (error) {
    stream.getTracks().forEach((t) => t.stop());
    throw error;
  }
  let stopped = false;
  let timer = null;
  const tick = async () => {
    if (stopped) return;
    try {
      const code = await read();
      if (code && !stopped) onCode(code);
    } catch (_) {
      // A frame that could not be read: the next one will be.
    }
    if (!stopped) timer = setTimeout(tick, SCAN_EVERY_MS);
  };
  tick();
  return {
    kind: read.kind,
    stop() {
      stopped = true;
      clearTimeout(timer);
      stream.getTracks().forEach((t) => t.stop());
      video.srcObject = null;
    },
  };
}
