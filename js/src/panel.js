// The MidiMe panel: composes the views (piano rolls, players, sliders, charts, map) for
// midime_widgets.MidiMePanel. State comes from traits; actions go to Python as custom messages;
// files (uploads, downloads) travel as binary buffers. One function per section.
import { LatentChart } from "./latent_chart.js";
import { LatentMap } from "./latent_map.js";
import { PianoRoll } from "./piano_roll.js";
import { Player } from "./player.js";
import { SliderBank } from "./sliders.js";
import { TrainingChart } from "./training_chart.js";
import { downloadBytes, h } from "./util.js";

const MIB = 1024 * 1024;

/**
 * The traits of MidiMePanel this view reads (Python: midime_widgets/widgets/panel.py).
 * @typedef {object} PanelTraits
 * @property {{name: string, kind: string, z_size: number, bars: number, device: string}} model_info
 * @property {{name: string, description: string}[]} examples  bundled songs
 * @property {FileInfo[]} files  the songs, in the order they were added
 * @property {number} selected_file  index into `files` shown in the input roll
 * @property {object} input_roll  note buffer of the selected song (serialization.sequence_to_wire)
 * @property {number} n_windows  windows of all songs together
 * @property {number} max_upload_bytes  the MIDI size limit (bytes)
 * @property {string} loading  what is being loaded, or ""
 * @property {string} error  one sentence, or ""
 * @property {string} status  one sentence, or ""
 * @property {number[]} vae_dims  MusicVAE features on the sliders (most varied in the music first)
 * @property {number[]} vae_values  their values at the shown point
 * @property {{mean?: number[], std?: number[], values?: number[], ranking?: string}} vae_stats
 * @property {object} vae_roll  note buffer of the MusicVAE point
 * @property {string} vae_label
 * @property {number} vae_window  input window shown (-1: another point)
 * @property {number} temperature  decoding temperature of every sample
 * @property {number} latent_size  MidiMe's number of style features
 * @property {number} beta  MidiMe's KL weight
 * @property {{state: string, epoch: number, total: number, elapsed: number, device: string,
 *             message: string, losses: object|null, updates: number}} training
 * @property {boolean} has_midime  a trained (or loaded) MidiMe exists
 * @property {boolean} midime_current  … and it was trained on the music listed now
 * @property {number[]} midime_values  the MidiMe point on the sliders
 * @property {object} midime_roll  note buffer of that point
 * @property {string} midime_label
 * @property {{id: number, label: string, roll: object, novelty: object}[]} gallery
 * @property {number} current_sample  gallery id on the sliders (-1: none)
 * @property {object} latent_map  {axes, inputs, samples, current, current_sample}
 * @property {{samples: number, copied: number, varied: number, silent: number,
 *             mean_nearest_similarity: number|null, mean_pitch_class_distance: number|null}} novelty_summary
 * @property {string} save_path  folder (under the kernel's working folder) to save in
 */

/**
 * One song in the list.
 * @typedef {object} FileInfo
 * @property {string} name
 * @property {number} n_notes
 * @property {number} n_windows
 * @property {number|null} instrument  the melody instrument (melody models)
 * @property {string} reason  why that instrument
 * @property {{instrument: number, name: string, n_notes: number}[]} candidates
 * @property {string[]} warnings
 */

/** Replace el's children, skipping null/false ones (replaceChildren would write "null"). */
function fill(el, ...children) {
  el.replaceChildren(...children.filter((c) => c !== null && c !== undefined && c !== false));
}

/** Call fn now and whenever any of the traits changes; returns a disposer. */
function bind(model, names, fn) {
  const handler = () => fn();
  for (const name of names) model.on(`change:${name}`, handler);
  fn();
  return () => names.forEach((name) => model.off(`change:${name}`, handler));
}

/** A numbered card with a title, a hint and a "what is this?" a teacher can open. */
function section(cls, step, title, hint, explain) {
  const head = h("div", { class: "mm-section-head" },
    h("span", { class: "mm-step" }, String(step)),
    h("h3", { class: "mm-title" }, title),
    hint ? h("span", { class: "mm-hint" }, hint) : null);
  const about = h("details", { class: "mm-about" }, h("summary", {}, "What is this?"),
    h("div", { class: "mm-small" }, explain));
  return h("div", { class: `mm-card mm-section ${cls}` }, head, about);
}

