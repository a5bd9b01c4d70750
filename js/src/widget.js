// Entry point of the one esbuild bundle. anywidget loads one default export per _esm, so every
// Python widget class sets a `_view` trait and render() dispatches to that view's module.
import "./widget.css";
import { renderPianoRoll } from "./piano_roll.js";
import { renderPlayer } from "./player.js";

const VIEWS = {
  piano_roll: renderPianoRoll,
  player: renderPlayer,
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
  return view({ model, el });
}

export default { render };
