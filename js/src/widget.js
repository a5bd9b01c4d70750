// Entry point of the one esbuild bundle. anywidget loads one default export per _esm, so every
// Python widget class sets a `_view` trait and render() dispatches to that view's module.
import "./widget.css";
import { renderPanel } from "./panel.js";
import { renderPianoRoll } from "./piano_roll.js";
import { renderPlayer } from "./player.js";
import { renderSliders } from "./sliders.js";
import { renderTraining } from "./training_chart.js";

const VIEWS = {
  piano_roll: renderPianoRoll,
  player: renderPlayer,
  sliders: renderSliders,
  training: renderTraining,
  panel: renderPanel,
};

function render({ model, el }) {
  const name = model.get("_view");
  const view = VIEWS[name];
  el.classList.add("midime");
  if (!view) {
    el.textContent = `midime-widgets: unknown view "${name}"`;
    return undefined;
  }
  el.dataset.view = name;
  // Keys typed in our sliders and fields are ours, not JupyterLab's notebook shortcuts.
  el.setAttribute("data-lm-suppress-shortcuts", "true");
  const keepKeys = (e) => { if (e.target !== el) e.stopPropagation(); };
  el.addEventListener("keydown", keepKeys);
  return view({ model, el });
}

export default { render };