/** A number field two-way bound to an Int/Float trait. */
function numberField(ctx, name, label, { min, max, step, width, title } = {}) {
  const { model } = ctx;
  const input = h("input", { type: "number", min, max, step, name, style: width ? { width } : undefined });
  const push = () => {
    const v = Number(input.value);
    if (input.value === "" || !Number.isFinite(v)) return;
    model.set(name, step && step < 1 ? v : Math.round(v));
    model.save_changes();
  };
  input.addEventListener("change", push);
  input.addEventListener("input", push);
  ctx.bind([name], () => {
    if (document.activeElement !== input) input.value = String(model.get(name));
  });
  return h("label", { class: "mm-field", title }, label, input);
}

function headerSection(ctx) {
  const { model } = ctx;
  const chips = h("div", { class: "mm-row" });
  ctx.bind(["model_info"], () => {
    const info = model.get("model_info") || {};
    fill(chips,
      h("span", { class: "mm-chip", title: "the MusicVAE model" }, h("b", {}, info.name ?? "model")),
      h("span", { class: "mm-chip" }, info.kind ?? ""),
      info.bars ? h("span", { class: "mm-chip", title: "the model reads the music in short excerpts this long (windows)" },
        `${info.bars}-bar excerpts`) : null,
      h("span", { class: "mm-chip", title: "how many numbers (features) describe one excerpt" },
        `${info.z_size ?? "?"} features (z)`),
      h("span", { class: "mm-chip mm-device", title: "where the models run" }, info.device ?? ""),
    );
  });
  const errorBox = h("div", { class: "mm-error", role: "alert" });
  const errorRow = h("div", { class: "mm-row mm-error-row" }, h("div", { class: "mm-grow" }, errorBox),
    h("button", { class: "mm-btn mm-link", type: "button", title: "Dismiss", onclick: () => ctx.send("clear_error") }, "✕"));
  ctx.showError = (msg) => {
    errorBox.textContent = msg;
    errorRow.style.display = msg ? "" : "none";
    ctx.el.dataset.error = msg;
  };
  ctx.bind(["error"], () => ctx.showError(model.get("error") || ""));
  const statusLine = h("div", { class: "mm-status mm-small" });
  ctx.bind(["status"], () => { statusLine.textContent = model.get("status") || ""; });
  return [h("div", { class: "mm-header" }, h("span", { class: "mm-logo" }, "Midi", h("span", {}, "Me")), chips),
    errorRow, statusLine];
}

function uploadControls(ctx) {
  const { model, el } = ctx;
  const fileInput = h("input", { type: "file", multiple: true, accept: ".mid,.midi,.kar,.rmi,audio/midi,audio/x-midi",
    style: { display: "none" }, class: "mm-file-input" });
  const exampleSelect = h("select", { class: "mm-example-select", "aria-label": "example song" });
  const drop = h("div", { class: "mm-drop" },
    h("button", { class: "mm-btn mm-primary", type: "button", onclick: () => fileInput.click() }, "Add MIDI files…"),
    h("span", { class: "mm-muted" }, "or drop them here · or add an example"), exampleSelect,
    h("button", { class: "mm-btn mm-add-example", type: "button",
      onclick: () => exampleSelect.value && ctx.send("example", { name: exampleSelect.value }) }, "Add example"),
    fileInput);
  ctx.bind(["examples"], () => {
    exampleSelect.replaceChildren(...(model.get("examples") || []).map((e) =>
      h("option", { value: e.name, title: e.description }, e.description)));
  });
  const upload = async (files) => {
    const list = Array.from(files || []);
    const limit = model.get("max_upload_bytes");
    const tooBig = list.filter((f) => f.size > limit);
    if (tooBig.length) {
      ctx.showError(tooBig.map((f) => `${f.name} is ${(f.size / MIB).toFixed(1)} MB, larger than the ` +
        `${+(limit / MIB).toFixed(1)} MB limit for a MIDI file, so it was not loaded.`).join(" "));
    }
    const ok = list.filter((f) => f.size <= limit);
    if (!ok.length) return;
    const buffers = await Promise.all(ok.map((f) => f.arrayBuffer()));
    el.dataset.uploads = String(Number(el.dataset.uploads || 0) + 1);
    ctx.send("upload", { names: ok.map((f) => f.name) }, buffers);
  };
  fileInput.addEventListener("change", () => { upload(fileInput.files); fileInput.value = ""; });
  const over = (e) => { e.preventDefault(); e.stopPropagation(); drop.classList.add("mm-dragover"); };
  drop.addEventListener("dragenter", over);
  drop.addEventListener("dragover", over);
  drop.addEventListener("dragleave", () => drop.classList.remove("mm-dragover"));
  drop.addEventListener("drop", (e) => {
    e.preventDefault();
    e.stopPropagation();
    drop.classList.remove("mm-dragover");
    upload(e.dataTransfer?.files);
  });
  return drop;
}

