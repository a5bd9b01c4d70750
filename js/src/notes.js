// Decoder for the compact note buffer written by midime_widgets/widgets/serialization.py.
// Layout (n notes): f32 start[n] | f32 end[n] | u8 pitch[n] | u8 velocity[n] | u8 track[n] | u8 drum[n]
import { toBytes } from "./util.js";

export const EMPTY = Object.freeze({
  n: 0, duration: 0, qpm: 120, timeSignature: [4, 4], tracks: [], label: "",
  start: new Float32Array(0), end: new Float32Array(0), pitch: new Uint8Array(0),
  velocity: new Uint8Array(0), track: new Uint8Array(0), drum: new Uint8Array(0),
});

/** Turn a wire dict ({n, duration, qpm, tracks, data}) into column typed arrays. */
export function decodeNotes(wire) {
  const n = wire?.n ?? 0;
  if (!wire || n === 0) return { ...EMPTY, label: wire?.label ?? "", tracks: wire?.tracks ?? [] };
  const bytes = toBytes(wire.data);
  if (bytes.byteLength !== 12 * n) {
    throw new Error(`note buffer has ${bytes.byteLength} bytes, expected ${12 * n}`);
  }
  const buf = bytes.buffer;
  return {
    n,
    duration: wire.duration ?? 0,
    qpm: wire.qpm || 120,
    timeSignature: wire.time_signature ?? [4, 4],
    tracks: wire.tracks ?? [],
    label: wire.label ?? "",
    start: new Float32Array(buf, 0, n),
    end: new Float32Array(buf, 4 * n, n),
    pitch: new Uint8Array(buf, 8 * n, n),
    velocity: new Uint8Array(buf, 9 * n, n),
    track: new Uint8Array(buf, 10 * n, n),
    drum: new Uint8Array(buf, 11 * n, n),
  };
}

/** Seconds per bar for a decoded sequence (qpm counts quarter notes). */
export function barSeconds(notes) {
  const [num, den] = notes.timeSignature ?? [4, 4];
  return (60 / (notes.qpm || 120)) * num * (4 / den);
}

// magenta's 9 drum classes (drums_encoder_decoder.DEFAULT_DRUM_TYPE_PITCHES), top to bottom reversed
// when drawn so the kick sits at the bottom of the drum lane.
export const DRUM_CLASSES = [
  { name: "Kick", pitches: [36, 35] },
  { name: "Snare", pitches: [38, 27, 28, 31, 32, 33, 34, 37, 39, 40, 56, 65, 66, 75, 85] },
  { name: "Closed hat", pitches: [42, 44, 54, 68, 69, 70, 71, 73, 78, 80] },
  { name: "Open hat", pitches: [46, 67, 72, 74, 79, 81] },
  { name: "Low tom", pitches: [45, 29, 41, 61, 64, 84] },
  { name: "Mid tom", pitches: [48, 47, 60, 63, 77, 86, 87] },
  { name: "High tom", pitches: [50, 30, 43, 62, 76, 83] },
  { name: "Crash", pitches: [49, 55, 57, 58] },
  { name: "Ride", pitches: [51, 52, 53, 59, 82] },
];

const DRUM_CLASS_OF = new Int8Array(128).fill(-1);
DRUM_CLASSES.forEach((c, i) => c.pitches.forEach((p) => { DRUM_CLASS_OF[p] = i; }));

/** Drum class index (0-8) of a GM drum pitch; unknown pitches count as snare-like percussion. */
export function drumClass(pitch) {
  const c = DRUM_CLASS_OF[pitch];
  return c >= 0 ? c : 1;
}
