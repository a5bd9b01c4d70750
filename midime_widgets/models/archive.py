"""Where checkpoints live on disk, and unpacking checkpoint archives safely.

The cache folder (`cache_dir`, `$MIDIME_WIDGETS_CACHE`) holds downloads and extracted
checkpoints; a folder counts as complete only once `COMPLETE_MARKER` is written, after its
contents were checked. `safe_extract` refuses path traversal, links and devices, and stops at the
first limit passed (member count, unpacked bytes, expansion ratio) before writing past it.
Both the downloader and the checkpoint reader use this module; it imports neither.
"""

from __future__ import annotations

import os
import posixpath
import shutil
import stat
import tarfile
import tempfile
from pathlib import Path

from ..errors import CheckpointError

CACHE_ENV = "MIDIME_WIDGETS_CACHE"
COMPLETE_MARKER = ".midime-widgets-complete"
#: Most bytes a checkpoint archive may unpack to, whatever its own size.
MAX_EXTRACT_BYTES = 8 * 1024 ** 3
#: Most bytes an archive may unpack to per byte of archive: weights barely compress, so a
#: larger ratio means a "tar bomb" (e.g. gigabytes of zeros packed into megabytes).
MAX_EXPANSION_RATIO = 10
#: Most members (files, folders, links) a checkpoint archive may hold; real ones hold a handful.
MAX_ARCHIVE_MEMBERS = 10_000


def cache_dir() -> Path:
    """Where downloads and extracted checkpoints live (created on first use by callers)."""
    override = os.environ.get(CACHE_ENV)
    if override:
        return Path(override).expanduser()
    return Path("~/.cache/midime-widgets").expanduser()


def _within(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)


def _archive_problems(members: list[tarfile.TarInfo]) -> list[str]:
    """Reasons to refuse an archive, judged on member names alone (before writing anything)."""
    problems = []
    for m in members:
        name = m.name
        norm = posixpath.normpath(name)
        if name.startswith(("/", "\\")) or (len(name) > 1 and name[1] == ":"):
            problems.append(f"{name!r} is an absolute path")
        elif norm == ".." or norm.startswith("../"):
            problems.append(f"{name!r} points outside the folder ('..')")
        elif "\x00" in name:
            problems.append(f"{name!r} contains a NUL byte")
        elif m.ischr() or m.isblk() or m.isfifo():
            problems.append(f"{name!r} is a device or fifo")
        elif m.issym() or m.islnk():
            target = m.linkname
            base = posixpath.dirname(norm) if m.issym() else ""
            resolved = posixpath.normpath(posixpath.join(base, target))
            if target.startswith(("/", "\\")) or resolved == ".." or resolved.startswith("../"):
                kind = "symlink" if m.issym() else "hard link"
                problems.append(f"{name!r} is a {kind} to {target!r}, outside the folder")
        elif not (m.isfile() or m.isdir()):
            problems.append(f"{name!r} has an unsupported type ({m.type!r})")
    return problems


def _ends_properly(archive: tarfile.TarFile) -> bool:
    """True when a zero block (end-of-archive marker) follows the last member.

    tarfile stops silently at a truncated header or before missing member data, so a download
    cut short would otherwise extract as a smaller, valid-looking archive."""
    try:
        archive.fileobj.seek(archive.offset)
        tail = archive.fileobj.read(tarfile.BLOCKSIZE)
    except (OSError, EOFError, tarfile.TarError):
        return False
    return len(tail) == tarfile.BLOCKSIZE and not tail.strip(b"\0")


