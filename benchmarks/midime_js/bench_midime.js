#!/usr/bin/env node
/**
 * magenta.js MidiMe timing harness, driven by benchmarks/bench_midime.py.
 *
 *   node bench_midime.js CODES.json EPOCHS
 *
 * CODES.json: {"shape": [n, 256], "data": [n*256 numbers, row-major]} (written by the Python side).
 * Trains @magenta/music's MidiMe (its default config, full batch, `epochs` steps) twice on the
 * same codes in this process — the first `train()` is the cold one, the second the warm one —
 * on the tfjs CPU backend (WebGL is unavailable in Node; tfjs-node is not used because it
 * downloads a native TensorFlow at install time).
 *
 * Prints one line `RESULT {json}` with wall-clock times in seconds:
 *   trained_at_unix  when the first train() finished (the parent subtracts its spawn time)
 *   cold_cpu_s       CPU seconds (user+sys) of this process up to that moment
 *   warm_cpu_s       CPU seconds of the second train()
 *   import_s, init_s, cold_fit_s, warm_fit_s, first/last loss of each fit, versions.
 */
'use strict';

const fs = require('fs');
const {performance} = require('perf_hooks');

function cpuSeconds() {
  const usage = process.cpuUsage();  // since the process started
  return (usage.user + usage.system) / 1e6;
}

function nowUnix() {
  return (performance.timeOrigin + performance.now()) / 1000;
}

async function main() {
  const [codesPath, epochsArg] = process.argv.slice(2);
  const epochs = parseInt(epochsArg, 10);
  if (!codesPath || !(epochs > 0)) {
    throw new Error('usage: node bench_midime.js CODES.json EPOCHS');
  }

  const t0 = performance.now();
  const tf = require('@tensorflow/tfjs');
  const {MidiMe} = require('@magenta/music/node/music_vae');
  await tf.setBackend('cpu');
  await tf.ready();
  // MidiMe.train() reads these WebGL flags to detect float16 GPUs; answering first avoids a
  // failed WebGL probe in Node (and leaves the learning rate at magenta.js's 0.001).
  tf.env().set('WEBGL_RENDER_FLOAT32_ENABLED', true);
  const importS = (performance.now() - t0) / 1000;

  const codes = JSON.parse(fs.readFileSync(codesPath, 'utf8'));
  const x = tf.tensor2d(codes.data, codes.shape);

  const t1 = performance.now();
  const midime = new MidiMe({epochs});
  midime.initialize();
  const initS = (performance.now() - t1) / 1000;

  async function fit() {
    const losses = [];
    const start = performance.now();
    await midime.train(x, (epoch, info) => losses.push(info.total));
    return {seconds: (performance.now() - start) / 1000, first: losses[0], last: losses[losses.length - 1],
            epochs: losses.length};
  }

  const cold = await fit();
  const trainedAt = nowUnix();
  const coldCpu = cpuSeconds();
  const warm = await fit();
  const warmCpu = cpuSeconds() - coldCpu;

  const result = {
    trained_at_unix: trainedAt,
    import_s: importS,
    init_s: initS,
    cold_fit_s: cold.seconds,
    warm_fit_s: warm.seconds,
    cold_cpu_s: coldCpu,
    warm_cpu_s: warmCpu,
    cold_loss: [cold.first, cold.last],
    warm_loss: [warm.first, warm.last],
    epochs_run: [cold.epochs, warm.epochs],
    backend: tf.getBackend(),
    versions: {
      magenta_music: require('@magenta/music/package.json').version,
      tfjs: tf.version.tfjs,
      node: process.version,
    },
  };
  process.stdout.write('RESULT ' + JSON.stringify(result) + '\n');
}

main().catch((err) => {
  process.stderr.write(`magenta.js MidiMe benchmark failed: ${err && err.stack || err}\n`);
  process.exit(1);
});
