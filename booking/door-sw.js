// The door page's service worker: it keeps checkin.html and every file it loads, so a door phone
// that reloads with no network at all still opens its door (the tickets themselves are in
// IndexedDB, door-store.js). Network first, so a door that is online always runs the site's
// current files, and the kept copy answers only when the network fails. It answers for these
// files alone: every other request (other pages, images, the API) goes to the network untouched.
const CACHE = 'proeventa-door-v1';
const FILES = [
  'checkin.html',
  'config.js',
  'style.css',
  'favicon.svg',
  'checkin.js',
  'api.js',
  'auth.js',
  'data.js',
  'dom.js',
  'ui.js',
  'i18n.js',
  'i18n/de.json',
  'i18n/fr.json',
  'i18n/es.json',
  'door-camera.js',
  'door-store.js',
  'ticket-code.js',
  'vendor/jsQR.js',
];
const KEPT = new Set(FILES.map((file) => new URL(file, self.location.href).pathname));

self.addEventListener('install', (event) => {
  event.waitUntil(
    caches
      .open(CACHE)
      .then((cache) => cache.addAll(FILES))
      .then(() => self.skipWaiting()),
  );
});

self.addEventListener('activate', (event) => {
  event.waitUntil(
    caches
      .keys()
      .then((keys) => Promise.all(keys.filter((k) => k.startsWith('proeventa-door-') && k !== CACHE).map((k) => caches.delete(k))))
      .then(() => self.clients.claim()),
  );
});

self.addEventListener('fetch', (event) => {
  const request = event.request;
  if (request.method !== 'GET') return;
  const url = new URL(request.url);
  if (url.origin !== self.location.origin || !KEPT.has(url.pathname)) return;
  event.respondWith(
    fetch(request)
      .then((response) => {
        if (response.ok) {
          const copy = response.clone();
          event.waitUntil(caches.open(CACHE).then((cache) => cache.put(url.pathname, copy)));
        }
        return response;
      })
      .catch(() => caches.match(url.pathname).then((kept) => kept || Response.error())),
  );
});
