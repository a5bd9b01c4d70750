"""The notebooks: committed clean, installable in Colab, and runnable top to bottom offline.

The slow tests execute every notebook with nbclient (a real python3 kernel) on a copy in a
temporary folder, with MIDIME_WIDGETS_OFFLINE=1 and an empty checkpoint cache, so the cells that
need the internet must skip and say so, and every other cell must run without an error.
"""

from __future__ import annotations

import importlib.util
import re
import shutil
import time
import tomllib
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK_DIR = ROOT / "notebooks"
EXPECTED = [
    "01_quickstart.ipynb",
    "02_latent_space.ipynb",
    "03_midime_from_scratch.ipynb",
    "04_trios_and_official_models.ipynb",
]
REPO_PATH = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["urls"]["Homepage"].removeprefix(
    "https://github.com/"
)
SKIP_MARKER = "SKIPPED (needs the internet)"
CELL_TIMEOUT_S = 300


def load(name: str):
    return nbformat.read(NOTEBOOK_DIR / name, as_version=4)


def code_cells(nb):
    return [c for c in nb.cells if c.cell_type == "code"]


def tagged(nb, tag: str):
    return [c for c in code_cells(nb) if tag in c.metadata.get("tags", [])]


def strip_module():
    spec = importlib.util.spec_from_file_location("strip_outputs", NOTEBOOK_DIR / "strip_outputs.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# ---------------------------------------------------------------------------------------------
# The committed files (fast)
# ---------------------------------------------------------------------------------------------


def test_every_notebook_is_present_and_valid():
    assert sorted(p.name for p in NOTEBOOK_DIR.glob("*.ipynb")) == EXPECTED
    for name in EXPECTED:
        nbformat.validate(load(name))
        assert load(name).metadata["kernelspec"]["name"] == "python3"


@pytest.mark.parametrize("name", EXPECTED)
def test_committed_without_outputs(name):
    nb = load(name)
    assert strip_module().leftovers(nb) == [], "run: python notebooks/strip_outputs.py"
    for cell in code_cells(nb):
        assert cell.outputs == [] and cell.execution_count is None


def test_strip_outputs_removes_outputs_and_widget_state(tmp_path):
    nb = load(EXPECTED[0])
    cell = code_cells(nb)[1]
    cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text="hi\n")]
    cell.execution_count = 3
    nb.metadata["widgets"] = {"application/vnd.jupyter.widget-state+json": {}}
    path = tmp_path / "dirty.ipynb"
    nbformat.write(nb, path)
    module = strip_module()
    assert module.main([str(path), "--check"]) == 1
    assert module.main([str(path)]) == 0
    cleaned = nbformat.read(path, as_version=4)
    assert module.leftovers(cleaned) == []
    assert [c.source for c in cleaned.cells] == [c.source for c in load(EXPECTED[0]).cells]


@pytest.mark.parametrize("name", EXPECTED)
def test_first_code_cell_installs_the_package_only_in_colab(name):
    first = code_cells(load(name))[0]
    assert 'if "google.colab" in sys.modules:' in first.source
    install = [line for line in first.source.splitlines() if "pip install" in line and not line.lstrip().startswith("#")]
    assert len(install) == 1 and install[0].startswith("    %pip install"), "install only inside the Colab branch"
    assert f"git+https://github.com/{REPO_PATH}" in install[0]


@pytest.mark.parametrize("name", EXPECTED)
def test_colab_badge_in_the_notebook_and_in_readme(name):
    url = f"https://colab.research.google.com/github/{REPO_PATH}/blob/main/notebooks/{name}"
    assert url in load(name).cells[0].source
    assert url in (ROOT / "README.md").read_text(), f"README lacks the Colab link {url}"


def test_readme_links_only_existing_notebooks():
    readme = (ROOT / "README.md").read_text()
    for path in set(re.findall(r"notebooks/[\w.-]+\.ipynb", readme)):
        assert (ROOT / path).is_file(), f"README links {path}, which does not exist"


