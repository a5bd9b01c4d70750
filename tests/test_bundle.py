"""The widget bundle is committed, so pip installs need no Node.js; it must equal a fresh build.

`midime_widgets/static/widget.{js,css}` are built by esbuild from `js/` (`cd js && npm run build`)
and committed. The build hook skips building when they exist, so `pip install .` and
`pip install git+…` work without Node. This test rebuilds them into a temporary folder and
compares bytes: a change in `js/src` without a rebuilt, committed bundle fails here.
"""

from __future__ import annotations

import shutil
import subprocess
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
JS = ROOT / "js"
STATIC = ROOT / "midime_widgets" / "static"
BUNDLE = ("widget.js", "widget.css")


def test_bundle_is_committed_and_the_build_hook_skips_when_it_exists():
    hook = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["hatch"]["build"]["hooks"]["jupyter-builder"]
    assert "midime_widgets/static/widget.js" in hook["skip-if-exists"]
    assert hook.get("optional-editable-build") == "true", "pip install -e . must work without Node too"
    for name in BUNDLE:
        assert (STATIC / name).stat().st_size > 1000, f"{name} is missing or empty"
    if (ROOT / ".git").exists():
        tracked = subprocess.run(["git", "ls-files", "--error-unmatch", *(f"midime_widgets/static/{n}" for n in BUNDLE)],
                                 cwd=ROOT, capture_output=True, text=True)
        assert tracked.returncode == 0, f"the bundle is not committed: {tracked.stderr.strip()}"


def test_committed_bundle_equals_a_fresh_build(tmp_path):
    node = shutil.which("node")
    if node is None:
        pytest.skip("Node.js is not installed: it is needed only to change or check the JS bundle")
    if not (JS / "node_modules" / "esbuild").exists():
        pytest.skip("js/node_modules lacks esbuild: run `npm ci` in js/ (scripts/test.sh does)")
    result = subprocess.run([node, "build.mjs", "--outdir", str(tmp_path)], cwd=JS, capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    for name in BUNDLE:
        fresh, committed = (tmp_path / name).read_bytes(), (STATIC / name).read_bytes()
        assert fresh == committed, (f"midime_widgets/static/{name} differs from a fresh build of js/: "
                                    f"run `cd js && npm run build` and commit the result")
