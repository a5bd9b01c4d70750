"""Download pretrained checkpoints once, verify them, unpack them safely, and reuse them offline.

- `cache_dir()`: `$MIDIME_WIDGETS_CACHE`, else `~/.cache/midime-widgets`.
- `download(url, dest, sha256=, size=)`: streams to a temporary file next to `dest` with a
  progress bar on stderr, checks Content-Length / size / sha256, then renames atomically.
- `safe_extract(tar, dest)`: refuses absolute names, `..` traversal, links leading outside
  `dest`, devices and fifos; writes nothing at all when an archive is refused.
- `fetch_pretrained(name)`: download + extract a CHECKPOINTS entry into the cache once; later calls
  touch no network. `$MIDIME_WIDGETS_BASE_URL` (or `base_url=`) replaces the scheme and host of the
  table's URLs, keeping their paths, e.g. a local mirror `http://127.0.0.1:8000` or `file:///srv`.
- `is_cached(name)`: whether that checkpoint is complete in the cache (loads with no download).
- `$MIDIME_WIDGETS_OFFLINE=1` (also `true` / `yes` / `on`): never download; a checkpoint that is
  not cached raises CheckpointError saying so, cached ones still load.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import os
import posixpath
import shutil
import socket
import stat
import sys
import tarfile
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import IO

from .._version import __version__
from ..errors import CheckpointError
from .checkpoint_files import find_checkpoint_prefix
from .configs import CheckpointInfo, get_checkpoint_info

__all__ = ["cache_dir", "download", "safe_extract", "fetch_pretrained", "is_cached", "is_offline",
           "mirror_url", "CACHE_ENV", "BASE_URL_ENV", "OFFLINE_ENV"]

CACHE_ENV = "MIDIME_WIDGETS_CACHE"
BASE_URL_ENV = "MIDIME_WIDGETS_BASE_URL"
OFFLINE_ENV = "MIDIME_WIDGETS_OFFLINE"
_OFF_VALUES = ("", "0", "false", "no", "off")
COMPLETE_MARKER = ".midime-widgets-complete"
_CHUNK = 1 << 20
_TIMEOUT_S = 60.0


def cache_dir() -> Path:
    """Where downloads and extracted checkpoints live (created on first use by callers)."""
    override = os.environ.get(CACHE_ENV)
    if override:
        return Path(override).expanduser()
    return Path("~/.cache/midime-widgets").expanduser()


def is_offline() -> bool:
    """True when `$MIDIME_WIDGETS_OFFLINE` is set to anything but empty / 0 / false / no / off."""
    return os.environ.get(OFFLINE_ENV, "").strip().lower() not in _OFF_VALUES


# ---------------------------------------------------------------------------------------------
# Download
# ---------------------------------------------------------------------------------------------


class _Progress:
    """A one-line text progress bar on stderr (redrawn at most ~10 times a second)."""

    WIDTH = 30

    def __init__(self, label: str, total: int | None, stream: IO[str] | None = None):
        self.label, self.total = label, total
        self.stream = stream if stream is not None else sys.stderr
        self.last = 0.0

    def update(self, done: int, *, final: bool = False) -> None:
        now = time.monotonic()
        if not final and now - self.last < 0.1:
            return
        self.last = now
        if self.total:
            frac = min(done / self.total, 1.0)
            filled = int(round(frac * self.WIDTH))
            bar = "#" * filled + "." * (self.WIDTH - filled)
            line = (f"{self.label} [{bar}] {frac:4.0%} "
                    f"{done / 1e6:.1f}/{self.total / 1e6:.1f} MB")
        else:
            line = f"{self.label} {done / 1e6:.1f} MB"
        self.stream.write("\r" + line)
        if final:
            self.stream.write("\n")
        self.stream.flush()


def _open(url: str, timeout: float):
    """urlopen with a clear CheckpointError for HTTP errors and unreachable hosts."""
    scheme = urllib.parse.urlsplit(url).scheme
    if scheme not in ("http", "https", "file"):
        raise CheckpointError(f"Cannot download {url!r}: only http(s) and file URLs are supported.")
    request = urllib.request.Request(url, headers={"User-Agent": f"midime-widgets/{__version__}"})
    try:
        return urllib.request.urlopen(request, timeout=timeout)
    except urllib.error.HTTPError as exc:
        raise CheckpointError(f"Could not download {url}: the server answered HTTP {exc.code} "
                              f"{exc.reason}.") from None
    except (urllib.error.URLError, OSError, http.client.HTTPException) as exc:
        reason = getattr(exc, "reason", exc)
        raise CheckpointError(f"Could not download {url}: {reason}. Are you online? (Set "
                              f"{BASE_URL_ENV} to use a mirror.)") from None


def download(url: str, dest: str | os.PathLike, *, sha256: str | None = None,
             size: int | None = None, progress: bool = True, timeout: float = _TIMEOUT_S,
             label: str | None = None) -> Path:
    """Download `url` to `dest` atomically and verify it.

    The body streams into a temporary file beside `dest`, which is renamed into place only after
    its length matches the server's Content-Length (and `size`, when given) and its sha256
    matches `sha256` (when given). Any failure leaves no file at `dest` and raises CheckpointError.
    """
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".part", dir=dest.parent)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out, _open(url, timeout) as response:
            announced = _content_length(response)
            bar = None
            if progress:
                bar = _Progress(label or f"Downloading {dest.name}", announced or size)
            digest, received = _stream(response, out, bar, url)
            if bar:
                bar.update(received, final=True)
        _verify(url, received, announced, size, digest.hexdigest(), sha256)
        os.replace(tmp, dest)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return dest


def _content_length(response) -> int | None:
    value = response.headers.get("Content-Length")
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def _stream(response, out, bar: _Progress | None, url: str):
    digest, received = hashlib.sha256(), 0
    try:
        while True:
            chunk = response.read(_CHUNK)
            if not chunk:
                break
            out.write(chunk)
            digest.update(chunk)
            received += len(chunk)
            if bar:
                bar.update(received)
    except (OSError, socket.timeout, http.client.HTTPException) as exc:
        raise CheckpointError(f"The download of {url} broke off after {received:,} bytes "
                              f"({exc.__class__.__name__}: {exc}); try again.") from None
    return digest, received


def _verify(url: str, received: int, announced: int | None, size: int | None,
            actual_sha: str, sha256: str | None) -> None:
    if announced is not None and received != announced:
        raise CheckpointError(f"The download of {url} was cut off: received {received:,} of "
                              f"{announced:,} bytes. Try again.")
    if size is not None and received != size:
        raise CheckpointError(f"The download of {url} has {received:,} bytes but the checkpoint "
                              f"table expects {size:,}: the file changed or is damaged.")
    if sha256 is not None and actual_sha.lower() != sha256.lower():
        raise CheckpointError(f"The download of {url} is corrupt or not the expected file: its "
                              f"sha256 is {actual_sha}, expected {sha256.lower()}.")


# ---------------------------------------------------------------------------------------------
# Safe tar extraction
# ---------------------------------------------------------------------------------------------


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


def safe_extract(tar_path: str | os.PathLike, dest: str | os.PathLike) -> Path:
    """Extract a (possibly compressed) tar archive into `dest`, refusing anything unsafe.

    Refused: absolute member names, `..` traversal, symlinks or hard links resolving outside
    `dest` (also through earlier links), devices and fifos. The whole archive is checked first and
    extracted into a temporary folder inside `dest`, so a refused or broken archive leaves nothing
    behind; `dest` should be new or empty (existing names are not overwritten). Returns `dest`.
    """
    tar_path, dest = Path(tar_path), Path(dest)
    try:
        archive = tarfile.open(tar_path, "r:*")
    except (tarfile.TarError, OSError) as exc:
        raise CheckpointError(f"{tar_path} is not a readable tar archive ({exc}); the download "
                              "may be incomplete.") from None
    with archive:
        try:
            members = archive.getmembers()
        except (tarfile.TarError, OSError, EOFError) as exc:
            raise CheckpointError(f"{tar_path} is a damaged tar archive ({exc}); the download "
                                  "may be incomplete.") from None
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


# ---------------------------------------------------------------------------------------------
# Pretrained checkpoints
# ---------------------------------------------------------------------------------------------


def mirror_url(url: str, base_url: str | None) -> str:
    """`url` with its scheme and host replaced by `base_url` (path kept); unchanged if None."""
    if not base_url:
        return url
    path = urllib.parse.urlsplit(url).path
    return base_url.rstrip("/") + path


def _cached_folder(info: CheckpointInfo, cache: str | os.PathLike | None) -> Path:
    root = Path(cache) if cache is not None else cache_dir()
    return root / "checkpoints" / info.name


def _info(name_or_info: "str | CheckpointInfo") -> CheckpointInfo:
    if isinstance(name_or_info, CheckpointInfo):
        return name_or_info
    return get_checkpoint_info(name_or_info)


def is_cached(name_or_info: "str | CheckpointInfo", *, cache: str | os.PathLike | None = None) -> bool:
    """True when checkpoint `name_or_info` (a CHECKPOINTS key or a CheckpointInfo) is completely
    downloaded in the cache (`cache`, default :func:`cache_dir`), so loading it needs no network.

    A download that was interrupted does not count. Unknown names raise CheckpointError.
    """
    return (_cached_folder(_info(name_or_info), cache) / COMPLETE_MARKER).is_file()


def fetch_pretrained(name: "str | CheckpointInfo", *, base_url: str | None = None,
                     cache: str | os.PathLike | None = None, progress: bool = True) -> Path:
    """Local path of a pretrained checkpoint, downloading and unpacking it the first time.

    `name` is a key of CHECKPOINTS (or a CheckpointInfo). Returns the TF checkpoint prefix for
    "tf" checkpoints and the folder for magenta.js ("tfjs") ones. Once complete, the cached copy
    is used without any network access. `base_url` (default `$MIDIME_WIDGETS_BASE_URL`) points
    downloads at a mirror that has the same paths as the official storage. With
    `$MIDIME_WIDGETS_OFFLINE` set, a checkpoint that is not cached raises CheckpointError instead
    of being downloaded (from any URL, mirrors included).
    """
    info = _info(name)
    root = Path(cache) if cache is not None else cache_dir()
    final = _cached_folder(info, root)
    if (final / COMPLETE_MARKER).is_file():
        return _local_checkpoint(info, final)
    if is_offline():
        raise CheckpointError(
            f"Checkpoint {info.name!r} is not in the cache and {OFFLINE_ENV} is set, so it is "
            f"not downloaded (looked in {final}). Unset {OFFLINE_ENV} and run once with internet "
            f"access, or point {CACHE_ENV} at a cache that already holds it.")
    base_url = base_url if base_url is not None else os.environ.get(BASE_URL_ENV) or None
    final.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{info.name}.", suffix=".partial", dir=final.parent))
    try:
        if info.format == "tfjs":
            _fetch_tfjs(info, staging, base_url, progress)
        elif info.files:
            _fetch_files(info, staging, base_url, progress)
        else:
            _fetch_tar(info, staging, root / "downloads", base_url, progress)
        (staging / COMPLETE_MARKER).write_text(json.dumps(info.to_dict(), indent=1))
        if final.exists():  # an earlier, interrupted attempt (no marker): replace it
            shutil.rmtree(final)
        os.replace(staging, final)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        if (final / COMPLETE_MARKER).is_file():  # another process finished first
            return _local_checkpoint(info, final)
        raise
    return _local_checkpoint(info, final)


def _local_checkpoint(info: CheckpointInfo, folder: Path) -> Path:
    if info.format == "tfjs":
        return folder
    return find_checkpoint_prefix(folder)


def _fetch_tar(info: CheckpointInfo, staging: Path, downloads: Path, base_url: str | None,
               progress: bool) -> None:
    tar_path = downloads / f"{info.name}.tar"
    errors = []
    for url in info.urls:
        try:
            download(mirror_url(url, base_url), tar_path, sha256=info.sha256, size=info.size,
                     progress=progress, label=f"Downloading {info.name}")
            break
        except CheckpointError as exc:
            errors.append(str(exc))
    else:
        raise CheckpointError(f"Could not download checkpoint {info.name!r}:\n  " +
                              "\n  ".join(errors))
    try:
        safe_extract(tar_path, staging)
    finally:
        tar_path.unlink(missing_ok=True)


def _fetch_files(info: CheckpointInfo, staging: Path, base_url: str | None,
                 progress: bool) -> None:
    prefix_url = mirror_url(info.urls[0], base_url)
    stem = posixpath.basename(urllib.parse.urlsplit(prefix_url).path)
    for suffix in info.files:
        download(prefix_url + suffix, staging / (stem + suffix), progress=progress,
                 label=f"Downloading {stem}{suffix}")


def _fetch_tfjs(info: CheckpointInfo, staging: Path, base_url: str | None,
                progress: bool) -> None:
    folder_url = mirror_url(info.urls[0], base_url).rstrip("/")
    for name in ("config.json", "weights_manifest.json"):
        download(f"{folder_url}/{name}", staging / name, progress=False)
    try:
        manifest = json.loads((staging / "weights_manifest.json").read_text(encoding="utf-8"))
        shards = [p for group in manifest for p in group["paths"]]
    except (ValueError, TypeError, KeyError):
        raise CheckpointError(f"{folder_url}/weights_manifest.json is not a TensorFlow.js "
                              "weights manifest.") from None
    for shard in shards:
        parts = Path(shard).parts
        if Path(shard).is_absolute() or ".." in parts or "://" in shard or not parts:
            raise CheckpointError(f"Refusing weight shard {shard!r} named in "
                                  f"{folder_url}/weights_manifest.json: it leaves the folder.")
        download(f"{folder_url}/{shard}", staging / shard, progress=progress,
                 label=f"Downloading {info.name}/{shard}")
