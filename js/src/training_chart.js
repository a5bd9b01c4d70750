// Training progress: a progress bar, a status line, and loss curves (total, reconstruction, KL)
// drawn on a log scale. Fed by small custom-message deltas of float32 rows (epoch, total, recon, kl).
import { h, cssVar, fitCanvas, formatSeconds, observeWidth, onThemeChange, toBytes } from "./util.js";

const SERIES = [
  { key: 1, name: "total", color: "--mm-loss-total", fallback: "#1976d2" },
  { key: 2, name: "rebuilding your excerpts", color: "--mm-loss-recon", fallback: "#f59f00" },
  { key: 3, name: "tidiness (KL)", color: "--mm-loss-kl", fallback: "#ae3ec9" },
];

export class TrainingChart {
  constructor(container, { height = 150 } = {}) {
    this.height = height;
    this.rows = new Float32Array(0);
    this.n = 0;
    this.total = 0;
    this.updates = 0;
    this.progress = h("div", { class: "mm-progress" }, h("div"));
    this.statusEl = h("div", { class: "mm-small mm-muted mm-train-status" });
    this.canvas = h("canvas");
    this.chart = h("div", { class: "mm-chart", style: { height: `${height}px` } }, this.canvas);
    const legend = h("div", { class: "mm-legend" }, SERIES.map((s) =>
      h("span", {}, h("i", { style: { background: `var(${s.color}, ${s.fallback})` } }), s.name)));
    this.el = h("div", {
      class: "mm-training-chart mm-col",
      dataset: { lossPoints: "0", lossUpdates: "0", state: "idle" },
    }, this.progress, this.statusEl, this.chart, legend);
    container.append(this.el);
    this.width = 0;
    this.disposers = [
      observeWidth(this.chart, (w) => { this.width = w; this.draw(); }),
      onThemeChange(() => this.draw()),
    ];
  }

  /** Handle a {type: "loss", reset, n} message with its float32 buffer. */
  onLossMessage(msg, buffers) {
    const bytes = toBytes(buffers?.[0]);
    const incoming = new Float32Array(bytes.buffer, 0, Math.floor(bytes.byteLength / 4));
    if (msg.reset) {
      this.n = 0;
      this.updates = 0;
    } else {
      this.updates += 1;
    }
    const needed = (this.n + msg.n) * 4;
    if (needed > this.rows.length) {
      const grown = new Float32Array(Math.max(needed, this.rows.length * 2, 1024));
      grown.set(this.rows.subarray(0, this.n * 4));
      this.rows = grown;
    }
    this.rows.set(incoming.subarray(0, msg.n * 4), this.n * 4);
    this.n += msg.n;
    this.el.dataset.lossPoints = String(this.n);
    this.el.dataset.lossUpdates = String(this.updates);
    this.draw();
  }

  /** Show the `training` status dict from Python. */
  setStatus(status) {
    if (!status) return;
    this.total = status.total || 0;
    this.running = status.state === "running";
    // Without a fixed number of epochs (train until converged) the bar moves until the end;
    // once training has ended (however early) it is full.
    const open = !this.total && status.state === "running";
    const ended = ["done", "stopped"].includes(status.state);
    const frac = ended ? 1 : this.total ? Math.min(1, (status.epoch || 0) / this.total) : 0;
    this.progress.firstChild.style.width = open ? "" : `${(frac * 100).toFixed(1)}%`;
    this.progress.dataset.fill = open ? "" : frac.toFixed(3);
    this.progress.classList.toggle("mm-indeterminate", open);
    this.progress.classList.toggle("mm-stopped", status.state === "stopped");
    this.progress.classList.toggle("mm-failed", status.state === "error");
    this.el.dataset.state = status.state;
    this.el.dataset.epoch = String(status.epoch || 0);
    this.statusEl.textContent = statusLine(status);
    this.draw();
    this.el.dataset.converged = String(status.state === "done" && /converged/i.test(status.message || ""));
  }

