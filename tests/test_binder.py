"""The Binder (repo2docker) set-up in binder/: its files are valid, and its install path works.

repo2docker installs binder/requirements.txt, then runs binder/postBuild, which installs the package
from the checkout with --no-deps. So requirements.txt has to list every runtime dependency, and
postBuild has to build a package that includes the committed widget bundle and the default model.
The slow test runs postBuild itself in a clean virtual environment (system packages visible, no
package index: nothing is downloaded, no Node.js on PATH) on a copy of what a fresh clone holds,
then runs the README's main job with the installed command.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import stat
import subprocess
import sys
import textwrap
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]
BINDER = ROOT / "binder"
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())

# Binder requirement name → the pyproject dependency it stands for.
SUBSTITUTES = {"tensorflow-cpu": "tensorflow"}


def binder_requirements() -> list[Requirement]:
    lines = (BINDER / "requirements.txt").read_text().splitlines()
    return [Requirement(line.split("#", 1)[0].strip()) for line in lines if line.split("#", 1)[0].strip()]


def by_name(requirements) -> dict[str, Requirement]:
    return {canonicalize_name(SUBSTITUTES.get(r.name, r.name)): r for r in requirements}


# ---------------------------------------------------------------------------------------------
# File checks (fast)
# ---------------------------------------------------------------------------------------------


def test_requirements_cover_every_runtime_dependency_with_the_same_bounds():
    binder = by_name(binder_requirements())
    for dep in map(Requirement, PYPROJECT["project"]["dependencies"]):
        name = canonicalize_name(dep.name)
        assert name in binder, f"binder/requirements.txt lacks {dep} (postBuild installs with --no-deps)"
        assert binder[name].specifier == dep.specifier, (
            f"binder/requirements.txt has {binder[name]}, pyproject.toml has {dep}: keep them in step"
        )


def test_requirements_include_the_build_backend_for_no_build_isolation():
    binder = by_name(binder_requirements())
    for dep in map(Requirement, PYPROJECT["build-system"]["requires"]):
        assert canonicalize_name(dep.name) in binder, f"postBuild builds without isolation; add {dep}"


def test_requirements_have_no_local_references():
    # A local reference ("-e .", "-r other.txt", a path) makes repo2docker install requirements.txt
    # only after copying the whole repository, so every code change would reinstall TensorFlow.
    for line in (BINDER / "requirements.txt").read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        assert not line.startswith(("-", ".", "/")), f"local or option line in requirements.txt: {line!r}"
        assert "file:" not in line and "git+" not in line, line


def test_runtime_python_satisfies_requires_python():
    text = (BINDER / "runtime.txt").read_text().strip()
    match = re.fullmatch(r"python-(3\.\d+)", text)
    assert match, f"runtime.txt must read like 'python-3.11', got {text!r}"
    assert match.group(1) in SpecifierSet(PYPROJECT["project"]["requires-python"])


def test_postbuild_is_an_executable_bash_script():
    post_build = BINDER / "postBuild"
    assert post_build.stat().st_mode & stat.S_IXUSR, "postBuild must be executable (chmod +x, and commit the mode)"
    text = post_build.read_text()
    assert text.startswith("#!/usr/bin/env bash\n")
    assert "set -euo pipefail" in text, "a failing step must fail the Binder build"
    subprocess.run(["bash", "-n", str(post_build)], check=True)


def test_binder_folder_holds_only_files_repo2docker_reads_as_intended():
    # environment.yml would make repo2docker ignore runtime.txt; a Dockerfile would replace everything.
    names = {p.name for p in BINDER.iterdir()}
    assert names <= {"requirements.txt", "runtime.txt", "postBuild", "apt.txt", "README.md"}, names
    assert not (ROOT / ".binder").exists(), "binder/ and .binder/ are exclusive for repo2docker"


def test_readme_binder_link_opens_the_quickstart():
    readme = (ROOT / "README.md").read_text()
    links = re.findall(r"https://mybinder\.org/v2/gh/([\w.-]+/[\w.-]+)/(\w+)\?urlpath=lab/tree/([\w./-]+)", readme)
    assert links, "README has no Binder link"
    homepage = PYPROJECT["project"]["urls"]["Homepage"]
    for repo, _branch, path in links:
        assert homepage.endswith(repo), f"Binder link names {repo}, the project lives at {homepage}"
        assert (ROOT / path).is_file(), f"Binder link opens {path}, which does not exist"
    assert any(path == "notebooks/01_quickstart.ipynb" for *_, path in links)


# ---------------------------------------------------------------------------------------------
# The install path, as far as this machine allows (slow)
# ---------------------------------------------------------------------------------------------


def checkout_copy(dest: Path) -> Path:
    """Copy what a fresh clone holds (tracked and untracked-but-not-ignored files) to `dest`."""
    if not (ROOT / ".git").exists():
        pytest.skip("not a git checkout: cannot tell source files from build outputs")
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                            cwd=ROOT, check=True, capture_output=True).stdout.decode().split("\0")
    for rel in filter(None, listed):
        source = ROOT / rel
        if source.is_file():
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, dest / rel)
    return dest


def path_without(tools: set[str], bin_dir: Path) -> str:
    """A PATH that finds every program of this PATH except `tools` (links in `bin_dir`)."""
    bin_dir.mkdir(parents=True, exist_ok=True)
    for folder in os.environ["PATH"].split(os.pathsep):
        if not os.path.isdir(folder):
            continue
        for entry in os.scandir(folder):
            target = bin_dir / entry.name
            if entry.name in tools or target.exists() or not os.access(entry.path, os.X_OK):
                continue
            target.symlink_to(entry.path)
    return str(bin_dir)


def clean_venv_seeing_this_environment(venv: Path) -> Path:
    """A new venv whose own site-packages is empty, with the packages of the Python running the
    tests (a venv or not: hatchling, pip, TensorFlow … from `.[test]`) visible behind it through a
    .pth file, so nothing is downloaded. (`--system-site-packages` would show the *base*
    interpreter's packages instead, which a venv's test run must not depend on.)"""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    purelib = subprocess.run([str(venv / "bin" / "python"), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
                             check=True, capture_output=True, text=True).stdout.strip()
    visible = [p for p in sys.path if p.endswith(("site-packages", "dist-packages")) and Path(p).is_dir()]
    (Path(purelib) / "_tests_parent_environment.pth").write_text("\n".join(visible) + "\n")
    return venv


@pytest.mark.slow
def test_postbuild_installs_a_working_package_into_a_clean_venv_without_node(tmp_path):
    missing = [m for m in ("hatchling", "hatch_jupyter_builder") if importlib.util.find_spec(m) is None]
    if missing:
        pytest.skip(f"{', '.join(missing)} not installed: postBuild builds without isolation "
                    "(pip install '.[test]'; scripts/test.sh does)")
    repo = checkout_copy(tmp_path / "repo")
    assert (repo / "midime_widgets" / "static" / "widget.js").is_file(), "the widget bundle is committed"
    assert not (repo / "js" / "node_modules").exists(), "the copy must not hold build outputs"

    venv = clean_venv_seeing_this_environment(tmp_path / "venv")
    no_node = path_without({"node", "nodejs", "npm", "npx", "corepack"}, tmp_path / "bin")
    env = {
        **os.environ,
        "PATH": f"{venv / 'bin'}{os.pathsep}{no_node}",  # a user without Node.js
        "VIRTUAL_ENV": str(venv),
        "PIP_NO_INDEX": "1",  # --no-deps must mean no downloads
    }
    env.pop("PYTHONPATH", None)
    assert subprocess.run(["bash", "-c", "command -v npm node"], env=env).returncode != 0
    build = subprocess.run(["bash", str(repo / "binder" / "postBuild")], cwd=tmp_path, env=env,
                           capture_output=True, text=True, timeout=300)
    assert build.returncode == 0, build.stdout[-3000:] + build.stderr[-3000:]
    assert "widget bundle" in build.stdout

    # One process for both steps (each would import TensorFlow and load the model): first the
    # README's main job through the installed console script, run as a fresh `__main__`, then a
    # look at what it imported.
    console = venv / "bin" / "midime-widgets"
    shebang = console.read_text().splitlines()[0]
    assert shebang.startswith("#!") and Path(shebang[2:].strip()).parent == venv / "bin", shebang
    out = tmp_path / "midime-out"
    check = textwrap.dedent(
        """
        import runpy, sys
        sys.argv = [__CONSOLE__, "personalize", "--example", "--out", __OUT__,
                    "--epochs", "2", "--samples", "2", "--no-wav", "--quiet"]
        try:
            runpy.run_path(__CONSOLE__, run_name="__main__")
            job = 0
        except SystemExit as exc:
            job = exc.code
        if job != 0:
            sys.exit(f"the console script exited with {job!r}")

        import json
        from pathlib import Path
        import midime_widgets
        from midime_widgets import examples
        try:
            from midime_widgets import MusicVAE
        except (ImportError, AttributeError):
            from midime_widgets.models.musicvae import MusicVAE
        package = Path(midime_widgets.__file__).parent
        vae = MusicVAE.default()
        window = vae.chunks(midime_widgets.load_midi(examples.path("folk_reel")))[:1]
        z, mu, sigma = vae.encode(window)
        decoded = vae.decode(mu, temperature=0.0)
        print(json.dumps({
            "package": str(package),
            "prefix": sys.prefix,
            "bundle_bytes": (package / "static" / "widget.js").stat().st_size,
            "examples": [examples.path(n).is_file() for n in examples.names()],
            "z_size": vae.config.z_size,
            "mu_shape": list(mu.shape),
            "mu_finite": bool((abs(mu) < 1e6).all()),
            "decoded": [type(s).__name__ for s in decoded],
        }))
        """
    ).replace("__CONSOLE__", repr(str(console))).replace("__OUT__", repr(str(out)))
    run = subprocess.run([str(venv / "bin" / "python"), "-c", check], cwd=tmp_path, env=env,
                         capture_output=True, text=True, timeout=400)
    assert run.returncode == 0, run.stderr[-3000:]
    # the README's main job wrote its samples and report
    assert sorted(p.name for p in out.glob("sample_*.mid")) == ["sample_01.mid", "sample_02.mid"]
    assert (out / "report.html").is_file()
    # it ran the venv's copy of the package, with its bundle, examples and working model
    info = json.loads(run.stdout.strip().splitlines()[-1])
    assert Path(info["package"]).is_relative_to(venv), f"imported {info['package']}, not the venv's copy"
    assert info["bundle_bytes"] > 10_000, "the installed widget bundle is (nearly) empty"
    assert info["examples"] and all(info["examples"])
    assert info["mu_shape"] == [1, info["z_size"]] and info["mu_finite"]
    assert info["decoded"] == ["NoteSequence"]
