// Canvas piano roll: pitched notes on a keyboard grid, drums on their own lane, a playhead overlay.
// Draws from the compact note buffer (notes.js); never builds per-note DOM.
import { decodeNotes, barSeconds, drumClass, DRUM_CLASSES, EMPTY } from "./notes.js";
import { h, cssVar, fitCanvas, observeWidth, onThemeChange } from "./util.js";

const PALETTE_VARS = ["--mm-track-0", "--mm-track-1", "--mm-track-2", "--mm-track-3", "--mm-track-4", "--mm-track-5"];
const PALETTE_FALLBACK = ["#4c6ef5", "#ae3ec9", "#f59f00", "#1c7ed6", "#e64980", "#0ca678"];
const NOTE_NAMES = ["C", "C♯", "D", "D♯", "E", "F", "F♯", "G", "G♯", "A", "A♯", "B"];
const BLACK = new Set([1, 3, 6, 8, 10]);

/** Colour per track: melody tracks cycle the palette, bass and drums get their own colours. */
export function trackColors(el, tracks) {
  const palette = PALETTE_VARS.map((v, i) => cssVar(el, v, PALETTE_FALLBACK[i]));
  const bass = cssVar(el, "--mm-bass", "#e8590c");
  const drums = cssVar(el, "--mm-drums", "#12b886");
  let k = 0;
  return tracks.map((t) => {
    if (t.role === "drums") return drums;
    if (t.role === "bass") return bass;
    const c = palette[k % palette.length];
    k += 1;
    return c;
  });
}

export class PianoRoll {
  /**
   * @param {HTMLElement} container
   * @param {{height?: number, compact?: boolean, emptyText?: string}} options
   */
  constructor(container, { height = 170, compact = false, emptyText = "No notes yet" } = {}) {
    this.height = height;
    this.compact = compact;
    this.emptyText = emptyText;
    this.notes = EMPTY;
    this.playhead = null;
    this.width = 0;
    this.canvas = h("canvas", { class: "mm-roll-canvas" });
    this.overlay = h("canvas", { class: "mm-roll-overlay" });
    this.el = h("div", {
      class: `mm-roll${compact ? " mm-roll-compact" : ""}`,
      dataset: { noteCount: "0", drawCount: "0" },
      style: { height: `${height}px` },
    }, this.canvas, this.overlay);
    container.append(this.el);
    this.drawCount = 0;
    this.disposers = [
      observeWidth(this.el, (w) => { this.width = w; this.draw(); }),
      onThemeChange(() => this.draw()),
    ];
  }

  /** Replace the displayed notes with a wire dict from Python (see serialization.py). */
  setSequence(wire) {
    try {
      this.notes = decodeNotes(wire);
      this.el.dataset.error = "";
    } catch (err) {
      this.notes = EMPTY;
      this.el.dataset.error = String(err);
    }
    this.el.dataset.noteCount = String(this.notes.n);
    this.el.dataset.seqHash = hashNotes(this.notes);
    this.el.dataset.label = this.notes.label ?? "";
    this.draw();
  }

  /** Move the playhead (seconds) or hide it (null). Cheap: only the overlay is redrawn. */
  setPlayhead(seconds) {
    this.playhead = seconds;
    this.drawOverlay();
  }

  layout() {
    const notes = this.notes;
    const gutter = this.compact ? 0 : 38;
    const width = this.width || this.el.clientWidth || 600;
    const hasDrums = notes.drum.some((d) => d === 1);
    const hasPitched = notes.drum.some((d) => d === 0) || !hasDrums;
    let lo = 127;
    let hi = 0;
    for (let i = 0; i < notes.n; i++) {
      if (notes.drum[i]) continue;
      lo = Math.min(lo, notes.pitch[i]);
      hi = Math.max(hi, notes.pitch[i]);
    }
    if (lo > hi) { lo = 60; hi = 72; }
    const span = Math.max(hi - lo + 1, this.compact ? 12 : 18);
    const mid = (lo + hi) / 2;
    lo = Math.max(0, Math.round(mid - span / 2) - 1);
    hi = Math.min(127, lo + span + 1);
    const drumRows = hasDrums ? DRUM_CLASSES.length : 0;
    const drumH = hasDrums ? (hasPitched ? Math.min(this.height * 0.35, drumRows * 7) : this.height - 4) : 0;
    const pitchedH = hasPitched ? this.height - drumH - (hasDrums ? 4 : 0) : 0;
    const bar = barSeconds(notes);
    const duration = Math.max(notes.duration || 0, bar);
    const plotW = Math.max(10, width - gutter - 2);
    return {
      width, gutter, lo, hi, hasDrums, hasPitched, drumRows, drumH, pitchedH, duration, bar, plotW,
      rowH: pitchedH / (hi - lo + 1),
      x: (t) => gutter + (t / duration) * plotW,
    };
  }

