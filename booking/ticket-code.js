// Ticket codes as the QR carries them, read and verified in the browser, so a door with no
// network still knows a real ticket from a forged one. The format (shared/src/tickets/code.rs):
//
//   "PE1." + base64url, no padding, of
//     ticket_id (16 bytes) || event_id (16 bytes) || seat label (UTF-8, ≤ 64 bytes) || signature (64 bytes)
//
// where the signature is Ed25519 over  b"proeventa-ticket\0" || version byte (1) || the bytes
// before the signature. WebCrypto verifies it with the event manifest's public key.

const PREFIX = 'PE1.';
const VERSION = 1;
const DOMAIN = new TextEncoder().encode('proeventa-ticket\0');
const ID_BYTES = 16;
const SIGNATURE_BYTES = 64;
const SEAT_MAX_BYTES = 64;

/** base64url without padding → bytes; null when the text is not that. */
export function fromBase64Url(text) {
  if (typeof text !== 'string' || !/^[A-Za-z0-9_-]*$/.test(text) || text.length % 4 === 1) return null;
  const plain = text.replace(/-/g, '+').replace(/_/g, '/');
  try {
    const binary = atob(plain.padEnd(plain.length + ((4 - (plain.length % 4)) % 4), '='));
    return Uint8Array.from(binary, (c) => c.charCodeAt(0));
  } catch (_) {
    return null;
  }
}

function uuid(bytes) {
  const hex = Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
  return hex.slice(0, 8) + '-' + hex.slice(8, 12) + '-' + hex.slice(12, 16) + '-' + hex.slice(16, 20) + '-' + hex.slice(20);
}

/**
 * The parts of a code, unverified: {ticketId, eventId, seatLabel, version, signed, signature},
 * or null when it is not shaped like a ticket code at all.
 */
export function parseCode(code) {
  const text = String(code || '').trim();
  if (!text.startsWith(PREFIX)) return null;
  const bytes = fromBase64Url(text.slice(PREFIX.length));
  if (!bytes) return null;
  const seatBytes = bytes.length - 2 * ID_BYTES - SIGNATURE_BYTES;
  if (seatBytes < 0 || seatBytes > SEAT_MAX_BYTES) return null;
  const payload = bytes.subarray(0, bytes.length - SIGNATURE_BYTES);
  let seatLabel;
  try {
    seatLabel = new TextDecoder('utf-8', { fatal: true }).decode(payload.subarray(2 * ID_BYTES));
  } catch (_) {
    return null;
  }
  const signed = new Uint8Array(DOMAIN.length + 1 + payload.length);
  signed.set(DOMAIN, 0);
  signed[DOMAIN.length] = VERSION;
  signed.set(payload, DOMAIN.length + 1);
  return {
    ticketId: uuid(payload.subarray(0, ID_BYTES)),
    eventId: uuid(payload.subarray(ID_BYTES, 2 * ID_BYTES)),
    seatLabel,
    version: VERSION,
    signed,
    signature: bytes.slice(bytes.length - SIGNATURE_BYTES),
  };
}

/** Whether this browser can verify Ed25519 (Chromium 137+, Firefox 129+, Safari 17+). */
export async function canVerify() {
  try {
    await crypto.subtle.importKey('raw', new Uint8Array(32).fill(1), { name: 'Ed25519' }, false, ['verify']);
    return true;
  } catch (_) {
    return false;
  }
}

/** A verifier for one public key (base64url, 32 bytes): code → claims, or null when refused. */
export async function verifierFor(publicKey) {
  const raw = fromBase64Url(publicKey);
  if (!raw || raw.length !== 32) throw new Error('The door list carries no usable public key.');
  const key = await crypto.subtle.importKey('raw', raw, { name: 'Ed25519' }, false, ['verify']);
  return async (code) => {
    const parts = parseCode(code);
    if (!parts) return null;
    const ok = await crypto.subtle.verify({ name: 'Ed25519' }, key, parts.signature, parts.signed);
    return ok ? { ticketId: parts.ticketId, eventId: parts.eventId, seatLabel: parts.seatLabel, version: parts.version } : null;
  };
}