def test_internet_cells_check_before_downloading():
    nb = load("04_trios_and_official_models.ipynb")
    cells = tagged(nb, "internet")
    assert len(cells) >= 2
    for cell in cells:
        assert cell.source.startswith("if can_load("), cell.source[:80]
    untagged = [c for c in code_cells(nb) if "pretrained(" in c.source and c not in cells]
    assert not untagged, "a cell downloads a checkpoint without the 'internet' tag and check"
    for name in EXPECTED[:3]:
        assert not [c for c in code_cells(load(name)) if "pretrained(" in c.source], (
            f"{name} must run offline: no MusicVAE.pretrained calls outside notebook 04")


# ---------------------------------------------------------------------------------------------
# Execution, offline (slow)
# ---------------------------------------------------------------------------------------------


def outputs_text(cell, kind: str = "stream") -> str:
    parts = []
    for out in cell.get("outputs", []):
        if out.output_type == kind and kind == "stream":
            parts.append(out.text)
        elif out.output_type == kind == "error":
            parts.append(f"{out.ename}: {out.evalue}")
    return "".join(parts)


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    """A copy of notebooks/ (running them writes output folders) and an empty checkpoint cache."""
    base = tmp_path_factory.mktemp("notebooks")
    shutil.copytree(NOTEBOOK_DIR, base / "notebooks", ignore=shutil.ignore_patterns("*-output", ".ipynb_checkpoints"))
    (base / "cache").mkdir()
    return base


@pytest.mark.slow
@pytest.mark.timeout(900)
@pytest.mark.parametrize("name", EXPECTED)
def test_notebook_runs_offline(name, workdir, monkeypatch):
    from nbclient import NotebookClient

    monkeypatch.setenv("MIDIME_WIDGETS_OFFLINE", "1")
    monkeypatch.setenv("MIDIME_WIDGETS_CACHE", str(workdir / "cache"))
    monkeypatch.setenv("TF_CPP_MIN_LOG_LEVEL", "2")
    # XLA compiles the decoder again for every new batch size and temperature mode (2-4 s each on
    # this CPU, ~20 s for the hierarchical trio decoder); without it the four notebooks run in
    # ~3.5 instead of ~5 minutes. The XLA path itself is covered by the MusicVAE tests.
    monkeypatch.setenv("MIDIME_WIDGETS_XLA", "0")
    # The kernel imports this checkout's package (the code under test), nothing else from here.
    monkeypatch.setenv("PYTHONPATH", str(ROOT))
    nb = nbformat.read(workdir / "notebooks" / name, as_version=4)
    client = NotebookClient(nb, timeout=CELL_TIMEOUT_S, kernel_name="python3",
                            resources={"metadata": {"path": str(workdir / "notebooks")}})
    started = time.perf_counter()
    client.execute()  # raises CellExecutionError on the first cell that fails
    seconds = time.perf_counter() - started
    print(f"{name}: executed in {seconds:.1f} s")

    errors = [outputs_text(c, "error") for c in code_cells(nb) if outputs_text(c, "error")]
    assert not errors, errors
    install = code_cells(nb)[0]
    assert install.outputs == [], "the Colab install cell must do nothing outside Colab"
    for cell in tagged(nb, "internet"):
        assert SKIP_MARKER in outputs_text(cell), f"internet cell did not skip offline:\n{cell.source[:120]}"
        assert "downloading" not in outputs_text(cell).lower()
    # Every cell that is not an internet cell produced its result (no silent early exit).
    for cell in code_cells(nb)[1:]:
        if "internet" not in cell.metadata.get("tags", []):
            assert cell.execution_count is not None
    # A guard against an accidentally heavy cell, not a benchmark (each takes 30-90 s on 2 busy cores).
    assert seconds < 240, f"{name} took {seconds:.0f} s; keep each notebook under ~90 s on a CPU"