function fileRow(ctx, f, i, selected) {
  const row = h("div", { class: `mm-file${selected ? " mm-selected" : ""}`, dataset: { index: String(i) } },
    h("span", { class: "mm-file-name", title: "Show this song", onclick: () => ctx.send("select_file", { file: i }) }, f.name),
    h("span", { class: "mm-muted" }, `${f.n_notes} notes · ${f.n_windows} excerpts for the model`));
  if (f.candidates?.length > 1) {
    const select = h("select", { class: "mm-melody-select", "aria-label": `melody track of ${f.name}` },
      f.candidates.map((c) => h("option", { value: c.instrument, selected: c.instrument === f.instrument },
        `${c.name} (${c.n_notes} notes)`)));
    select.addEventListener("change", () => ctx.send("choose_melody", { file: i, instrument: Number(select.value) }));
    row.append(h("label", { class: "mm-field" }, "melody:", select));
  }
  row.append(h("span", { class: "mm-spacer" }), h("button", { class: "mm-btn mm-remove-file", type: "button",
    title: `Remove ${f.name}`, onclick: () => ctx.send("remove_file", { file: i }) }, "Remove"));
  const col = h("div", { class: "mm-col", style: { gap: "2px" } }, row);
  if (f.reason) col.append(h("div", { class: "mm-hint mm-reason" }, `Melody: ${f.reason}`));
  for (const w of f.warnings ?? []) col.append(h("div", { class: "mm-hint" }, `⚠ ${w}`));
  return col;
}

function inputSection(ctx) {
  const { model } = ctx;
  const card = section("mm-input-section", 1, "Your music", "Add MIDI files (they stay in this kernel) or examples",
    "MidiMe learns the style of the songs listed here. Each song is cut into short overlapping " +
    "excerpts of a few bars (windows); the model reads one excerpt at a time. For melody models one track is taken " +
    "as the melody; you can choose another. Add several songs to teach a broader style.");
  const fileList = h("div", { class: "mm-files" });
  const loading = h("div", { class: "mm-small mm-loading" });
  ctx.bind(["files", "selected_file"], () => {
    const files = model.get("files") || [];
    const selected = model.get("selected_file");
    fileList.replaceChildren(...files.map((f, i) => fileRow(ctx, f, i, i === selected)));
    fileList.dataset.count = String(files.length);
  });
  ctx.bind(["loading"], () => {
    loading.textContent = model.get("loading") || "";
    ctx.el.dataset.loading = String(!!model.get("loading"));
  });
  const bar = h("div", { class: "mm-row" });
  const rollBox = h("div", { class: "mm-input-roll" });
  const roll = new PianoRoll(rollBox, { height: 170, emptyText: "Your music appears here" });
  const player = new Player(bar, { roll });
  const info = h("span", { class: "mm-muted mm-small" });
  bar.append(info);
  ctx.views.push(roll, player);
  ctx.bind(["input_roll", "n_windows"], () => {
    const wire = model.get("input_roll");
    roll.setSequence(wire);
    player.setSequence(wire);
    const tracks = (wire?.tracks ?? []).map((t) => `${t.name}${t.dim ? "" : " ★"}`).join(", ");
    info.textContent = wire?.n
      ? `${wire.label} · ${(wire.duration ?? 0).toFixed(1)} s · tracks: ${tracks} (★ = what the model reads) · ` +
        `${model.get("n_windows")} excerpts from all songs`
      : "";
  });
  card.append(uploadControls(ctx), loading, fileList, bar, rollBox);
  return card;
}

