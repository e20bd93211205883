// Request sequencing and paging, written once for every page: of overlapping requests for the
// same thing only the newest one's answer counts (search as you type, filters changed while a
// list loads, the seat map's poll against a forced refresh), typing waits for a pause, and lists
// are paged by offset.

/**
 * A line of requests where the newest wins. `next()` hands out a ticket for a request about to
 * start; once a newer ticket exists the older one is `stale` and its `signal` aborts, so an older
 * answer (or its failure) never overwrites a newer one.
 */
export function newestWins() {
  let current = null;
  return {
    next() {
      if (current) current.controller.abort();
      const controller = new AbortController();
      const ticket = {
        controller,
        signal: controller.signal,
        get stale() {
          return current !== ticket;
        },
      };
      current = ticket;
      return ticket;
    },
  };
}

/** `fn` called once typing (or any burst of calls) has paused for `ms`. */
export function debounce(fn, ms) {
  let timer = null;
  return (...args) => {
    clearTimeout(timer);
    timer = setTimeout(() => fn(...args), ms);
  };
}

/**
 * Offset paging, `size` items at a time. With Previous/Next buttons it moves by whole pages,
 * calls `onChange` and keeps the buttons enabled only where there is something to show; a
 * "Show more" list calls `forward()` and appends the next page.
 */
export class Pager {
  constructor(size, { previous, next, onChange } = {}) {
    this.size = size;
    this.offset = 0;
    this.count = 0; // items on the page that arrived last
    this.previous = previous || null;
    this.nextButton = next || null;
    if (previous) {
      previous.addEventListener('click', () => {
        this.back();
        onChange();
      });
    }
    if (next) {
      next.addEventListener('click', () => {
        this.forward();
        onChange();
      });
    }
  }

  /** `limit` and `offset` for the API. */
  get query() {
    return { limit: this.size, offset: this.offset };
  }

  /** A full page came last, so there may be another one. */
  get hasMore() {
    return this.count >= this.size;
  }

  reset() {
    this.offset = 0;
    this.count = 0;
  }

  forward() {
    this.offset += this.size;
  }

  back() {
    this.offset = Math.max(0, this.offset - this.size);
  }

  /** Records how many items the page brought and updates the buttons; returns `hasMore`. */
  received(count) {
    this.count = count;
    if (this.previous) this.previous.disabled = this.offset === 0;
    if (this.nextButton) this.nextButton.disabled = !this.hasMore;
    return this.hasMore;
  }
}
