// In-browser playback with Tone.js: synthesized melody, bass and drum voices (no samples, no network).
// Audio starts only from a user gesture (Tone.start() in the click handler), as browsers require.
// One player sounds at a time; starting another stops the current one.
import * as Tone from "tone";
import { decodeNotes, drumClass, EMPTY } from "./notes.js";
import { PianoRoll } from "./piano_roll.js";
import { h } from "./util.js";

let voices = null;
let current = null;

const midiToHz = (p) => 440 * 2 ** ((p - 69) / 12);

/** Build the shared synth voices once (after the AudioContext exists). */
function getVoices() {
  if (voices) return voices;
  const limiter = new Tone.Limiter(-2).toDestination();
  const bus = new Tone.Volume(-6).connect(limiter);
  const drumsBus = new Tone.Volume(-4).connect(limiter);
  const v = {
    melody: new Tone.PolySynth(Tone.Synth, {
      oscillator: { type: "triangle" },
      envelope: { attack: 0.005, decay: 0.2, sustain: 0.35, release: 0.35 },
      volume: -4,
    }).connect(bus),
    bass: new Tone.PolySynth(Tone.MonoSynth, {
      oscillator: { type: "sawtooth" },
      filter: { Q: 1, type: "lowpass", rolloff: -24 },
      filterEnvelope: { attack: 0.005, decay: 0.2, sustain: 0.3, release: 0.2, baseFrequency: 180, octaves: 2.5 },
      envelope: { attack: 0.005, decay: 0.2, sustain: 0.6, release: 0.15 },
      volume: -8,
    }).connect(bus),
    kick: new Tone.MembraneSynth({
      pitchDecay: 0.03, octaves: 6, envelope: { attack: 0.001, decay: 0.35, sustain: 0, release: 0.1 },
    }).connect(drumsBus),
    snare: new Tone.NoiseSynth({
      noise: { type: "white" }, envelope: { attack: 0.001, decay: 0.16, sustain: 0 }, volume: -10,
    }).connect(drumsBus),
    hat: new Tone.MetalSynth({
      envelope: { attack: 0.001, decay: 0.05, release: 0.01 },
      harmonicity: 5.1, modulationIndex: 32, resonance: 4000, octaves: 1.5, volume: -24,
    }).connect(drumsBus),
    openHat: new Tone.MetalSynth({
      envelope: { attack: 0.001, decay: 0.3, release: 0.1 },
      harmonicity: 5.1, modulationIndex: 32, resonance: 4000, octaves: 1.5, volume: -26,
    }).connect(drumsBus),
    tom: new Tone.MembraneSynth({
      pitchDecay: 0.05, octaves: 3, envelope: { attack: 0.001, decay: 0.3, sustain: 0, release: 0.1 }, volume: -6,
    }).connect(drumsBus),
    cymbal: new Tone.MetalSynth({
      envelope: { attack: 0.001, decay: 0.9, release: 0.3 },
      harmonicity: 5.1, modulationIndex: 40, resonance: 5000, octaves: 1.2, volume: -30,
    }).connect(drumsBus),
  };
  v.last = new Map(); // monophonic voices need strictly increasing start times
  voices = v;
  return v;
}

function monoTime(v, key, time) {
  const last = v.last.get(key) ?? -1;
  const t = time <= last ? last + 0.002 : time;
  v.last.set(key, t);
  return t;
}

const TOM_HZ = { 4: 80, 5: 110, 6: 150 };

/** Trigger one note at audio time `time` on the voice its track role / drum class calls for. */
function triggerNote(v, role, pitch, duration, velocity, isDrum, time) {
  const vel = Math.max(0.05, velocity / 127);
  if (!isDrum) {
    const synth = role === "bass" ? v.bass : v.melody;
    synth.triggerAttackRelease(midiToHz(pitch), Math.max(0.05, duration), time, vel);
    return;
  }
  const cls = drumClass(pitch);
  if (cls === 0) v.kick.triggerAttackRelease(50, 0.2, monoTime(v, "kick", time), vel);
  else if (cls === 1) v.snare.triggerAttackRelease(0.12, monoTime(v, "snare", time), vel);
  else if (cls === 2) v.hat.triggerAttackRelease(300, 0.05, monoTime(v, "hat", time), vel);
  else if (cls === 3) v.openHat.triggerAttackRelease(300, 0.25, monoTime(v, "openHat", time), vel);
  else if (cls <= 6) v.tom.triggerAttackRelease(TOM_HZ[cls], 0.2, monoTime(v, "tom", time), vel);
  else v.cymbal.triggerAttackRelease(250, 0.6, monoTime(v, "cymbal", time), vel);
}

