// A bank of latent sliders (vertical or horizontal). Sends are rate-limited (~35 ms) so dragging
// updates live without flooding the kernel; a slider being dragged ignores values pushed back.
import { PianoRoll } from "./piano_roll.js";
import { Player } from "./player.js";
import { h, throttle } from "./util.js";

export class SliderBank {
  /**
   * @param {HTMLElement} container
   * @param {{min?: number, max?: number, step?: number, orientation?: string, big?: boolean,
   *          rateMs?: number, onInput: (values: number[], index: number) => void}} options
   */
  constructor(container, { min = -3, max = 3, step = 0.05, orientation = "vertical", big = false,
    rateMs = 35, onInput = () => {} } = {}) {
    Object.assign(this, { min, max, step, orientation });
    this.values = [];
    this.labels = [];
    this.inputs = [];
    this.readouts = [];
    this.active = -1;
    this.send = throttle((values, index) => onInput(values, index), rateMs);
    this.el = h("div", {
      class: `mm-sliders mm-${orientation}${big ? " mm-sliders-big" : ""}`,
      role: "group",
    });
    container.append(this.el);
    this.el.addEventListener("pointerup", () => { this.active = -1; this.send.flush(); });
  }

  /** Show `values` (rebuilding the sliders when their number or labels change). */
  setValues(values, labels = null) {
    labels = labels ?? values.map((_, i) => `${i + 1}`);
    if (labels.length !== this.labels.length || labels.some((l, i) => l !== this.labels[i])) {
      this.build(labels);
    }
    this.values = values.map(Number);
    values.forEach((v, i) => {
      if (i === this.active) return; // don't yank a slider out of the user's hand
      this.inputs[i].value = String(v);
      this.readouts[i].textContent = formatValue(v);
    });
  }

  build(labels) {
    this.el.replaceChildren();
    this.labels = labels.slice();
    this.inputs = [];
    this.readouts = [];
    labels.forEach((label, i) => {
      const input = h("input", {
        type: "range", min: this.min, max: this.max, step: this.step, value: 0,
        "aria-label": `latent ${label}`, "data-index": i,
      });
      const readout = h("span", { class: "mm-slider-value" }, "0");
      input.addEventListener("pointerdown", () => { this.active = i; });
      input.addEventListener("input", () => {
        const v = Number(input.value);
        this.values[i] = v;
        readout.textContent = formatValue(v);
        this.send(this.values.slice(), i);
      });
      input.addEventListener("change", () => this.send.flush());
      this.inputs.push(input);
      this.readouts.push(readout);
      const labelEl = h("span", { class: "mm-slider-label", title: label }, label);
      this.el.append(h("div", { class: "mm-slider" },
        this.orientation === "vertical" ? [readout, input, labelEl] : [labelEl, input, readout]));
    });
  }

  destroy() {
    this.send.cancel();
    this.el.remove();
  }
}

function formatValue(v) {
  const s = Number(v).toFixed(2);
  return s === "-0.00" ? "0.00" : s;
}

/** anywidget view for midime_widgets.LatentSliders: sliders, a piano roll and a player. */
export function renderSliders({ model, el }) {
  const wrap = h("div", { class: "mm-card mm-col mm-latent-sliders" });
  el.append(wrap);
  const bank = new SliderBank(wrap, {
    min: model.get("min"), max: model.get("max"), step: model.get("step"),
    orientation: model.get("orientation"),
    onInput: (values) => {
      model.set("values", values);
      model.save_changes();
    },
  });
  const bar = h("div", { class: "mm-row" });
  wrap.append(bar);
  const roll = new PianoRoll(wrap, { height: model.get("height") || 150 });
  const player = new Player(bar, { roll });
  const error = h("div", { class: "mm-error" });
  wrap.append(error);
  const update = () => bank.setValues(model.get("values"), model.get("labels"));
  const updateSeq = () => {
    roll.setSequence(model.get("sequence"));
    player.setSequence(model.get("sequence"));
  };
  const updateError = () => { error.textContent = model.get("error") || ""; };
  update();
  updateSeq();
  updateError();
  model.on("change:values", update);
  model.on("change:labels", update);
  model.on("change:sequence", updateSeq);
  model.on("change:error", updateError);
  return () => {
    model.off("change:values", update);
    model.off("change:labels", update);
    model.off("change:sequence", updateSeq);
    model.off("change:error", updateError);
    bank.destroy();
    player.destroy();
    roll.destroy();
    wrap.remove();
  };
}