function vaeSection(ctx) {
  const { model, el } = ctx;
  const card = section("mm-vae-section", 2, "What the MusicVAE hears",
    "Each excerpt of your music becomes a list of numbers (features); move them to change the music",
    "MusicVAE is a model trained on a large collection of music. It describes every short excerpt " +
    "with a list of numbers, its features (the latent code z). Similar excerpts get similar " +
    "numbers. The sliders show the features that vary most in your music; moving one changes the " +
    "excerpt, which the model plays back below. “Random music” picks random features. " +
    "Temperature is how adventurous the playback is: 0 always plays the likeliest notes.");
  const windowLabel = h("span", { class: "mm-small mm-kv" });
  const prevBtn = h("button", { class: "mm-btn", type: "button", title: "Previous excerpt of your music",
    onclick: () => ctx.send("vae_window", { index: Math.max(0, model.get("vae_window") - 1) }) }, "◀");
  const nextBtn = h("button", { class: "mm-btn", type: "button", title: "Next excerpt of your music",
    onclick: () => ctx.send("vae_window", { index: model.get("vae_window") + 1 }) }, "▶");
  const tempValue = h("span", { class: "mm-small mm-kv" });
  const tempSlider = h("input", { type: "range", min: 0, max: 1.5, step: 0.05, "aria-label": "temperature" });
  tempSlider.addEventListener("input", () => {
    tempValue.textContent = Number(tempSlider.value).toFixed(2);
    model.set("temperature", Number(tempSlider.value));
    model.save_changes();
  });
  ctx.bind(["temperature"], () => {
    tempSlider.value = String(model.get("temperature"));
    tempValue.textContent = Number(model.get("temperature")).toFixed(2);
  });
  const bar = h("div", { class: "mm-row" },
    h("span", { class: "mm-small mm-muted" }, "Excerpt of your music"), prevBtn, windowLabel, nextBtn,
    h("span", { class: "mm-spacer" }),
    h("button", { class: "mm-btn mm-vae-sample", type: "button", title: "Decode random features (a sample of the prior)",
      onclick: () => ctx.send("vae_sample") }, "Random music"),
    h("label", { class: "mm-field mm-small", title: "0 = likeliest notes; higher = more surprising" },
      "temperature", tempSlider, tempValue));
  const chartHint = h("div", { class: "mm-hint" });
  const chart = new LatentChart(h("div"), { height: 100 });
  const sliders = new SliderBank(h("div"), {
    min: -3, max: 3, step: 0.05, orientation: "horizontal",
    onInput: (values) => {
      el.dataset.vaeSent = String(Number(el.dataset.vaeSent || 0) + 1);
      model.set("vae_values", values);
      model.save_changes();
    },
  });
  const rollBox = h("div", { class: "mm-vae-roll" });
  const roll = new PianoRoll(rollBox, { height: 130, emptyText: "Add music or press Random music" });
  const playBar = h("div", { class: "mm-row" });
  const player = new Player(playBar, { roll });
  const label = h("span", { class: "mm-small mm-muted" });
  playBar.append(label, h("span", { class: "mm-spacer" }),
    h("button", { class: "mm-btn", type: "button", onclick: () => ctx.send("download", { what: "vae", format: "mid" }) }, "⬇ MIDI"));
  ctx.views.push(chart, sliders, roll, player);
  sliders.el.classList.add("mm-vae-sliders");
  card.append(bar, chartHint, chart.el, sliders.el, playBar, rollBox);
  ctx.bind(["vae_values", "vae_dims", "vae_stats"], () => {
    const dims = model.get("vae_dims") || [];
    const values = model.get("vae_values") || [];
    const stats = model.get("vae_stats") || {};
    const labels = dims.map((d) => `feature ${d} (z${d})`);
    sliders.setValues(values, labels);
    chart.setData({ values: stats.values ?? values, mean: stats.mean ?? [], std: stats.std ?? [], labels: dims.map((d) => `z${d}`) });
    chartHint.textContent = dims.length
      ? `The ${dims.length} of ${model.get("model_info")?.z_size ?? "?"} features that vary most in your music. ` +
        "Bars: this excerpt; grey: your music's average ± spread."
      : "The features appear once music is added or random music is made.";
  });
  ctx.bind(["vae_roll", "vae_label", "vae_window", "n_windows"], () => {
    roll.setSequence(model.get("vae_roll"));
    player.setSequence(model.get("vae_roll"));
    label.textContent = model.get("vae_label") || "";
    const w = model.get("vae_window");
    const n = model.get("n_windows");
    windowLabel.textContent = w >= 0 ? `${w + 1} / ${n}` : `– / ${n}`;
    prevBtn.disabled = !n || w <= 0;
    nextBtn.disabled = !n || w >= n - 1;
  });
  return card;
}

