// Zoom and pan of the venue map (seatmap-view.js): the SVG's viewBox, animated between views,
// moved by the wheel (around the pointer), a one-finger or mouse drag, a two-finger pinch, and
// kept within the venue. The view is told after every move (`view.moved(vb)`).

const reduceMotion = () => window.matchMedia('(prefers-reduced-motion: reduce)').matches;

export class ViewBox {
  constructor(view, full) {
    this.view = view;
    this.full = full;
    this.vb = { ...full };
    this.pointers = new Map();
    this.dragged = false;
  }

  /** The box's aspect (width over height) in pixels. */
  aspect() {
    const box = this.view.box;
    return (box.clientWidth || 1) / (box.clientHeight || 1);
  }

  /** `area` grown to the box's aspect, so all of it shows. */
  fit(area) {
    const aspect = this.aspect();
    let { x, y, w, h } = area;
    if (w / h < aspect) {
      const nw = h * aspect;
      x -= (nw - w) / 2;
      w = nw;
    } else {
      const nh = w / aspect;
      y -= (nh - h) / 2;
      h = nh;
    }
    return { x, y, w, h };
  }

  /** Keeps a view box within the venue and between the whole venue and about 6 units across. */
  clamp(vb) {
    const f = this.fit(this.full);
    const w = Math.max(6, Math.min(f.w, vb.w));
    const h = w / this.aspect();
    const cx = Math.max(f.x, Math.min(f.x + f.w, vb.x + vb.w / 2));
    const cy = Math.max(f.y, Math.min(f.y + f.h, vb.y + vb.h / 2));
    return { x: cx - w / 2, y: cy - h / 2, w, h };
  }

  set(vb) {
    this.vb = this.clamp(vb);
    this.apply();
  }

  apply() {
    const v = this.vb = this.clamp(this.vb);
    this.view.svg.setAttribute('viewBox', `${v.x.toFixed(3)} ${v.y.toFixed(3)} ${v.w.toFixed(3)} ${v.h.toFixed(3)}`);
    this.view.moved(v);
  }

  /** Eases from the current view to `target` in a quarter second (at once with reduced motion). */
  animate(target) {
    cancelAnimationFrame(this.frame);
    const to = this.clamp(target.w ? this.fit(target) : target);
    if (reduceMotion()) return this.set(to);
    const from = { ...this.vb };
    const start = performance.now();
    const step = (now) => {
      const k = Math.min(1, (now - start) / 250);
      const e = 1 - (1 - k) ** 3;
      this.set({ x: from.x + (to.x - from.x) * e, y: from.y + (to.y - from.y) * e, w: from.w + (to.w - from.w) * e, h: from.h + (to.h - from.h) * e });
      if (k < 1) this.frame = requestAnimationFrame(step);
    };
    this.frame = requestAnimationFrame(step);
    return undefined;
  }

  /** Zooms by `factor` (under 1: in) around a point of the venue (the view's centre by default). */
  by(factor, at) {
    const v = this.vb;
    const [px, py] = at || [v.x + v.w / 2, v.y + v.h / 2];
    const w = v.w * factor;
    const h = v.h * factor;
    const target = { x: px - (px - v.x) * factor, y: py - (py - v.y) * factor, w, h };
    if (at) this.set(target);
    else this.animate(target);
  }

  centreOn(x, y) {
    this.animate({ x: x - this.vb.w / 2, y: y - this.vb.h / 2, w: this.vb.w, h: this.vb.h });
  }

  /** Pans so that a focused seat is inside the view, with a seat's margin. */
  keepInView(x, y) {
    const v = this.vb;
    const m = 2;
    if (x > v.x + m && x < v.x + v.w - m && y > v.y + m && y < v.y + v.h - m) return;
    this.centreOn(x, y);
  }

  /** The venue's point under a pointer event, in `svg`'s units. */
  point(e, svg) {
    const m = (svg || this.view.svg).getScreenCTM();
    if (!m) return [0, 0];
    const p = new DOMPoint(e.clientX, e.clientY).matrixTransform(m.inverse());
    return [p.x, p.y];
  }

  bindPointers(svg) {
    svg.addEventListener('wheel', (e) => {
      e.preventDefault();
      this.by(Math.exp(Math.max(-1, Math.min(1, e.deltaY / 300))), this.point(e));
    }, { passive: false });
    svg.addEventListener('pointerdown', (e) => {
      this.pointers.set(e.pointerId, { x: e.clientX, y: e.clientY });
      this.dragged = false;
      this.startAt = { x: e.clientX, y: e.clientY };
      this.pinch = null;
    });
    svg.addEventListener('pointermove', (e) => {
      const last = this.pointers.get(e.pointerId);
      if (!last) return;
      const scale = this.vb.w / (this.view.box.clientWidth || 1);
      if (this.pointers.size === 2) {
        const [a, b] = Array.from(this.pointers.values());
        const before = Math.hypot(a.x - b.x, a.y - b.y);
        this.pointers.set(e.pointerId, { x: e.clientX, y: e.clientY });
        const [c, d] = Array.from(this.pointers.values());
        const now = Math.hypot(c.x - d.x, c.y - d.y);
        if (before > 0 && now > 0) this.by(before / now, this.point({ clientX: (c.x + d.x) / 2, clientY: (c.y + d.y) / 2 }));
        this.dragged = true;
        return;
      }
      this.pointers.set(e.pointerId, { x: e.clientX, y: e.clientY });
      if (!this.dragged && Math.hypot(e.clientX - this.startAt.x, e.clientY - this.startAt.y) < 6) return;
      if (!this.dragged) {
        this.dragged = true;
        try {
          svg.setPointerCapture(e.pointerId);
        } catch (_) {
          /* the pointer is gone already */
        }
      }
      cancelAnimationFrame(this.frame);
      this.set({ ...this.vb, x: this.vb.x - (e.clientX - last.x) * scale, y: this.vb.y - (e.clientY - last.y) * scale });
    });
    const up = (e) => {
      this.pointers.delete(e.pointerId);
      // The click that ends a drag is not a tap; the flag clears after it.
      if (this.dragged) setTimeout(() => { this.dragged = false; }, 0);
    };
    svg.addEventListener('pointerup', up);
    svg.addEventListener('pointercancel', up);
  }
}
