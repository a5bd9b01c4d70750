"""A command's output folder: checked before any work, written all at once, and never a file
this tool did not write replaced or deleted.

A run writes its results into a hidden staging folder on `--out`'s own file system (inside it
when it exists, else beside it) and moves them into place at the end, so `--out` holds either
the previous results or the new ones, never a mix. A
manifest (`.midime-widgets.json`) lists every file a run wrote with its sha256: a later run with
`--overwrite` replaces or removes exactly those files (when unchanged since) and nothing else.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path

MANIFEST = ".midime-widgets.json"
TOOL = "midime-widgets"
STAGING_PREFIX = ".midime-"
_NAME_MAX = 255  # bytes per path component on the usual file systems, when pathconf cannot tell


class OutputError(ValueError):
    """`--out` cannot be used as asked; the message is one sentence for the user."""


def user_mode(directory: bool = True) -> int:
    """Permissions a new file or folder gets from the user's umask (what `mkdir` would give)."""
    mask = os.umask(0)
    os.umask(mask)
    return (0o777 if directory else 0o666) & ~mask


def _name_max(existing: Path) -> int:
    try:
        return int(os.pathconf(existing, "PC_NAME_MAX"))
    except (OSError, ValueError):
        return _NAME_MAX


def _nearest_existing(path: Path) -> Path:
    for candidate in [path, *path.parents]:
        try:
            if candidate.exists():
                return candidate
        except OSError:  # e.g. a name too long to look up
            continue
    return Path(".")


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def read_manifest(out: Path) -> dict[str, str]:
    """`{relative path: sha256}` of the files an earlier run wrote into `out` (empty if none)."""
    try:
        data = json.loads((out / MANIFEST).read_text(encoding="utf-8"))
        files = data["files"] if data.get("tool") == TOOL else {}
        return {str(k): str(v) for k, v in files.items() if _is_inside(k)}
    except (OSError, ValueError, KeyError, AttributeError, TypeError):
        return {}


def _is_manifest(path: Path) -> bool:
    try:
        return json.loads(path.read_text(encoding="utf-8")).get("tool") == TOOL
    except (OSError, ValueError, AttributeError):
        return False


def _is_inside(rel: str) -> bool:
    parts = Path(rel).parts
    return bool(parts) and not Path(rel).is_absolute() and ".." not in parts


def _apply_umask(folder: Path) -> None:
    """Give everything under `folder` the permissions the user's umask gives (libraries that
    write through temporary files create them private, 0600/0700)."""
    folder.chmod(user_mode())
    for item in folder.rglob("*"):
        if not item.is_symlink():
            item.chmod(user_mode(directory=item.is_dir()))


