// "Latent features": the current value of the most informative latent dims as bars, with the
// input's spread (mean ± std over its windows) as whiskers.
import { h, cssVar, fitCanvas, observeWidth, onThemeChange } from "./util.js";

export class LatentChart {
  constructor(container, { height = 110, range = 3 } = {}) {
    this.height = height;
    this.range = range;
    this.data = { values: [], mean: [], std: [], labels: [] };
    this.canvas = h("canvas");
    this.el = h("div", { class: "mm-chart mm-latent-chart", style: { height: `${height}px` } }, this.canvas);
    container.append(this.el);
    this.width = 0;
    this.disposers = [
      observeWidth(this.el, (w) => { this.width = w; this.draw(); }),
      onThemeChange(() => this.draw()),
    ];
  }

  setData({ values = [], mean = [], std = [], labels = [] } = {}) {
    this.data = { values, mean, std, labels };
    this.draw();
  }

  draw() {
    const width = this.width || this.el.clientWidth || 400;
    const ctx = fitCanvas(this.canvas, width, this.height);
    const { values, mean, std, labels } = this.data;
    const accent = cssVar(this.el, "--mm-accent", "#1976d2");
    const muted = cssVar(this.el, "--mm-fg-muted", "#777");
    const grid = cssVar(this.el, "--mm-grid", "rgba(128,128,128,.3)");
    ctx.clearRect(0, 0, width, this.height);
    const left = 24;
    const bottom = 16;
    const plotH = this.height - bottom - 4;
    const zeroY = 4 + plotH / 2;
    const y = (v) => zeroY - (Math.max(-this.range, Math.min(this.range, v)) / this.range) * (plotH / 2);
    ctx.font = "10px var(--jp-ui-font-family, system-ui, sans-serif)";
    ctx.fillStyle = muted;
    ctx.textBaseline = "middle";
    for (const v of [this.range, 0, -this.range]) {
      ctx.fillText(v > 0 ? `+${v}` : `${v}`, 0, y(v));
      ctx.fillStyle = grid;
      ctx.fillRect(left, Math.round(y(v)) - 0.5, width - left, 1);
      ctx.fillStyle = muted;
    }
    const n = values.length;
    if (!n) return;
    const slot = (width - left) / n;
    const barW = Math.max(2, Math.min(22, slot * 0.6));
    ctx.textAlign = "center";
    // Label every `every`-th bar, so that no two labels overlap (the widest one sets the step).
    const widest = Math.max(...Array.from({ length: n }, (_, i) => ctx.measureText(labels[i] ?? String(i)).width));
    const every = Math.max(1, Math.ceil((widest + 6) / slot));
    this.el.dataset.labelEvery = String(every);
    for (let i = 0; i < n; i++) {
      const cx = left + slot * (i + 0.5);
      if (mean.length === n) {
        ctx.fillStyle = muted;
        ctx.globalAlpha = 0.35;
        const top = y(mean[i] + (std[i] ?? 0));
        const bot = y(mean[i] - (std[i] ?? 0));
        ctx.fillRect(cx - barW / 2 - 2, top, barW + 4, Math.max(1, bot - top));
        ctx.globalAlpha = 0.9;
        ctx.fillRect(cx - barW / 2 - 3, Math.round(y(mean[i])) - 0.5, barW + 6, 1.5);
        ctx.globalAlpha = 1;
      }
      ctx.fillStyle = accent;
      const top = Math.min(y(values[i]), zeroY);
      ctx.fillRect(cx - barW / 2, top, barW, Math.max(1, Math.abs(y(values[i]) - zeroY)));
      if (i % every === 0) {
        ctx.fillStyle = muted;
        ctx.fillText(labels[i] ?? String(i), cx, this.height - bottom / 2);
      }
    }
    ctx.textAlign = "start";
  }

  destroy() {
    this.disposers.forEach((d) => d());
    this.el.remove();
  }
}
