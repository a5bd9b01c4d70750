"""Download pretrained checkpoints once, verify them, unpack them safely, and reuse them offline.

- `cache_dir()`: `$MIDIME_WIDGETS_CACHE`, else `~/.cache/midime-widgets`.
- `download(url, dest, sha256=, size=, max_bytes=)`: streams to a temporary file next to `dest`
  with a progress bar on stderr, stops as soon as the body is larger than expected (the table's
  size, else the announced Content-Length, else `max_bytes` / `MAX_DOWNLOAD_BYTES`), checks
  Content-Length / size / sha256, then renames atomically.
- `safe_extract(tar, dest)`: refuses absolute names, `..` traversal, links leading outside
  `dest`, devices and fifos, more than `MAX_ARCHIVE_MEMBERS` members and more extracted bytes than
  `MAX_EXTRACT_BYTES` (or `MAX_EXPANSION_RATIO` × the archive's size); writes nothing at all when
  an archive is refused.
- `fetch_pretrained(name)`: download + extract a CHECKPOINTS entry into the cache once, read it to
  check it, and only then mark it complete; later calls touch no network. The sha256 of every file
  is recorded beside the checkpoint on the first download (`<name>.sha256.json`) and checked on
  every later use and re-download. `$MIDIME_WIDGETS_BASE_URL` (or `base_url=`) replaces the
  scheme and host of the table's URLs, keeping their paths, e.g. a local mirror
  `http://127.0.0.1:8000` or `file:///srv`.
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
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import IO

from .._version import __version__
from ..errors import CheckpointError
from .archive import (
    CACHE_ENV,
    COMPLETE_MARKER,
    MAX_ARCHIVE_MEMBERS,
    MAX_EXPANSION_RATIO,
    MAX_EXTRACT_BYTES,
    cache_dir,
    safe_extract,
)
from .checkpoint_files import find_checkpoint_prefix
from .checkpoints import TFJS_MANIFEST, check_tfjs_manifest, read_checkpoint
from .configs import CheckpointInfo, get_checkpoint_info

__all__ = ["cache_dir", "download", "safe_extract", "fetch_pretrained", "is_cached", "is_offline",
           "mirror_url", "CACHE_ENV", "BASE_URL_ENV", "OFFLINE_ENV", "MAX_DOWNLOAD_BYTES",
           "MAX_EXTRACT_BYTES", "MAX_EXPANSION_RATIO", "MAX_ARCHIVE_MEMBERS"]

BASE_URL_ENV = "MIDIME_WIDGETS_BASE_URL"
OFFLINE_ENV = "MIDIME_WIDGETS_OFFLINE"
_OFF_VALUES = ("", "0", "false", "no", "off")
#: Suffix of the file beside a cached checkpoint that records its files' sha256 digests.
DIGESTS_SUFFIX = ".sha256.json"
#: Largest download accepted when neither the checkpoint table nor the server gives a size.
#: Generous on purpose: the table records no byte size for the official TF tarballs (not
#: published); the largest MusicVAE magenta.js publishes is 1.7 GB, and TF checkpoints that keep
#: Adam's two slots per weight are about three times their model.
MAX_DOWNLOAD_BYTES = 8 * 1024 ** 3
#: Largest config.json / weights_manifest.json downloaded for a magenta.js checkpoint.
MAX_JSON_DOWNLOAD_BYTES = 16 * 1024 ** 2
_CHUNK = 1 << 20
_TIMEOUT_S = 60.0




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
             label: str | None = None, max_bytes: int | None = None) -> Path:
    """Download `url` to `dest` atomically and verify it.

    The body streams into a temporary file beside `dest`, which is renamed into place only after
    its length matches the server's Content-Length (and `size`, when given) and its sha256
    matches `sha256` (when given). Reading stops as soon as the body is longer than expected:
    `size`, else the announced Content-Length, else `max_bytes` (default `MAX_DOWNLOAD_BYTES`); an
    announced length above `size` / `max_bytes` is refused before reading. Any failure leaves no
    file at `dest` and raises CheckpointError.
    """
    dest = Path(dest)
    cap = _download_cap(size, max_bytes)
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".part", dir=dest.parent)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out, _open(url, timeout) as response:
            announced = _content_length(response)
            if announced is not None and announced > cap:
                raise _too_big(url, announced, cap, size)
            bar = None
            if progress:
                bar = _Progress(label or f"Downloading {dest.name}", announced or size)
            limit = min(cap, announced) if announced is not None else cap
            digest, received = _stream(response, out, bar, url, limit)
            if received > limit:  # urllib never reads past Content-Length: so limit == cap
                raise _too_big(url, cap, cap, size, at_least=True)
            if bar:
                bar.update(received, final=True)
        _verify(url, received, announced, size, digest.hexdigest(), sha256)
        os.replace(tmp, dest)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return dest


def _download_cap(size: int | None, max_bytes: int | None) -> int:
    """The most bytes a download may have: the expected size, else `max_bytes`, else the
    global cap."""
    if size is not None:
        return size
    return MAX_DOWNLOAD_BYTES if max_bytes is None else max_bytes


def _too_big(url: str, got: int, cap: int, size: int | None, at_least: bool = False,
             ) -> CheckpointError:
    what = (f"the checkpoint table expects {cap:,}" if size is not None
            else f"at most {cap:,} are accepted for this file")
    more = "more than " if at_least else ""
    return CheckpointError(f"The download of {url} is {more}{got:,} bytes but {what}: it is not "
                           "the expected file, so it was not kept.")


def _content_length(response) -> int | None:
    value = response.headers.get("Content-Length")
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def _stream(response, out, bar: _Progress | None, url: str, limit: int):
    """Copy the body to `out`; stops once more than `limit` bytes came (the caller refuses it)."""
    digest, received = hashlib.sha256(), 0
    try:
        while received <= limit:
            chunk = response.read(min(_CHUNK, limit + 1 - received))
            if not chunk:
                break
            out.write(chunk)
            digest.update(chunk)
            received += len(chunk)
            if bar:
                bar.update(received)
    except (TimeoutError, OSError, http.client.HTTPException) as exc:
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


def _info(name_or_info: str | CheckpointInfo) -> CheckpointInfo:
    if isinstance(name_or_info, CheckpointInfo):
        return name_or_info
    return get_checkpoint_info(name_or_info)


def is_cached(name_or_info: str | CheckpointInfo, *, cache: str | os.PathLike | None = None) -> bool:
    """True when checkpoint `name_or_info` (a CHECKPOINTS key or a CheckpointInfo) is completely
    downloaded in the cache (`cache`, default :func:`cache_dir`), so loading it needs no network.

    A download that was interrupted does not count. Unknown names raise CheckpointError.
    """
    return (_cached_folder(_info(name_or_info), cache) / COMPLETE_MARKER).is_file()


def fetch_pretrained(name: str | CheckpointInfo, *, base_url: str | None = None,
                     cache: str | os.PathLike | None = None, progress: bool = True) -> Path:
    """Local path of a pretrained checkpoint, downloading and unpacking it the first time.

    `name` is a key of CHECKPOINTS (or a CheckpointInfo). Returns the TF checkpoint prefix for
    "tf" checkpoints and the folder for magenta.js ("tfjs") ones. Once complete, the cached copy
    is used without any network access. `base_url` (default `$MIDIME_WIDGETS_BASE_URL`) points
    downloads at a mirror that has the same paths as the official storage. With
    `$MIDIME_WIDGETS_OFFLINE` set, a checkpoint that is not cached raises CheckpointError instead
    of being downloaded (from any URL, mirrors included).

    A new download is read once (every weight checked) before it is marked complete; a failure
    removes everything this call wrote. The sha256 of each file is recorded beside the folder on
    the first download and compared on every later call and on any re-download.
    """
    info = _info(name)
    root = Path(cache) if cache is not None else cache_dir()
    final = _cached_folder(info, root)
    if (final / COMPLETE_MARKER).is_file():
        if _digests_path(info, final).is_file():
            _check_digests(info, final, _file_digests(final))
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
        _validate_contents(info, staging)
        digests = _file_digests(staging)
        _check_digests(info, final, digests, fresh=True)
        (staging / COMPLETE_MARKER).write_text(json.dumps(info.to_dict(), indent=1))
        if final.exists():  # an earlier, interrupted attempt (no marker): replace it
            shutil.rmtree(final)
        os.replace(staging, final)
        _record_digests(info, final, digests)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        if (final / COMPLETE_MARKER).is_file():  # another process finished first
            return _local_checkpoint(info, final)
        raise
    return _local_checkpoint(info, final)


def _validate_contents(info: CheckpointInfo, folder: Path) -> None:
    """Read the downloaded checkpoint (every weight, NaN/Inf refused) before it counts as done."""

    read_checkpoint(_local_checkpoint(info, folder))


def _digests_path(info: CheckpointInfo, folder: Path) -> Path:
    return folder.parent / f"{info.name}{DIGESTS_SUFFIX}"


def _file_digests(folder: Path) -> dict[str, str]:
    """sha256 of every regular file under `folder` (the completion marker excluded)."""
    digests = {}
    for path in sorted(folder.rglob("*")):
        if path.is_file() and not path.is_symlink() and path.name != COMPLETE_MARKER:
            digests[path.relative_to(folder).as_posix()] = _sha256_file(path)
    return digests


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _check_digests(info: CheckpointInfo, folder: Path, digests: dict[str, str],
                   fresh: bool = False) -> None:
    """Compare `digests` with those recorded on the first download (if any)."""
    recorded_path = _digests_path(info, folder)
    try:
        recorded = json.loads(recorded_path.read_text(encoding="utf-8"))["files"]
    except FileNotFoundError:
        return
    except (OSError, ValueError, KeyError, TypeError):
        raise CheckpointError(f"The record of checkpoint {info.name!r}'s files, {recorded_path}, "
                              "is damaged; delete it (and the folder) to download again.") from None
    changed = sorted(n for n in set(recorded) | set(digests) if recorded.get(n) != digests.get(n))
    if not changed:
        return
    shown = ", ".join(changed[:5]) + (f" and {len(changed) - 5} more" if len(changed) > 5 else "")
    if fresh:
        raise CheckpointError(
            f"The new download of checkpoint {info.name!r} differs from the first one recorded "
            f"in {recorded_path} ({shown}); the server's files changed or were tampered with, so "
            "it was not kept. Delete that record to accept the new files.")
    raise CheckpointError(
        f"The cached checkpoint {info.name!r} in {folder} has changed since it was downloaded "
        f"({shown}); delete the folder {folder} to download it again.")


def _record_digests(info: CheckpointInfo, folder: Path, digests: dict[str, str]) -> None:
    path = _digests_path(info, folder)
    if path.exists():
        return
    tmp = path.with_name(path.name + ".part")
    tmp.write_text(json.dumps({"name": info.name, "urls": list(info.urls), "files": digests},
                              indent=1))
    os.replace(tmp, path)


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
    """config.json, the manifest, then exactly the shards it names, each capped by the bytes
    the manifest says its group holds (and the whole by the table's published size)."""

    folder_url = mirror_url(info.urls[0], base_url).rstrip("/")
    for name in ("config.json", TFJS_MANIFEST):
        download(f"{folder_url}/{name}", staging / name, progress=False,
                 max_bytes=MAX_JSON_DOWNLOAD_BYTES)
    groups = check_tfjs_manifest(staging)
    budget = _published_bytes(info)
    for paths, expected in groups:
        if budget is not None and expected > budget:
            raise CheckpointError(
                f"{folder_url}/{TFJS_MANIFEST} describes more weights than checkpoint "
                f"{info.name!r} is published to hold ({_published_bytes(info) / 1e6:.1f} MB "
                "at most); it is not the expected checkpoint.")
        for shard in paths:
            got = download(f"{folder_url}/{shard}", staging / shard, progress=progress,
                           label=f"Downloading {info.name}/{shard}", max_bytes=expected)
            size = got.stat().st_size
            expected -= size
            if budget is not None:
                budget -= size


def _published_bytes(info: CheckpointInfo) -> int | None:
    """A generous cap from the table's published size in MB (rounded there): 1.5 × + 1 MB."""
    if info.size is not None:
        return info.size
    if info.size_mb is None:
        return None
    return int(info.size_mb * 1.5e6) + (1 << 20)