export class Player {
  /**
   * Play / stop (and loop) controls for one sequence; moves `roll`'s playhead while playing.
   * @param {HTMLElement} container
   * @param {{roll?: PianoRoll|null, loop?: boolean, compact?: boolean, label?: string}} options
   */
  constructor(container, { roll = null, loop = true, compact = false, label = "Play" } = {}) {
    this.roll = roll;
    this.loop = loop;
    this.notes = EMPTY;
    this.playing = false;
    this.raf = 0;
    this.label = label;
    this.playBtn = h("button", {
      class: "mm-btn mm-play", type: "button", title: "Play / stop",
      onclick: () => this.toggle(),
    });
    this.loopBtn = compact ? null : h("button", {
      class: "mm-btn mm-toggle mm-loop", type: "button", title: "Loop playback",
      "aria-pressed": String(loop),
      onclick: () => this.setLoop(!this.loop),
    }, "⟳ Loop");
    this.el = h("div", {
      class: `mm-player${compact ? " mm-player-compact" : ""}`,
      dataset: { audioState: "none", scheduledNotes: "0", playing: "false" },
    }, this.playBtn, this.loopBtn);
    container.append(this.el);
    this.renderButton();
  }

  setSequence(wire) {
    try {
      this.notes = decodeNotes(wire);
    } catch {
      this.notes = EMPTY;
    }
    this.playBtn.disabled = this.notes.n === 0;
    if (this.playing) this.schedule(); // live update: re-schedule without stopping the transport
  }

  setLoop(loop) {
    this.loop = !!loop;
    this.loopBtn?.setAttribute("aria-pressed", String(this.loop));
    if (this.playing) Tone.getTransport().loop = this.loop;
  }

  async toggle() {
    if (this.playing) this.stop();
    else await this.play();
  }

  async play() {
    if (this.notes.n === 0) return;
    if (current && current !== this) current.stop();
    current = this;
    await Tone.start(); // resumes the AudioContext: we are inside a click handler
    this.el.dataset.audioState = Tone.getContext().state;
    const transport = Tone.getTransport();
    transport.stop();
    transport.position = 0;
    this.playing = true;
    this.schedule();
    transport.start("+0.05");
    this.el.dataset.playing = "true";
    this.renderButton();
    this.animate();
  }

  /** (Re)schedule every note of the current sequence on the shared transport. */
  schedule() {
    const transport = Tone.getTransport();
    const v = getVoices();
    transport.cancel(0);
    const notes = this.notes;
    const roles = notes.tracks.map((t) => t.role);
    for (let i = 0; i < notes.n; i++) {
      const role = roles[notes.track[i]] ?? "melody";
      const pitch = notes.pitch[i];
      const dur = notes.end[i] - notes.start[i];
      const vel = notes.velocity[i];
      const drum = notes.drum[i] === 1;
      transport.schedule((time) => {
        try {
          triggerNote(v, role, pitch, dur, vel, drum, time);
        } catch (err) {
          console.warn("midime-widgets: could not play a note", err);
        }
      }, notes.start[i]);
    }
    this.duration = Math.max(notes.duration, 0.5);
    transport.loop = this.loop;
    transport.loopStart = 0;
    transport.loopEnd = this.duration;
    this.el.dataset.scheduledNotes = String(notes.n);
    this.el.dataset.audioState = Tone.getContext().state;
  }

  animate() {
    cancelAnimationFrame(this.raf);
    const tick = () => {
      if (!this.playing) return;
      const t = Tone.getTransport().seconds;
      if (!this.loop && t >= this.duration) {
        this.stop();
        return;
      }
      this.roll?.setPlayhead(Math.max(0, t % this.duration));
      this.raf = requestAnimationFrame(tick);
    };
    this.raf = requestAnimationFrame(tick);
  }

  stop() {
    if (!this.playing) return;
    this.playing = false;
    cancelAnimationFrame(this.raf);
    if (current === this) {
      const transport = Tone.getTransport();
      transport.stop();
      transport.cancel(0);
      voices?.melody.releaseAll();
      voices?.bass.releaseAll();
      current = null;
    }
    this.roll?.setPlayhead(null);
    this.el.dataset.playing = "false";
    this.el.dataset.audioState = Tone.getContext().state;
    this.renderButton();
  }

  renderButton() {
    this.playBtn.textContent = this.playing ? "■ Stop" : `▶ ${this.label}`;
    this.playBtn.classList.toggle("mm-active", this.playing);
    this.playBtn.disabled = !this.playing && this.notes.n === 0;
  }

  destroy() {
    this.stop();
    this.el.remove();
  }
}

/** anywidget view for midime_widgets.Player: controls above a piano roll with a moving playhead. */
export function renderPlayer({ model, el }) {
  const wrap = h("div", { class: "mm-card mm-player-widget" });
  el.append(wrap);
  const bar = h("div", { class: "mm-row" });
  const info = h("span", { class: "mm-muted mm-small" });
  wrap.append(bar);
  const roll = new PianoRoll(wrap, { height: model.get("height") || 150 });
  const player = new Player(bar, { roll, loop: model.get("loop") });
  bar.append(info);
  const update = () => {
    const wire = model.get("sequence");
    roll.setSequence(wire);
    player.setSequence(wire);
    info.textContent = wire?.n ? `${wire.n} notes · ${(wire.duration ?? 0).toFixed(1)} s` : "";
  };
  const updateLoop = () => player.setLoop(model.get("loop"));
  update();
  model.on("change:sequence", update);
  model.on("change:loop", updateLoop);
  return () => {
    model.off("change:sequence", update);
    model.off("change:loop", updateLoop);
    player.destroy();
    roll.destroy();
    wrap.remove();
  };
}
