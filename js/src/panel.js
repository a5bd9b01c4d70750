// The MidiMe panel: composes the views (piano rolls, players, sliders, charts, map) for
// midime_widgets.MidiMePanel. State comes from traits; actions go to Python as custom messages;
// files (uploads, downloads) travel as binary buffers.
import { LatentChart } from "./latent_chart.js";
import { LatentMap } from "./latent_map.js";
import { PianoRoll } from "./piano_roll.js";
import { Player } from "./player.js";
import { SliderBank } from "./sliders.js";
import { TrainingChart } from "./training_chart.js";
import { downloadBytes, h } from "./util.js";

/** Call fn now and whenever any of the traits changes; returns a disposer. */
function bind(model, names, fn) {
  const handler = () => fn();
  for (const name of names) model.on(`change:${name}`, handler);
  fn();
  return () => names.forEach((name) => model.off(`change:${name}`, handler));
}

function section(cls, step, title, hint) {
  const head = h("div", { class: "mm-section-head" },
    h("span", { class: "mm-step" }, String(step)),
    h("h3", { class: "mm-title" }, title),
    hint ? h("span", { class: "mm-hint" }, hint) : null);
  const body = h("div", { class: `mm-card mm-section ${cls}` }, head);
  return body;
}

/** A number field two-way bound to an Int/Float trait. */
function numberField(model, name, label, { min, max, step, width } = {}, disposers) {
  const input = h("input", { type: "number", min, max, step, name, style: width ? { width } : undefined });
  const push = () => {
    const v = Number(input.value);
    if (input.value === "" || !Number.isFinite(v)) return;
    model.set(name, step && step < 1 ? v : Math.round(v));
    model.save_changes();
  };
  input.addEventListener("change", push);
  input.addEventListener("input", push);
  disposers.push(bind(model, [name], () => {
    if (document.activeElement !== input) input.value = String(model.get(name));
  }));
  return h("label", { class: "mm-field" }, label, input);
}