function trainSection(ctx) {
  const { model, el } = ctx;
  const card = section("mm-train-section", 3, "Train MidiMe",
    "A small model learns where your music lives among the MusicVAE's features",
    "MidiMe is a small model (a VAE) that learns the region of the MusicVAE's features your " +
    "excerpts occupy, so that everything it makes sounds like your music. It trains until the " +
    "error stops improving (it has converged), or until you press Stop; the weights so far are " +
    "kept. The chart shows its error: total = rebuilding your excerpts (how far it is from them) " +
    "+ tidiness of its space (the KL term). “Style features” (latent size) is how many sliders your space " +
    "gets; “variety” (beta) trades closeness to your excerpts for tidier, more varied samples.");
  const trainBtn = h("button", { class: "mm-btn mm-primary mm-train", type: "button", onclick: () => ctx.send("train") }, "Train");
  const stopBtn = h("button", { class: "mm-btn mm-danger mm-stop", type: "button", onclick: () => ctx.send("stop") }, "■ Stop");
  const stale = h("div", { class: "mm-stale mm-small", role: "status" });
  const chart = new TrainingChart(h("div"), { height: 140 });
  ctx.views.push(chart);
  card.append(h("div", { class: "mm-row" },
    numberField(ctx, "latent_size", "Style features (latent size)", { min: 1, max: 64, step: 1, width: "60px",
      title: "How many sliders your personalized space gets" }),
    numberField(ctx, "beta", "Variety (beta)", { min: 0, step: 0.1, width: "64px",
      title: "Higher: tidier, more varied samples; lower: closer to your excerpts" }),
    trainBtn, stopBtn), stale, chart.el);
  ctx.bind(["training", "has_midime", "midime_current"], () => {
    const status = model.get("training") || {};
    chart.setStatus(status);
    const running = status.state === "running";
    const outdated = model.get("has_midime") && !model.get("midime_current");
    trainBtn.disabled = running;
    stopBtn.disabled = !running;
    trainBtn.textContent = running ? "Training…" : outdated ? "Train again on this music"
      : model.get("has_midime") ? "Train again" : "Train";
    stale.textContent = outdated && !running
      ? "Your music has changed since MidiMe was trained: it still plays the style of the earlier music. Train again to match the songs listed above."
      : "";
    el.dataset.training = status.state;
  });
  ctx.onLoss = (msg, buffers) => chart.onLossMessage(msg, buffers);
  return card;
}

function galleryCard(ctx, item) {
  const nov = item.novelty || {};
  const copied = !!nov.copied;
  const badge = h("span", { class: `mm-badge ${copied ? "mm-copied" : "mm-varied"}`,
    title: copied ? "the same notes as one excerpt of your music (memorized)" : "not an exact copy of any excerpt of your music" },
  copied ? `copy of excerpt ${(nov.copied_window ?? 0) + 1}` : nov.verdict ?? "new");
  const rollBox = h("div");
  const roll = new PianoRoll(rollBox, { height: 64, compact: true });
  roll.setSequence(item.roll);
  const bar = h("div", { class: "mm-row" });
  const player = new Player(bar, { roll, compact: true, label: "" });
  player.setSequence(item.roll);
  bar.append(
    h("button", { class: "mm-btn", type: "button", title: "Put on the sliders", onclick: () => ctx.send("select_sample", { id: item.id }) }, "Load"),
    h("button", { class: "mm-btn mm-download-sample", type: "button", title: "Download MIDI",
      onclick: () => ctx.send("download", { what: "sample", id: item.id, format: "mid" }) }, "MIDI"),
    h("button", { class: "mm-btn", type: "button", title: "Download WAV",
      onclick: () => ctx.send("download", { what: "sample", id: item.id, format: "wav" }) }, "WAV"));
  const similarity = nov.nearest_similarity;
  const el = h("div", { class: "mm-sample", dataset: { id: String(item.id) } },
    h("div", { class: "mm-row" }, h("b", { class: "mm-small" }, item.label), badge, h("span", { class: "mm-spacer" }),
      similarity != null ? h("span", { class: "mm-small mm-muted mm-similarity",
        title: `Share of 16th-note steps with the same notes as the most similar excerpt of your music (excerpt ${(nov.nearest_window ?? 0) + 1}): 100% = an exact copy` },
      `${Math.round(similarity * 100)}% like its nearest excerpt`) : null),
    rollBox, bar);
  return { el, destroy: () => { player.destroy(); roll.destroy(); } };
}