class OutputFolder:
    """`--out`: `check()` before any work, `staging()` to write into, `commit()` to publish."""

    def __init__(self, path, *, overwrite: bool = False):
        self.path = Path(os.path.expanduser(str(path)))
        self.overwrite = overwrite
        self.previous: dict[str, str] = {}  # files an earlier run wrote here (manifest)
        self.removed: list[str] = []  # after `commit`: earlier files it removed and did not rewrite

    # -- before any work -----------------------------------------------------------------------
    def check(self, planned_names=()) -> None:
        """Raise OutputError unless results can be written to the folder: it is a folder (or can
        be created), writable, every name fits the file system, and — when it already holds
        files — `--overwrite` was given and none of `planned_names` (top-level names this run
        will write) is a file some other program wrote."""
        out = self.path
        existing = _nearest_existing(out)
        limit = _name_max(existing if existing.is_dir() else existing.parent)
        for part in out.parts:
            if len(os.fsencode(part)) > limit:
                raise OutputError(f"The output folder name has a part of {len(os.fsencode(part))} "
                                  f"bytes; this file system allows at most {limit} per name.")
        if out.is_symlink() and not out.exists():
            raise OutputError(f"--out {out} is a link to {os.readlink(out)}, which does not "
                              "exist; give a folder for the results.")
        if existing != out:  # to be created
            if not existing.is_dir():
                raise OutputError(f"Cannot create the output folder {out}: {existing} is a file.")
            if not os.access(existing, os.W_OK | os.X_OK):
                raise OutputError(f"Cannot create the output folder {out}: no permission to "
                                  f"write in {existing}.")
            return
        if not out.is_dir():
            raise OutputError(f"--out {out} is a file; give a folder for the results.")
        if not os.access(out, os.W_OK | os.X_OK):  # (its results are staged inside it)
            raise OutputError(f"No permission to write in the output folder {out}.")
        if not any(out.iterdir()):
            return
        if not self.overwrite:
            raise OutputError(f"The output folder {out} already holds files; give a new or empty "
                              f"folder, or add --overwrite to replace what {TOOL} wrote there "
                              f"before (nothing else is touched).")
        self.previous = read_manifest(out)
        self._refuse_foreign(planned_names)

    def _refuse_foreign(self, names) -> None:
        for name in names:
            target = self.path / name
            if not (target.exists() or target.is_symlink()):
                continue
            files = [target] if not target.is_dir() else [p for p in target.rglob("*") if not p.is_dir()]
            for item in files:
                if not self._is_ours(item):
                    raise OutputError(f"{item} was not written by {TOOL} (or changed since), so "
                                      f"--overwrite leaves it alone: move it away or choose another "
                                      f"output folder.")

    def _is_ours(self, item: Path) -> bool:
        """A plain file an earlier run wrote here, unchanged, reached without a symlinked folder
        (which could lead anywhere outside `--out`)."""
        rel = item.relative_to(self.path).as_posix()
        expected = self.previous.get(rel)
        through_link = any(p.is_symlink() for p in item.parents if self.path in p.parents)
        return (expected is not None and not through_link and item.is_file() and not item.is_symlink()
                and sha256(item) == expected)

    # -- writing -------------------------------------------------------------------------------
    def staging(self) -> Path:
        """A new hidden folder on the file system `--out` is on, so that `commit` only renames:
        inside an existing `--out` (which may be a mount point of its own: a USB stick), else
        beside the folder to be created. With the permissions the user's umask gives."""
        if self.path.is_dir():
            base = self.path
        else:
            base = self.path.parent
            base.mkdir(parents=True, exist_ok=True)
        folder = Path(tempfile.mkdtemp(prefix=STAGING_PREFIX, dir=base))
        folder.chmod(user_mode())
        return folder

    def commit(self, staging: Path) -> list[str]:
        """Move everything in `staging` into `--out`, with a manifest; returns the files written.

        A new `--out` is the staging folder, renamed. Into an existing folder (which keeps its
        own permissions), the previous run's files (those still as it wrote them) are removed,
        then the new ones move in; a file someone else wrote under one of the new names stops
        the commit first.
        """
        _apply_umask(staging)
        files = sorted(p.relative_to(staging).as_posix() for p in staging.rglob("*") if p.is_file())
        manifest = {"tool": TOOL, "files": {rel: sha256(staging / rel) for rel in files}}
        (staging / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
        os.chmod(staging / MANIFEST, user_mode(directory=False))
        out = self.path
        if not out.exists():
            os.rename(staging, out)
            return files
        top = sorted({rel.split("/", 1)[0] for rel in files})
        self._refuse_foreign(top)
        manifest_path = out / MANIFEST
        if manifest_path.exists() and not _is_manifest(manifest_path):
            raise OutputError(f"{manifest_path} was not written by {TOOL}; move it away.")
        removed = self._remove_previous()
        self.removed = sorted(set(removed) - set(files))
        for name in [*top, MANIFEST]:
            target = out / name
            if target.is_dir() and not target.is_symlink() and not any(target.iterdir()):
                target.rmdir()
            if target.is_dir():
                raise OutputError(f"{target} is a folder {TOOL} did not write; move it away.")
            os.replace(staging / name, target)
        shutil.rmtree(staging, ignore_errors=True)
        return files

    def _remove_previous(self) -> list[str]:
        """Delete the earlier run's files that are still exactly as it wrote them (stale samples
        included), then the folders they leave empty; returns the files deleted."""
        folders, removed = set(), []
        for rel in sorted(self.previous):
            item = self.path / rel
            if item.exists() and self._is_ours(item):
                item.unlink()
                removed.append(rel)
                folders.update(p for p in item.parents if p != self.path and self.path in p.parents)
        for folder in sorted(folders, key=lambda p: len(p.parts), reverse=True):
            with contextlib.suppress(OSError):  # holds something else: keep it
                folder.rmdir()
        manifest = self.path / MANIFEST
        if manifest.is_file() and _is_manifest(manifest):
            manifest.unlink()
        return removed