export function renderPanel({ model, el }) {
  const disposers = [];
  const views = [];
  const send = (type, payload = {}, buffers = undefined) => model.send({ type, ...payload }, undefined, buffers);
  el.classList.add("mm-panel");

  // ---- header -------------------------------------------------------------------------------
  const chips = h("div", { class: "mm-row" });
  const header = h("div", { class: "mm-header" },
    h("span", { class: "mm-logo" }, "Midi", h("span", {}, "Me")), chips);
  disposers.push(bind(model, ["model_info"], () => {
    const info = model.get("model_info") || {};
    chips.replaceChildren(
      h("span", { class: "mm-chip", title: "MusicVAE model" }, h("b", {}, info.name ?? "model")),
      h("span", { class: "mm-chip" }, info.kind ?? ""),
      info.bars ? h("span", { class: "mm-chip" }, `${info.bars}-bar windows`) : null,
      h("span", { class: "mm-chip" }, `z = ${info.z_size ?? "?"}`),
      h("span", { class: "mm-chip mm-device", title: "where the models run" }, info.device ?? ""),
    );
  }));

  const errorBox = h("div", { class: "mm-error", role: "alert" });
  const errorWrap = h("div", { class: "mm-row mm-error-row" }, h("div", { class: "mm-grow" }, errorBox));
  const dismiss = h("button", { class: "mm-btn mm-link", type: "button", title: "Dismiss",
    onclick: () => send("clear_error") }, "✕");
  errorWrap.append(dismiss);
  const statusLine = h("div", { class: "mm-status mm-small" });
  disposers.push(bind(model, ["error"], () => {
    const msg = model.get("error") || "";
    errorBox.textContent = msg;
    errorWrap.style.display = msg ? "" : "none";
    el.dataset.error = msg;
  }));
  disposers.push(bind(model, ["status"], () => { statusLine.textContent = model.get("status") || ""; }));

  // ---- 1. input -----------------------------------------------------------------------------
  const input = section("mm-input-section", 1, "Your music",
    "Upload MIDI files (they stay in this kernel) or try an example");
  const fileInput = h("input", { type: "file", multiple: true, accept: ".mid,.midi,.kar,.rmi,audio/midi,audio/x-midi",
    style: { display: "none" }, class: "mm-file-input" });
  const chooseBtn = h("button", { class: "mm-btn mm-primary", type: "button",
    onclick: () => fileInput.click() }, "Choose MIDI files…");
  const exampleSelect = h("select", { class: "mm-example-select", "aria-label": "example" });
  const exampleBtn = h("button", { class: "mm-btn", type: "button",
    onclick: () => exampleSelect.value && send("example", { name: exampleSelect.value }) }, "Load example");
  const drop = h("div", { class: "mm-drop" },
    chooseBtn, h("span", { class: "mm-muted" }, "or drop them here · or try"), exampleSelect, exampleBtn, fileInput);
  disposers.push(bind(model, ["examples"], () => {
    exampleSelect.replaceChildren(...(model.get("examples") || []).map((e) =>
      h("option", { value: e.name, title: e.description }, e.description)));
  }));

  const uploadFiles = async (files) => {
    const list = Array.from(files || []);
    if (!list.length) return;
    const limit = model.get("max_upload_bytes");
    const tooBig = list.filter((f) => f.size > limit);
    if (tooBig.length) {
      errorBox.textContent = `${tooBig.map((f) => f.name).join(", ")}: larger than ${(limit / 1e6).toFixed(0)} MB; not uploaded.`;
      errorWrap.style.display = "";
    }
    const ok = list.filter((f) => f.size <= limit);
    if (!ok.length) return;
    const buffers = await Promise.all(ok.map((f) => f.arrayBuffer()));
    el.dataset.uploads = String(Number(el.dataset.uploads || 0) + 1);
    send("upload", { names: ok.map((f) => f.name) }, buffers);
  };
  fileInput.addEventListener("change", () => {
    uploadFiles(fileInput.files);
    fileInput.value = "";
  });
  for (const type of ["dragenter", "dragover"]) {
    drop.addEventListener(type, (e) => {
      e.preventDefault();
      e.stopPropagation();
      drop.classList.add("mm-dragover");
    });
  }
  drop.addEventListener("dragleave", () => drop.classList.remove("mm-dragover"));
  drop.addEventListener("drop", (e) => {
    e.preventDefault();
    e.stopPropagation();
    drop.classList.remove("mm-dragover");
    uploadFiles(e.dataTransfer?.files);
  });

  const fileList = h("div", { class: "mm-files" });
  const fileRow = (f, i, selected) => {
    const row = h("div", { class: `mm-file${selected ? " mm-selected" : ""}` },
      h("span", { class: "mm-file-name", title: "Show this file", onclick: () => send("select_file", { file: i }) }, f.name),
      h("span", { class: "mm-muted" }, `${f.n_notes} notes · ${f.n_windows} windows`));
    if (f.candidates?.length > 1) {
      const select = h("select", { class: "mm-melody-select", "aria-label": `melody track of ${f.name}` },
        f.candidates.map((c) => h("option", { value: c.instrument, selected: c.instrument === f.instrument },
          `${c.name} (${c.n_notes} notes)`)));
      select.addEventListener("change", () => send("choose_melody", { file: i, instrument: Number(select.value) }));
      row.append(h("label", { class: "mm-field" }, "melody:", select));
    }
    const col = h("div", { class: "mm-col", style: { gap: "2px" } }, row);
    if (f.reason) col.append(h("div", { class: "mm-hint mm-reason" }, `Melody: ${f.reason}`));
    for (const w of f.warnings ?? []) col.append(h("div", { class: "mm-hint" }, `⚠ ${w}`));
    return col;
  };
  disposers.push(bind(model, ["files", "selected_file"], () => {
    const files = model.get("files") || [];
    const selected = model.get("selected_file");
    fileList.replaceChildren(...files.map((f, i) => fileRow(f, i, i === selected)));
  }));

  const inputBar = h("div", { class: "mm-row" });
  const inputRollBox = h("div", { class: "mm-input-roll" });
  const inputRoll = new PianoRoll(inputRollBox, { height: 170, emptyText: "Your music appears here" });
  const inputPlayer = new Player(inputBar, { roll: inputRoll });
  const inputInfo = h("span", { class: "mm-muted mm-small" });
  inputBar.append(inputInfo);
  views.push(inputRoll, inputPlayer);
  disposers.push(bind(model, ["input_roll", "n_windows"], () => {
    const wire = model.get("input_roll");
    inputRoll.setSequence(wire);
    inputPlayer.setSequence(wire);
    const tracks = (wire?.tracks ?? []).map((t) => `${t.name}${t.dim ? "" : " ★"}`).join(", ");
    inputInfo.textContent = wire?.n
      ? `${wire.label} · ${(wire.duration ?? 0).toFixed(1)} s · tracks: ${tracks} · ${model.get("n_windows")} windows for the model`
      : "";
  }));
  input.append(drop, fileList, inputBar, inputRollBox);

  // ---- 2. MusicVAE latent --------------------------------------------------------------------
  const vae = section("mm-vae-section", 2, "What the MusicVAE hears",
    "The input's windows encoded; move the most informative dims");
  const windowLabel = h("span", { class: "mm-small mm-kv" });
  const prevBtn = h("button", { class: "mm-btn", type: "button", title: "Previous input window",
    onclick: () => send("vae_window", { index: Math.max(0, model.get("vae_window") - 1) }) }, "◀");
  const nextBtn = h("button", { class: "mm-btn", type: "button", title: "Next input window",
    onclick: () => send("vae_window", { index: model.get("vae_window") + 1 }) }, "▶");
  const tempValue = h("span", { class: "mm-small mm-kv" });
  const tempSlider = h("input", { type: "range", min: 0, max: 1.5, step: 0.05, "aria-label": "temperature" });
  tempSlider.addEventListener("input", () => {
    tempValue.textContent = Number(tempSlider.value).toFixed(2);
    model.set("temperature", Number(tempSlider.value));
    model.save_changes();
  });
  disposers.push(bind(model, ["temperature"], () => {
    tempSlider.value = String(model.get("temperature"));
    tempValue.textContent = Number(model.get("temperature")).toFixed(2);
  }));
  const sampleBtn = h("button", { class: "mm-btn mm-vae-sample", type: "button",
    onclick: () => send("vae_sample") }, "Sample the prior");
  const vaeBar = h("div", { class: "mm-row" },
    h("span", { class: "mm-small mm-muted" }, "Input window"), prevBtn, windowLabel, nextBtn,
    h("span", { class: "mm-spacer" }),
    sampleBtn, h("label", { class: "mm-field mm-small" }, "temperature", tempSlider, tempValue));
  const chartHint = h("div", { class: "mm-hint" });
  const chart = new LatentChart(h("div"), { height: 100 });
  const vaeSliders = new SliderBank(h("div"), {
    min: -3, max: 3, step: 0.05,
    onInput: (values) => {
      el.dataset.vaeSent = String(Number(el.dataset.vaeSent || 0) + 1);
      model.set("vae_values", values);
      model.save_changes();
    },
  });
  const vaeRollBox = h("div", { class: "mm-vae-roll" });
  const vaeRoll = new PianoRoll(vaeRollBox, { height: 130, emptyText: "Load music or sample the prior" });
  const vaePlayBar = h("div", { class: "mm-row" });
  const vaePlayer = new Player(vaePlayBar, { roll: vaeRoll });
  const vaeLabel = h("span", { class: "mm-small mm-muted" });
  vaePlayBar.append(vaeLabel, h("span", { class: "mm-spacer" }),
    h("button", { class: "mm-btn", type: "button", onclick: () => send("download", { what: "vae", format: "mid" }) }, "⬇ MIDI"));
  views.push(chart, vaeSliders, vaeRoll, vaePlayer);
  const latentRow = h("div", { class: "mm-split" },
    h("div", { class: "mm-col" }, chartHint, chart.el), h("div", { class: "mm-col" }, vaeSliders.el));
  vae.append(vaeBar, latentRow, vaePlayBar, vaeRollBox);
  disposers.push(bind(model, ["vae_values", "vae_dims", "vae_stats"], () => {
    const dims = model.get("vae_dims") || [];
    const values = model.get("vae_values") || [];
    const stats = model.get("vae_stats") || {};
    const labels = dims.map((d) => `z${d}`);
    vaeSliders.setValues(values, labels);
    chart.setData({ values: stats.values ?? values, mean: stats.mean ?? [], std: stats.std ?? [], labels });
    chartHint.textContent = dims.length
      ? `Top ${dims.length} of ${model.get("model_info")?.z_size ?? "?"} dims (${stats.ranking ?? "ranked"}); bars: current point, grey: input mean ± std`
      : "The latent features appear once music is loaded or sampled.";
  }));
  disposers.push(bind(model, ["vae_roll", "vae_label", "vae_window", "n_windows"], () => {
    vaeRoll.setSequence(model.get("vae_roll"));
    vaePlayer.setSequence(model.get("vae_roll"));
    vaeLabel.textContent = model.get("vae_label") || "";
    const w = model.get("vae_window");
    const n = model.get("n_windows");
    windowLabel.textContent = w >= 0 ? `${w + 1} / ${n}` : `– / ${n}`;
    prevBtn.disabled = !n || w <= 0;
    nextBtn.disabled = !n || w >= n - 1;
  }));

  // ---- 3. training ---------------------------------------------------------------------------
  const train = section("mm-train-section", 3, "Train MidiMe",
    "A small VAE learns your windows' region of the MusicVAE space (in a background thread)");
  const trainBtn = h("button", { class: "mm-btn mm-primary mm-train", type: "button", onclick: () => send("train") }, "Train");
  const stopBtn = h("button", { class: "mm-btn mm-danger mm-stop", type: "button", onclick: () => send("stop") }, "■ Stop");
  const controls = h("div", { class: "mm-row" },
    numberField(model, "epochs", "Epochs", { min: 1, step: 1, width: "90px" }, disposers),
    numberField(model, "latent_size", "Latent size", { min: 1, max: 64, step: 1, width: "60px" }, disposers),
    numberField(model, "beta", "Beta", { min: 0, step: 0.1, width: "64px" }, disposers),
    trainBtn, stopBtn);
  const trainingChart = new TrainingChart(h("div"), { height: 140 });
  views.push(trainingChart);
  train.append(controls, trainingChart.el);
  disposers.push(bind(model, ["training"], () => {
    const status = model.get("training") || {};
    trainingChart.setStatus(status);
    const running = status.state === "running";
    trainBtn.disabled = running;
    stopBtn.disabled = !running;
    trainBtn.textContent = running ? "Training…" : status.state === "idle" ? "Train" : "Train again";
    el.dataset.training = status.state;
  }));

  // ---- 4. personalized space -----------------------------------------------------------------
  const space = section("mm-space-section", 4, "Your personalized space",
    "Every point decodes to music in your style; each slider is one MidiMe dimension");
  const midimeSliders = new SliderBank(h("div"), {
    min: -3, max: 3, step: 0.05, big: true,
    onInput: (values) => {
      el.dataset.midimeSent = String(Number(el.dataset.midimeSent || 0) + 1);
      model.set("midime_values", values);
      model.save_changes();
    },
  });
  const midimeRollBox = h("div", { class: "mm-midime-roll" });
  const midimeRoll = new PianoRoll(midimeRollBox, { height: 140, emptyText: "Train MidiMe first" });
  const midimeBar = h("div", { class: "mm-row" });
  const midimePlayer = new Player(midimeBar, { roll: midimeRoll });
  const midimeLabel = h("span", { class: "mm-small mm-muted" });
  const newSampleBtn = h("button", { class: "mm-btn mm-primary mm-new-sample", type: "button",
    onclick: () => send("midime_sample") }, "+ New sample");
  midimeBar.append(newSampleBtn, h("span", { class: "mm-spacer" }),
    h("button", { class: "mm-btn mm-download-current", type: "button", onclick: () => send("download", { what: "midime", format: "mid" }) }, "⬇ MIDI"),
    h("button", { class: "mm-btn", type: "button", onclick: () => send("download", { what: "midime", format: "wav" }) }, "⬇ WAV"));
  const map = new LatentMap(h("div"), { height: 250, onPick: (target) => send("pick", target) });
  const mapHint = h("div", { class: "mm-hint" }, "Map: grey = your input windows, numbered = samples, ring = current point. Click to load.");
  views.push(midimeSliders, midimeRoll, midimePlayer, map);
  space.append(h("div", { class: "mm-split-wide" },
    h("div", { class: "mm-col" }, midimeSliders.el, midimeBar, midimeLabel, midimeRollBox),
    h("div", { class: "mm-col" }, map.el, mapHint)));
  disposers.push(bind(model, ["midime_values"], () => {
    const values = model.get("midime_values") || [];
    midimeSliders.setValues(values, values.map((_, i) => `dim ${i + 1}`));
  }));
  disposers.push(bind(model, ["midime_roll", "midime_label"], () => {
    midimeRoll.setSequence(model.get("midime_roll"));
    midimePlayer.setSequence(model.get("midime_roll"));
    midimeLabel.textContent = model.get("midime_label") || "";
  }));
  disposers.push(bind(model, ["latent_map"], () => map.setData(model.get("latent_map"))));

  // gallery
  const galleryHead = h("div", { class: "mm-row" });
  const gallery = h("div", { class: "mm-gallery" });
  const cards = new Map();
  space.append(galleryHead, gallery);
  disposers.push(bind(model, ["novelty_summary", "gallery"], () => {
    const s = model.get("novelty_summary") || {};
    galleryHead.replaceChildren(
      h("b", {}, "Samples"),
      s.samples ? h("span", { class: "mm-small mm-muted mm-novelty-summary" },
        `${s.varied} new, ${s.copied} copied from your input · mean pitch-class distance ${s.mean_pitch_class_distance ?? "–"}`) : null,
      h("span", { class: "mm-spacer" }),
      h("button", { class: "mm-btn mm-download-all", type: "button", disabled: !s.samples,
        onclick: () => send("download", { what: "all" }) }, "⬇ All samples (.zip)"));
  }));
  const makeCard = (item) => {
    const nov = item.novelty || {};
    const badge = h("span", { class: `mm-badge ${nov.copied ? "mm-copied" : "mm-varied"}`,
      title: nov.copied ? "identical to one of your input windows (memorized)" : "not an exact copy of any input window" },
    nov.copied ? `copy of window ${(nov.copied_window ?? 0) + 1}` : nov.verdict ?? "new");
    const rollBox = h("div");
    const roll = new PianoRoll(rollBox, { height: 64, compact: true });
    roll.setSequence(item.roll);
    const bar = h("div", { class: "mm-row" });
    const player = new Player(bar, { roll, compact: true, label: "" });
    player.setSequence(item.roll);
    bar.append(
      h("button", { class: "mm-btn", type: "button", title: "Put on the sliders", onclick: () => send("select_sample", { id: item.id }) }, "Load"),
      h("button", { class: "mm-btn mm-download-sample", type: "button", title: "Download MIDI",
        onclick: () => send("download", { what: "sample", id: item.id, format: "mid" }) }, "MIDI"),
      h("button", { class: "mm-btn", type: "button", title: "Download WAV",
        onclick: () => send("download", { what: "sample", id: item.id, format: "wav" }) }, "WAV"));
    const el = h("div", { class: "mm-sample", dataset: { id: String(item.id) } },
      h("div", { class: "mm-row" }, h("b", { class: "mm-small" }, item.label), badge, h("span", { class: "mm-spacer" }),
        h("span", { class: "mm-small mm-muted", title: "pitch-class distance to your input (0 = same notes used, 1 = none in common)" },
          `pc-dist ${nov.pitch_class_distance ?? "–"}`)),
      rollBox, bar);
    return { el, destroy: () => { player.destroy(); roll.destroy(); } };
  };
  disposers.push(bind(model, ["gallery", "current_sample"], () => {
    const items = model.get("gallery") || [];
    const keep = new Set(items.map((it) => it.id));
    for (const [id, card] of cards) {
      if (!keep.has(id)) { card.destroy(); card.el.remove(); cards.delete(id); }
    }
    for (const item of items) {
      if (!cards.has(item.id)) cards.set(item.id, makeCard(item));
    }
    gallery.replaceChildren(...items.map((it) => cards.get(it.id).el));
    const current = model.get("current_sample");
    for (const [id, card] of cards) card.el.classList.toggle("mm-current", id === current);
    gallery.dataset.count = String(items.length);
  }));

  // ---- 5. export -----------------------------------------------------------------------------
  const exp = section("mm-export-section", 5, "Keep it", "Save the trained MidiMe to the kernel's disk, or download it");
  const pathInput = h("input", { type: "text", class: "mm-save-path", "aria-label": "save path", style: { width: "240px" } });
  pathInput.addEventListener("change", () => { model.set("save_path", pathInput.value); model.save_changes(); });
  disposers.push(bind(model, ["save_path"], () => { pathInput.value = model.get("save_path"); }));
  exp.append(h("div", { class: "mm-row" },
    h("label", { class: "mm-field" }, "Folder", pathInput),
    h("button", { class: "mm-btn mm-save", type: "button", onclick: () => send("save_model", { path: pathInput.value }) }, "Save"),
    h("button", { class: "mm-btn mm-load", type: "button", onclick: () => send("load_model", { path: pathInput.value }) }, "Load"),
    h("button", { class: "mm-btn", type: "button", onclick: () => send("download", { what: "model" }) }, "⬇ Model (.zip)")));

  // ---- locking and assembly ------------------------------------------------------------------
  disposers.push(bind(model, ["n_windows", "has_midime", "training"], () => {
    const hasInput = model.get("n_windows") > 0;
    const hasMidime = model.get("has_midime");
    train.classList.toggle("mm-locked", !hasInput);
    space.classList.toggle("mm-locked", !hasMidime);
    exp.classList.toggle("mm-locked", !hasMidime);
    el.dataset.hasMidime = String(!!hasMidime);
  }));

  const onMsg = (msg, buffers) => {
    if (msg?.type === "loss") trainingChart.onLossMessage(msg, buffers);
    else if (msg?.type === "download") {
      downloadBytes(buffers?.[0], msg.filename, msg.mime);
      el.dataset.downloads = String(Number(el.dataset.downloads || 0) + 1);
    }
  };
  model.on("msg:custom", onMsg);

  el.append(header, errorWrap, statusLine, input, vae, train, space, exp);
  send("ready");

  return () => {
    model.off("msg:custom", onMsg);
    disposers.forEach((d) => d());
    views.forEach((v) => v.destroy());
    for (const card of cards.values()) card.destroy();
    el.replaceChildren();
  };
}