  draw() {
    const width = this.width || this.chart.clientWidth || 400;
    const ctx = fitCanvas(this.canvas, width, this.height);
    ctx.clearRect(0, 0, width, this.height);
    const muted = cssVar(this.el, "--mm-fg-muted", "#777");
    const grid = cssVar(this.el, "--mm-grid", "rgba(128,128,128,.3)");
    ctx.font = "10px var(--jp-ui-font-family, system-ui, sans-serif)";
    const left = 40;
    const top = 8; // room for the top tick's label
    const bottom = 16;
    const plotW = width - left - 6;
    const plotH = this.height - bottom - top;
    if (this.n === 0) {
      ctx.fillStyle = muted;
      ctx.textAlign = "center";
      ctx.fillText("MidiMe's error appears here while it trains", width / 2, this.height / 2);
      ctx.textAlign = "start";
      return;
    }
    const rows = this.rows;
    let lo = Infinity;
    let hi = -Infinity;
    let maxEpoch = 1;
    for (let i = 0; i < this.n; i++) {
      maxEpoch = Math.max(maxEpoch, rows[i * 4]);
      for (const s of SERIES) {
        const v = rows[i * 4 + s.key];
        if (v > 0 && Number.isFinite(v)) { lo = Math.min(lo, v); hi = Math.max(hi, v); }
      }
    }
    if (!Number.isFinite(lo)) { lo = 1e-3; hi = 1; }
    const l1 = Math.ceil(Math.log10(hi));
    // At most 4 decades: a vanishing KL term must not squash the curves that matter.
    const l0 = Math.min(l1 - 1, Math.max(Math.floor(Math.log10(lo)), l1 - 4));
    // While running the axis spans the planned epochs; afterwards, the epochs that ran.
    const xMax = Math.max(maxEpoch, this.running ? this.total || 0 : 0);
    const x = (e) => left + (e / xMax) * plotW;
    const y = (v) => top + plotH - ((Math.log10(Math.max(v, 10 ** l0)) - l0) / (l1 - l0)) * plotH;
    ctx.textBaseline = "middle";
    for (let p = l0; p <= l1; p++) {
      ctx.fillStyle = grid;
      ctx.fillRect(left, Math.round(y(10 ** p)) - 0.5, plotW, 1);
      ctx.fillStyle = muted;
      ctx.fillText(p >= -2 && p <= 3 ? String(10 ** p) : `1e${p}`, 2, y(10 ** p));
    }
    ctx.textAlign = "right";
    ctx.fillText(`pass ${Math.round(xMax)}`, width - 4, this.height - bottom / 2);
    ctx.textAlign = "start";
    const stride = Math.max(1, Math.floor(this.n / (plotW * 2)));
    for (const s of SERIES) {
      ctx.strokeStyle = cssVar(this.el, s.color, s.fallback);
      ctx.lineWidth = s.key === 1 ? 2 : 1.25;
      ctx.beginPath();
      let started = false;
      for (let i = 0; i < this.n; i += stride) {
        const v = rows[i * 4 + s.key];
        if (!(v > 0) || !Number.isFinite(v)) continue;
        const px = x(rows[i * 4]);
        const py = y(v);
        if (started) ctx.lineTo(px, py);
        else { ctx.moveTo(px, py); started = true; }
      }
      ctx.stroke();
    }
  }

  destroy() {
    this.disposers.forEach((d) => d());
    this.el.remove();
  }
}

/** anywidget view for midime_widgets.TrainingMonitor. */
export function renderTraining({ model, el }) {
  const wrap = h("div", { class: "mm-card mm-col" }, h("h3", { class: "mm-title" }, model.get("title")));
  el.append(wrap);
  const chart = new TrainingChart(wrap);
  const onMsg = (msg, buffers) => { if (msg?.type === "loss") chart.onLossMessage(msg, buffers); };
  const onStatus = () => chart.setStatus(model.get("training"));
  model.on("msg:custom", onMsg);
  model.on("change:training", onStatus);
  onStatus();
  model.send({ type: "ready" });
  return () => {
    model.off("msg:custom", onMsg);
    model.off("change:training", onStatus);
    chart.destroy();
    wrap.remove();
  };
}

const STATE_WORD = { running: "Training…", done: "Done.", stopped: "Stopped.", error: "Failed." };

/** The status line: progress while running; after the end, the run's own sentence (the
 * `message`, which already says how long it trained and why it stopped). */
function statusLine(status) {
  if (status.state === "idle") return `Not trained yet · ${status.device || ""}`;
  const word = STATE_WORD[status.state] ?? "";
  if (status.state === "done" || status.state === "stopped") return [word, status.message].filter(Boolean).join(" ");
  const parts = [word];
  // An epoch is one pass over the excerpts (windows) of your music.
  if (status.total) parts.push(`pass ${status.epoch} of up to ${status.total}`);
  else if (status.epoch) parts.push(`pass ${status.epoch}`);
  parts.push(formatSeconds(status.elapsed));
  if (status.losses?.total != null) parts.push(`error ${status.losses.total.toPrecision(4)}`);
  if (status.device) parts.push(status.device);
  const text = parts.filter(Boolean).join(" · ");
  return status.message ? `${text} — ${status.message}` : text;
}
