// 2-D map of the personalized latent space: input windows (grey), samples (numbered), the current
// point (ring). Clicking a point loads it; clicking elsewhere moves the current point there.
import { h, cssVar, fitCanvas, observeWidth, onThemeChange } from "./util.js";

export class LatentMap {
  constructor(container, { height = 240, onPick = () => {} } = {}) {
    this.height = height;
    this.onPick = onPick;
    this.data = null;
    this.canvas = h("canvas", { title: "Click a point to load it, or anywhere to move there" });
    this.el = h("div", {
      class: "mm-chart mm-map", style: { height: `${height}px` }, dataset: { points: "0" },
    }, this.canvas);
    container.append(this.el);
    this.width = 0;
    this.canvas.addEventListener("click", (e) => this.click(e));
    this.canvas.addEventListener("mousemove", (e) => {
      this.canvas.style.cursor = this.hit(e) ? "pointer" : "crosshair";
    });
    this.disposers = [
      observeWidth(this.el, (w) => { this.width = w; this.draw(); }),
      onThemeChange(() => this.draw()),
    ];
  }

  setData(data) {
    this.data = data && (data.inputs || data.samples) ? data : null;
    this.el.dataset.points = String((this.data?.inputs?.length ?? 0) + (this.data?.samples?.length ?? 0));
    this.draw();
  }

  scale() {
    const d = this.data;
    const pts = [...(d.inputs ?? []), ...(d.samples ?? []).map((s) => [s[0], s[1]])];
    if (d.current) pts.push(d.current);
    let ext = 1;
    for (const [px, py] of pts) ext = Math.max(ext, Math.abs(px), Math.abs(py));
    ext *= 1.12;
    const width = this.width || this.el.clientWidth || 300;
    const size = Math.min(width, this.height) - 12;
    const cx = width / 2;
    const cy = this.height / 2;
    return {
      ext, width,
      x: (v) => cx + (v / ext) * (size / 2),
      y: (v) => cy - (v / ext) * (size / 2),
      inv: (px, py) => [((px - cx) / (size / 2)) * ext, (-(py - cy) / (size / 2)) * ext],
    };
  }

  draw() {
    const width = this.width || this.el.clientWidth || 300;
    const ctx = fitCanvas(this.canvas, width, this.height);
    ctx.clearRect(0, 0, width, this.height);
    const muted = cssVar(this.el, "--mm-fg-muted", "#777");
    const grid = cssVar(this.el, "--mm-grid", "rgba(128,128,128,.3)");
    const accent = cssVar(this.el, "--mm-accent", "#1976d2");
    const sampleColor = cssVar(this.el, "--mm-track-1", "#ae3ec9");
    ctx.font = "10px var(--jp-ui-font-family, system-ui, sans-serif)";
    if (!this.data) {
      ctx.fillStyle = muted;
      ctx.textAlign = "center";
      ctx.fillText("Train MidiMe to see your space", width / 2, this.height / 2);
      ctx.textAlign = "start";
      return;
    }
    const S = this.scale();
    this.lastScale = S;
    ctx.fillStyle = grid;
    ctx.fillRect(S.x(-S.ext), Math.round(S.y(0)) - 0.5, S.x(S.ext) - S.x(-S.ext), 1);
    ctx.fillRect(Math.round(S.x(0)) - 0.5, S.y(S.ext), 1, S.y(-S.ext) - S.y(S.ext));
    ctx.fillStyle = muted;
    const [ax, ay] = this.data.axes ?? ["", ""];
    ctx.fillText(ax, S.x(S.ext) - ctx.measureText(ax).width - 2, S.y(0) - 6);
    ctx.fillText(ay, S.x(0) + 5, S.y(S.ext) + 10);
    ctx.globalAlpha = 0.5;
    ctx.fillStyle = muted;
    for (const [px, py] of this.data.inputs ?? []) {
      ctx.beginPath();
      ctx.arc(S.x(px), S.y(py), 3, 0, Math.PI * 2);
      ctx.fill();
    }
    ctx.globalAlpha = 1;
    for (const [px, py, id] of this.data.samples ?? []) {
      ctx.fillStyle = sampleColor;
      ctx.beginPath();
      ctx.arc(S.x(px), S.y(py), 5, 0, Math.PI * 2);
      ctx.fill();
      ctx.fillStyle = muted;
      ctx.fillText(String(id), S.x(px) + 7, S.y(py) + 3);
    }
    if (this.data.current) {
      const [px, py] = this.data.current;
      ctx.strokeStyle = accent;
      ctx.lineWidth = 2;
      ctx.beginPath();
      ctx.arc(S.x(px), S.y(py), 8, 0, Math.PI * 2);
      ctx.stroke();
      ctx.fillStyle = accent;
      ctx.beginPath();
      ctx.arc(S.x(px), S.y(py), 2.5, 0, Math.PI * 2);
      ctx.fill();
    }
  }

  /** The point under the mouse: {kind: "sample", index: id} | {kind: "input", index} | null. */
  hit(event) {
    if (!this.data || !this.lastScale) return null;
    const S = this.lastScale;
    const rect = this.canvas.getBoundingClientRect();
    const mx = event.clientX - rect.left;
    const my = event.clientY - rect.top;
    const near = (px, py, r) => (S.x(px) - mx) ** 2 + (S.y(py) - my) ** 2 <= r * r;
    for (const [px, py, id] of this.data.samples ?? []) if (near(px, py, 8)) return { kind: "sample", index: id };
    const inputs = this.data.inputs ?? [];
    for (let i = 0; i < inputs.length; i++) if (near(inputs[i][0], inputs[i][1], 6)) return { kind: "input", index: i };
    return null;
  }

  click(event) {
    if (!this.data || !this.lastScale) return;
    const target = this.hit(event);
    if (target) {
      this.onPick(target);
      return;
    }
    const rect = this.canvas.getBoundingClientRect();
    const [x, y] = this.lastScale.inv(event.clientX - rect.left, event.clientY - rect.top);
    this.onPick({ kind: "xy", x, y });
  }

  destroy() {
    this.disposers.forEach((d) => d());
    this.el.remove();
  }
}
