// The waiting room's passes, kept in this browser per event (localStorage, so a reload or a new
// tab keeps the place): the queue ticket a join handed out (polled with on queue.html) and, once
// the buyer is let through, the admission that holds and pays carry until the session ends.

const KEY = 'proeventa.queue.';

function read(eventId) {
  try {
    return JSON.parse(localStorage.getItem(KEY + eventId) || '{}') || {};
  } catch (_) {
    return {};
  }
}

function write(eventId, pass) {
  try {
    localStorage.setItem(KEY + eventId, JSON.stringify(pass));
  } catch (_) {
    /* private mode: the page still works, a reload joins again (the same place) */
  }
}

export const WaitingRoom = {
  /** Whether the event sells through a waiting room now. */
  isOn: (event) => Boolean(event && event.queue && event.queue.enabled),
  /** The page that keeps the buyer's place in line. */
  url: (eventId) => 'queue.html?event=' + encodeURIComponent(eventId),
  ticket: (eventId) => read(eventId).ticket || null,
  saveTicket(eventId, ticket) {
    write(eventId, { ...read(eventId), ticket });
  },
  /** The place's first distance from the front, for the progress bar. */
  startAhead: (eventId) => read(eventId).startAhead,
  saveStartAhead(eventId, ahead) {
    write(eventId, { ...read(eventId), startAhead: ahead });
  },
  /** The admission while its session runs: {token, endsAt}, or null. */
  admission(eventId) {
    const pass = read(eventId);
    return pass.admission && new Date(pass.endsAt).getTime() > Date.now()
      ? { token: pass.admission, endsAt: pass.endsAt }
      : null;
  },
  saveAdmission(eventId, token, endsAt) {
    write(eventId, { ...read(eventId), admission: token, endsAt });
  },
  /** The session is over (paid, ended, refused): the admission is dropped, the ticket kept. */
  endSession(eventId) {
    const pass = read(eventId);
    delete pass.admission;
    delete pass.endsAt;
    write(eventId, pass);
  },
};
