// What the door page keeps in this browser's IndexedDB, so a gate goes on admitting people when
// its network drops (and after a reload): each event's manifest as last fetched, the tickets this
// gate admitted (online or not), and the offline scans waiting to be sent to POST /checkin/sync.
//
//   manifests   key event_id                  the manifest, as the API gave it
//   admissions  key [event_id, ticket_id]     {event_id, ticket_id, at, gate, scan_id}
//   queue       key scan_id, index event_id   {scan_id, event_id, code, scanned_at, gate, ticket_id, seat_label, holder_name}

const DB_NAME = 'proeventa-door';
const DB_VERSION = 1;

let opened = null;

function request(req) {
  return new Promise((resolve, reject) => {
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
  });
}

function db() {
  if (!opened) {
    opened = new Promise((resolve, reject) => {
      const req = indexedDB.open(DB_NAME, DB_VERSION);
      req.onupgradeneeded = () => {
        const d = req.result;
        if (!d.objectStoreNames.contains('manifests')) d.createObjectStore('manifests', { keyPath: 'event_id' });
        if (!d.objectStoreNames.contains('admissions')) {
          d.createObjectStore('admissions', { keyPath: ['event_id', 'ticket_id'] }).createIndex('event_id', 'event_id');
        }
        if (!d.objectStoreNames.contains('queue')) {
          d.createObjectStore('queue', { keyPath: 'scan_id' }).createIndex('event_id', 'event_id');
        }
      };
      req.onsuccess = () => resolve(req.result);
      req.onerror = () => reject(req.error);
    });
  }
  return opened;
}

/** Runs `work(store)` in one transaction and resolves with its result once the transaction commits. */
async function withStore(name, mode, work) {
  const tx = (await db()).transaction(name, mode);
  const committed = new Promise((resolve, reject) => {
    tx.oncomplete = resolve;
    tx.onerror = () => reject(tx.error);
    tx.onabort = () => reject(tx.error);
  });
  const result = await work(tx.objectStore(name));
  await committed;
  return result;
}

export const DoorStore = {
  saveManifest: (manifest) => withStore('manifests', 'readwrite', (s) => request(s.put(manifest))),
  manifest: (eventId) => withStore('manifests', 'readonly', (s) => request(s.get(eventId))),

  admission: (eventId, ticketId) => withStore('admissions', 'readonly', (s) => request(s.get([eventId, ticketId]))),
  /** Records that this gate admitted a ticket; an earlier record of the same ticket is kept. */
  admit: (record) =>
    withStore('admissions', 'readwrite', async (s) => {
      const known = await request(s.get([record.event_id, record.ticket_id]));
      if (!known) await request(s.put(record));
      return known || record;
    }),

  /** Queues an offline scan for POST /checkin/sync. */
  enqueue: (scan) => withStore('queue', 'readwrite', (s) => request(s.put(scan))),
  /** The event's waiting scans, oldest first. */
  waiting: (eventId) =>
    withStore('queue', 'readonly', (s) => request(s.index('event_id').getAll(eventId))).then((scans) =>
      scans.sort((a, b) => String(a.scanned_at).localeCompare(String(b.scanned_at))),
    ),
  /** Drops the scans the server answered. */
  forget: (scanIds) => withStore('queue', 'readwrite', (s) => Promise.all(scanIds.map((id) => request(s.delete(id))))),
};