  draw() {
    const L = this.layout();
    const el = this.el;
    const ctx = fitCanvas(this.canvas, L.width, this.height);
    const fg = cssVar(el, "--mm-fg", "#222");
    const muted = cssVar(el, "--mm-fg-muted", "#777");
    const grid = cssVar(el, "--mm-grid", "rgba(128,128,128,0.25)");
    const keyShade = cssVar(el, "--mm-key-shade", "rgba(128,128,128,0.08)");
    ctx.clearRect(0, 0, L.width, this.height);
    ctx.font = "10px var(--jp-ui-font-family, system-ui, sans-serif)";

    if (L.hasPitched) {
      for (let p = L.lo; p <= L.hi; p++) {
        const y = L.pitchedH - (p - L.lo + 1) * L.rowH;
        if (BLACK.has(p % 12) && L.rowH >= 3) {
          ctx.fillStyle = keyShade;
          ctx.fillRect(L.gutter, y, L.plotW, L.rowH);
        }
        if (p % 12 === 0) {
          ctx.fillStyle = grid;
          ctx.fillRect(L.gutter, y + L.rowH - 0.5, L.plotW, 1);
          if (!this.compact && L.rowH * 12 >= 14) {
            ctx.fillStyle = muted;
            ctx.textBaseline = "middle";
            ctx.fillText(`${NOTE_NAMES[0]}${Math.floor(p / 12) - 1}`, 4,
              Math.max(6, Math.min(L.pitchedH - 6, y + L.rowH / 2))); // whole, even at the edges
          }
        }
      }
    }
    const drumTop = this.height - L.drumH;
    if (L.hasDrums) {
      ctx.fillStyle = keyShade;
      ctx.fillRect(L.gutter, drumTop, L.plotW, L.drumH);
      if (!this.compact) {
        ctx.fillStyle = muted;
        ctx.textBaseline = "middle";
        ctx.fillText("Drums", 2, drumTop + L.drumH / 2);
      }
    }
    // Beat and bar lines.
    const beat = L.bar / (this.notes.timeSignature?.[0] || 4);
    for (let t = 0, i = 0; t <= L.duration + 1e-6; t += beat, i++) {
      const isBar = i % (this.notes.timeSignature?.[0] || 4) === 0;
      if (!isBar && L.plotW / (L.duration / beat) < 6) continue;
      ctx.fillStyle = grid;
      ctx.globalAlpha = isBar ? 1 : 0.45;
      ctx.fillRect(Math.round(L.x(t)) - 0.5, 0, 1, this.height);
    }
    ctx.globalAlpha = 1;

    const colors = trackColors(el, this.notes.tracks);
    const dims = this.notes.tracks.map((t) => !!t.dim);
    const n = this.notes.n;
    const drumRowH = L.drumRows ? L.drumH / L.drumRows : 0;
    for (let i = 0; i < n; i++) {
      const tr = this.notes.track[i];
      const x0 = L.x(this.notes.start[i]);
      const x1 = L.x(this.notes.end[i]);
      const vel = this.notes.velocity[i] / 127;
      ctx.fillStyle = colors[tr] ?? fg;
      ctx.globalAlpha = dims[tr] ? 0.18 : 0.55 + 0.45 * vel;
      if (this.notes.drum[i]) {
        const row = L.drumRows - 1 - drumClass(this.notes.pitch[i]);
        const y = drumTop + row * drumRowH;
        const w = Math.max(3, Math.min(x1 - x0, drumRowH * 1.2));
        ctx.fillRect(x0, y + 0.5, w, Math.max(1.5, drumRowH - 1));
      } else {
        const y = L.pitchedH - (this.notes.pitch[i] - L.lo + 1) * L.rowH;
        roundRect(ctx, x0, y + 0.5, Math.max(2, x1 - x0 - 1), Math.max(1.5, L.rowH - 1), Math.min(2, L.rowH / 3));
      }
    }
    ctx.globalAlpha = 1;
    if (n === 0) {
      ctx.fillStyle = muted;
      ctx.textAlign = "center";
      ctx.textBaseline = "middle";
      ctx.font = "12px var(--jp-ui-font-family, system-ui, sans-serif)";
      // A decoded sequence without notes is silence; no sequence at all shows the hint.
      const text = this.notes.label ? "Silence: no notes here" : this.emptyText;
      ctx.fillText(text, L.width / 2, this.height / 2);
      ctx.textAlign = "start";
    }
    this.lastLayout = L;
    this.drawCount += 1;
    el.dataset.drawCount = String(this.drawCount);
    el.dataset.drawnNotes = String(n);
    this.drawOverlay();
  }

  drawOverlay() {
    const L = this.lastLayout;
    if (!L) return;
    const ctx = fitCanvas(this.overlay, L.width, this.height);
    ctx.clearRect(0, 0, L.width, this.height);
    if (this.playhead === null || this.playhead === undefined) return;
    const x = Math.round(L.x(Math.min(this.playhead, L.duration)));
    ctx.fillStyle = cssVar(this.el, "--mm-playhead", "#e03131");
    ctx.fillRect(x - 1, 0, 2, this.height);
    this.el.dataset.playhead = this.playhead.toFixed(2);
  }

  destroy() {
    this.disposers.forEach((d) => d());
    this.el.remove();
  }
}

/** FNV-1a over the note columns: lets tests (and us) see whether the drawn notes changed. */
function hashNotes(notes) {
  let hash = 0x811c9dc5;
  const mix = (arr) => {
    const bytes = new Uint8Array(arr.buffer, arr.byteOffset, arr.byteLength);
    for (let i = 0; i < bytes.length; i++) hash = Math.imul(hash ^ bytes[i], 0x01000193) >>> 0;
  };
  [notes.start, notes.end, notes.pitch, notes.velocity, notes.track, notes.drum].forEach(mix);
  return hash.toString(16);
}

function roundRect(ctx, x, y, w, hgt, r) {
  if (r < 0.8 || !ctx.roundRect) {
    ctx.fillRect(x, y, w, hgt);
    return;
  }
  ctx.beginPath();
  ctx.roundRect(x, y, w, hgt, r);
  ctx.fill();
}

/** anywidget view for midime_widgets.PianoRoll: a roll bound to the `sequence` trait. */
export function renderPianoRoll({ model, el }) {
  const roll = new PianoRoll(el, { height: model.get("height") || 170 });
  const update = () => roll.setSequence(model.get("sequence"));
  update();
  model.on("change:sequence", update);
  return () => {
    model.off("change:sequence", update);
    roll.destroy();
  };
}
