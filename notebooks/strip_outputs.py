"""Remove outputs from the notebooks before committing them (they are committed without outputs).

    python notebooks/strip_outputs.py            # strip every notebook in notebooks/
    python notebooks/strip_outputs.py --check    # exit 1 and list the notebooks that have outputs

Clears each code cell's outputs and execution count, the per-cell execution timing, and the saved
widget state, so the files hold only what a reader should edit: the cells.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import nbformat

HERE = Path(__file__).resolve().parent
NOTEBOOK_METADATA_TO_DROP = ("widgets",)
CELL_METADATA_TO_DROP = ("execution", "collapsed", "scrolled")


def leftovers(nb) -> list[str]:
    """What in `nb` should not be committed, as short descriptions (empty when clean)."""
    found = [f"metadata.{key}" for key in NOTEBOOK_METADATA_TO_DROP if key in nb.metadata]
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        if cell.get("outputs"):
            found.append(f"cell {index}: outputs")
        if cell.get("execution_count") is not None:
            found.append(f"cell {index}: execution_count")
        found += [f"cell {index}: metadata.{key}" for key in CELL_METADATA_TO_DROP if key in cell.metadata]
    return found


def strip(nb) -> bool:
    """Strip `nb` in place; True if anything changed."""
    if not leftovers(nb):
        return False
    for key in NOTEBOOK_METADATA_TO_DROP:
        nb.metadata.pop(key, None)
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
            for key in CELL_METADATA_TO_DROP:
                cell.metadata.pop(key, None)
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("paths", nargs="*", type=Path, help="notebooks (default: notebooks/*.ipynb)")
    parser.add_argument("--check", action="store_true", help="only report; exit 1 if any has outputs")
    args = parser.parse_args(argv)
    paths = args.paths or sorted(HERE.glob("*.ipynb"))
    dirty = 0
    for path in paths:
        nb = nbformat.read(path, as_version=4)
        problems = leftovers(nb)
        if not problems:
            continue
        dirty += 1
        if args.check:
            print(f"{path}: {', '.join(problems[:5])}{' …' if len(problems) > 5 else ''}")
        else:
            strip(nb)
            nbformat.write(nb, path)
            print(f"stripped {path}")
    return 1 if args.check and dirty else 0


if __name__ == "__main__":
    sys.exit(main())
