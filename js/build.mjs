// Bundles js/src/widget.js (+ css) into midime_widgets/static/ for anywidget's _esm/_css.
// The bundle is committed (pip installs need no Node); `--outdir DIR` builds elsewhere, e.g. to
// check that the committed bundle equals a fresh build (tests/test_bundle.py).
import * as esbuild from "esbuild";

const watch = process.argv.includes("--watch");
const outdirAt = process.argv.indexOf("--outdir");
const outdir = outdirAt >= 0 ? process.argv[outdirAt + 1] : "../midime_widgets/static";
const options = {
  entryPoints: ["src/widget.js"],
  bundle: true,
  format: "esm",
  minify: !watch,
  sourcemap: watch ? "inline" : false,
  outdir,
  loader: { ".css": "css" },
  logLevel: "info",
};

if (watch) {
  const ctx = await esbuild.context(options);
  await ctx.watch();
} else {
  await esbuild.build(options);
}