function spaceSection(ctx) {
  const { model, el } = ctx;
  const card = section("mm-space-section", 4, "Your personalized space",
    "Every point plays music in the style MidiMe learned; each slider is one style feature",
    "After training, every setting of these sliders is a point in MidiMe's small space, and " +
    "every point decodes (through the MusicVAE) to an excerpt in the learned style. “New sample” " +
    "picks a random point. The map shows the space flattened to two directions (PC 1 and PC 2, " +
    "its principal components): grey dots are your excerpts, numbers are samples, the ring is the " +
    "current point; click anywhere to hear it. Each sample says whether it copies one of your " +
    "excerpts exactly (memorized) or is new, and how much of it is like its nearest excerpt (100% = a copy).");
  const title = card.querySelector(".mm-title");
  const sliders = new SliderBank(h("div"), {
    min: -3, max: 3, step: 0.05, big: true,
    onInput: (values) => {
      el.dataset.midimeSent = String(Number(el.dataset.midimeSent || 0) + 1);
      model.set("midime_values", values);
      model.save_changes();
    },
  });
  const rollBox = h("div", { class: "mm-midime-roll" });
  const roll = new PianoRoll(rollBox, { height: 140, emptyText: "Train MidiMe first" });
  const bar = h("div", { class: "mm-row" });
  const player = new Player(bar, { roll });
  const label = h("span", { class: "mm-small mm-muted" });
  bar.append(h("button", { class: "mm-btn mm-primary mm-new-sample", type: "button", onclick: () => ctx.send("midime_sample") }, "+ New sample"),
    h("span", { class: "mm-spacer" }),
    h("button", { class: "mm-btn mm-download-current", type: "button", onclick: () => ctx.send("download", { what: "midime", format: "mid" }) }, "⬇ MIDI"),
    h("button", { class: "mm-btn", type: "button", onclick: () => ctx.send("download", { what: "midime", format: "wav" }) }, "⬇ WAV"));
  const map = new LatentMap(h("div"), { height: 250, onPick: (target) => ctx.send("pick", target) });
  ctx.views.push(sliders, roll, player, map);
  card.append(h("div", { class: "mm-split-wide" },
    h("div", { class: "mm-col" }, sliders.el, bar, label, rollBox),
    h("div", { class: "mm-col" }, map.el,
      h("div", { class: "mm-hint" }, "Grey: your excerpts · numbers: samples · ring: the current point. Click to hear a point."))));
  ctx.bind(["midime_values"], () => {
    const values = model.get("midime_values") || [];
    sliders.setValues(values, values.map((_, i) => `style ${i + 1}`));
  });
  ctx.bind(["midime_roll", "midime_label"], () => {
    roll.setSequence(model.get("midime_roll"));
    player.setSequence(model.get("midime_roll"));
    label.textContent = model.get("midime_label") || "";
  });
  ctx.bind(["latent_map"], () => map.setData(model.get("latent_map")));
  ctx.bind(["has_midime", "midime_current"], () => {
    title.textContent = model.get("has_midime") && !model.get("midime_current")
      ? "Your personalized space (learned from earlier music)" : "Your personalized space";
  });

  const galleryHead = h("div", { class: "mm-row" });
  const gallery = h("div", { class: "mm-gallery" });
  const cards = new Map();
  card.append(galleryHead, gallery);
  ctx.bind(["novelty_summary", "gallery"], () => {
    const s = model.get("novelty_summary") || {};
    const n = s.samples || 0;
    const similarity = s.mean_nearest_similarity;
    fill(galleryHead,
      h("b", {}, n ? `Samples (${n})` : "Samples"),
      n ? h("span", { class: "mm-small mm-muted mm-novelty-summary" },
        `${s.varied} new, ${s.copied} copied from your music` + (s.silent ? `, ${s.silent} silent` : "") +
        (similarity != null ? ` · ${Math.round(similarity * 100)}% like their nearest excerpt on average` : "")) : null,
      h("span", { class: "mm-spacer" }),
      h("button", { class: "mm-btn mm-download-all", type: "button", disabled: !n,
        onclick: () => ctx.send("download", { what: "all" }) }, "⬇ All samples (.zip)"));
  });
  ctx.bind(["gallery", "current_sample"], () => {
    const items = model.get("gallery") || [];
    const keep = new Set(items.map((it) => it.id));
    for (const [id, c] of cards) {
      if (!keep.has(id)) { c.destroy(); c.el.remove(); cards.delete(id); }
    }
    for (const item of items) if (!cards.has(item.id)) cards.set(item.id, galleryCard(ctx, item));
    gallery.replaceChildren(...items.map((it) => cards.get(it.id).el));
    const current = model.get("current_sample");
    for (const [id, c] of cards) c.el.classList.toggle("mm-current", id === current);
    gallery.dataset.count = String(items.length);
  });
  ctx.disposers.push(() => { for (const c of cards.values()) c.destroy(); });
  return card;
}