def safe_extract(tar_path: str | os.PathLike, dest: str | os.PathLike, *,
                 max_members: int | None = None, max_bytes: int | None = None) -> Path:
    """Extract a (possibly compressed) tar archive into `dest`, refusing anything unsafe.

    Refused: absolute member names, `..` traversal, symlinks or hard links resolving outside
    `dest` (also through earlier links), devices and fifos, more than `max_members` members
    (default `MAX_ARCHIVE_MEMBERS`) and more than `max_bytes` of files (default: the smaller of
    `MAX_EXTRACT_BYTES` and `MAX_EXPANSION_RATIO` × the archive's size). The limits are checked
    while the member list is read, before anything is written; the whole archive is checked
    before extraction into a temporary folder inside `dest`, so a refused or broken archive leaves
    nothing behind; `dest` should be new or empty (existing names are not overwritten).
    Returns `dest`.
    """
    tar_path, dest = Path(tar_path), Path(dest)
    try:
        archive = tarfile.open(tar_path, "r:*")  # noqa: SIM115 - closed by `with archive:` below
    except (tarfile.TarError, OSError) as exc:
        raise CheckpointError(f"{tar_path} is not a readable tar archive ({exc}); the download "
                              "may be incomplete.") from None
    with archive:
        members = _bounded_members(archive, tar_path, max_members, max_bytes)
        problems = _archive_problems(members)
        if not problems and not _ends_properly(archive):
            raise CheckpointError(f"{tar_path} is cut short (its end-of-archive marker is "
                                  "missing); the download may be incomplete.")
        if problems:
            shown = "; ".join(problems[:5])
            more = f" (and {len(problems) - 5} more)" if len(problems) > 5 else ""
            raise CheckpointError(f"Refusing to extract {tar_path}: {shown}{more}.")
        dest.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".extract-", dir=dest))
        try:
            _extract_members(archive, members, staging, tar_path)
            clashes = [e.name for e in staging.iterdir() if os.path.lexists(dest / e.name)]
            if clashes:
                raise CheckpointError(f"Cannot extract {tar_path} into {dest}: it already holds "
                                      f"{', '.join(sorted(clashes)[:5])}.")
            for entry in sorted(staging.iterdir()):
                os.replace(entry, dest / entry.name)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    return dest


def _extract_limit(tar_path: Path, max_bytes: int | None) -> int:
    if max_bytes is not None:
        return max_bytes
    try:
        packed = tar_path.stat().st_size
    except OSError:
        packed = 0
    return min(MAX_EXTRACT_BYTES, max(MAX_EXPANSION_RATIO * packed, 1 << 20))


def _bounded_members(archive: tarfile.TarFile, tar_path: Path, max_members: int | None,
                     max_bytes: int | None) -> list[tarfile.TarInfo]:
    """The archive's members, read one header at a time and stopped at the first one past a
    limit, so a tar bomb or a flood of members costs neither disk nor minutes."""
    max_members = MAX_ARCHIVE_MEMBERS if max_members is None else max_members
    max_bytes = _extract_limit(tar_path, max_bytes)
    members: list[tarfile.TarInfo] = []
    total = 0
    try:
        for member in archive:
            members.append(member)
            if len(members) > max_members:
                raise CheckpointError(
                    f"Refusing to extract {tar_path}: it holds more than {max_members:,} files "
                    "and folders, far more than any checkpoint (a handful); it is not one.")
            if member.isfile():
                total += member.size
            if total > max_bytes:
                raise CheckpointError(
                    f"Refusing to extract {tar_path}: its files would take more than "
                    f"{max_bytes / 1e6:,.0f} MB ({total / 1e6:,.0f} MB so far, from a "
                    f"{tar_path.stat().st_size / 1e6:,.1f} MB archive); a checkpoint's weights "
                    "barely compress, so this is not one.")
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise CheckpointError(f"{tar_path} is a damaged tar archive ({exc}); the download "
                              "may be incomplete.") from None
    return members


def _extract_members(archive: tarfile.TarFile, members: list[tarfile.TarInfo], root: Path,
                     tar_path: Path) -> None:
    """Extract one member at a time, re-checking real paths on disk (catches link chains)."""
    real_root = os.path.realpath(root)
    use_filter = hasattr(tarfile, "data_filter")  # 3.12+, and 3.10.12 / 3.11.4 backports
    for m in members:
        target = os.path.realpath(os.path.join(real_root, m.name))
        if not _within(target, real_root):
            raise CheckpointError(f"Refusing to extract {tar_path}: {m.name!r} would be written "
                                  "outside the folder (through a link).")
        if m.issym():
            link = os.path.realpath(os.path.join(os.path.dirname(target), m.linkname))
        elif m.islnk():
            link = os.path.realpath(os.path.join(real_root, m.linkname))
        else:
            link = None
        if link is not None and not _within(link, real_root):
            raise CheckpointError(f"Refusing to extract {tar_path}: link {m.name!r} resolves "
                                  "outside the folder.")
        try:
            if use_filter:
                archive.extract(m, real_root, set_attrs=False, filter="data")
            else:
                archive.extract(m, real_root, set_attrs=False)
        except (tarfile.TarError, OSError, EOFError) as exc:
            raise CheckpointError(f"Could not extract {m.name!r} from {tar_path} ({exc}); the "
                                  "archive may be damaged or incomplete.") from None
        if m.isfile():
            os.chmod(target, stat.S_IRUSR | stat.S_IWUSR | stat.S_IRGRP | stat.S_IROTH)