function exportSection(ctx) {
  const { model } = ctx;
  const card = section("mm-export-section", 5, "Keep it",
    "Save the trained MidiMe in a folder next to this notebook, or download it",
    "Save writes the trained MidiMe into a folder inside the notebook's folder (type a name " +
    "such as my_midime); Load reads one back, if it was trained on this same MusicVAE. The " +
    "download buttons give the same files as a .zip.");
  const pathInput = h("input", { type: "text", class: "mm-save-path", "aria-label": "folder name", style: { width: "200px" } });
  pathInput.addEventListener("change", () => { model.set("save_path", pathInput.value); model.save_changes(); });
  ctx.bind(["save_path"], () => { pathInput.value = model.get("save_path"); });
  card.append(h("div", { class: "mm-row" },
    h("label", { class: "mm-field" }, "Folder", pathInput),
    h("button", { class: "mm-btn mm-save", type: "button", onclick: () => ctx.send("save_model", { path: pathInput.value }) }, "Save"),
    h("button", { class: "mm-btn mm-load", type: "button", onclick: () => ctx.send("load_model", { path: pathInput.value }) }, "Load"),
    h("button", { class: "mm-btn mm-download-model", type: "button", onclick: () => ctx.send("download", { what: "model" }) }, "⬇ MidiMe (.zip)")));
  return card;
}

/** anywidget view for midime_widgets.MidiMePanel. */
export function renderPanel({ model, el }) {
  const disposers = [];
  /** Shared by the sections: the model, the root element, and what to clean up. */
  const ctx = {
    model, el, disposers, views: [],
    send: (type, payload = {}, buffers = undefined) => model.send({ type, ...payload }, undefined, buffers),
    bind: (names, fn) => disposers.push(bind(model, names, fn)),
    showError: () => {},
    onLoss: () => {},
  };
  el.classList.add("mm-panel");
  const header = headerSection(ctx);
  const input = inputSection(ctx);
  const vae = vaeSection(ctx);
  const train = trainSection(ctx);
  const space = spaceSection(ctx);
  const keep = exportSection(ctx);
  ctx.bind(["n_windows", "has_midime", "training"], () => {
    const running = model.get("training")?.state === "running";
    const hasMidime = model.get("has_midime") && !running;
    train.classList.toggle("mm-locked", model.get("n_windows") === 0);
    space.classList.toggle("mm-locked", !hasMidime);
    keep.classList.toggle("mm-locked", !hasMidime);
    el.dataset.hasMidime = String(!!model.get("has_midime"));
  });
  const onMsg = (msg, buffers) => {
    if (msg?.type === "loss") ctx.onLoss(msg, buffers);
    else if (msg?.type === "download") {
      downloadBytes(buffers?.[0], msg.filename, msg.mime);
      el.dataset.downloads = String(Number(el.dataset.downloads || 0) + 1);
    }
  };
  model.on("msg:custom", onMsg);
  el.append(...header, input, vae, train, space, keep);
  ctx.send("ready");
  return () => {
    model.off("msg:custom", onMsg);
    disposers.forEach((d) => d());
    ctx.views.forEach((v) => v.destroy());
    el.replaceChildren();
  };
}
