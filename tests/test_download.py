"""Downloads, safe extraction and the pretrained cache, against a local HTTP server only."""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import socket
import tarfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from midime_widgets.errors import CheckpointError
from midime_widgets.models import download as dl
from midime_widgets.models.configs import CheckpointInfo

FIXTURES = Path(__file__).parent / "fixtures" / "tfjs"
TAR_URL = "https://storage.googleapis.com/magentadata/models/music_vae/checkpoints/tiny.tar"
TAR_PATH = "/magentadata/models/music_vae/checkpoints/tiny.tar"


@pytest.fixture(autouse=True)
def no_internet(monkeypatch):
    """Any connection to a host other than this machine fails loudly."""
    real_connect = socket.socket.connect

    def guarded(self, address):
        host = address[0] if isinstance(address, tuple) else address
        if host not in ("127.0.0.1", "::1", "localhost"):
            raise OSError(f"test tried to reach {address!r}")
        return real_connect(self, address)

    monkeypatch.setattr(socket.socket, "connect", guarded)
    monkeypatch.delenv(dl.BASE_URL_ENV, raising=False)
    monkeypatch.delenv(dl.OFFLINE_ENV, raising=False)  # tests that want it set it themselves


class Server:
    """A tiny HTTP server on 127.0.0.1 serving byte strings, counting requests."""

    def __init__(self):
        self.routes: dict[str, tuple[bytes, str]] = {}
        self.requests: list[str] = []
        routes, requests = self.routes, self.requests

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                requests.append(self.path)
                body, mode = routes.get(self.path, (b"", "missing"))
                if mode == "missing":
                    self.send_error(404, "Not Found")
                    return
                self.send_response(200)
                if mode == "nolength":  # the body ends when the connection closes
                    self.send_header("Connection", "close")
                    self.end_headers()
                    self.wfile.write(body)
                    self.close_connection = True
                    return
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if mode == "truncate":
                    self.wfile.write(body[: len(body) // 2])
                    self.wfile.flush()
                    self.close_connection = True
                    return
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def add(self, path: str, body: bytes, mode: str = "ok") -> str:
        self.routes[path] = (body, mode)
        return self.url + path

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server():
    s = Server()
    yield s
    s.stop()


def make_tar(members: list[tuple]) -> bytes:
    """(name, kind, payload) with kind 'file' (payload bytes), 'dir', 'sym'/'hard' (target),
    'fifo' → tar bytes."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for name, kind, payload in members:
            info = tarfile.TarInfo(name)
            if kind == "file":
                info.size = len(payload)
                tar.addfile(info, io.BytesIO(payload))
                continue
            info.type = {"dir": tarfile.DIRTYPE, "sym": tarfile.SYMTYPE, "hard": tarfile.LNKTYPE,
                         "fifo": tarfile.FIFOTYPE, "chr": tarfile.CHRTYPE}[kind]
            if kind in ("sym", "hard"):
                info.linkname = payload
            tar.addfile(info)
    return buffer.getvalue()


GOOD_TAR = make_tar([
    ("tiny", "dir", None),
    ("tiny/model.ckpt.index", "file", b"index-bytes"),
    ("tiny/model.ckpt.data-00000-of-00001", "file", b"data-bytes" * 100),
    ("tiny/latest", "sym", "model.ckpt.index"),
])


ORACLE = Path(__file__).parent / "fixtures" / "oracle" / "checkpoints" / "cat-mel_2bar_small"
INDEX = (ORACLE / "model.ckpt.index").read_bytes()
DATA = (ORACLE / "model.ckpt.data-00000-of-00001").read_bytes()
# A real (tiny) checkpoint: fetch_pretrained reads every download before marking it complete.
REAL_TAR = make_tar([
    ("tiny", "dir", None),
    ("tiny/model.ckpt.index", "file", INDEX),
    ("tiny/model.ckpt.data-00000-of-00001", "file", DATA),
    ("tiny/latest", "sym", "model.ckpt.index"),
])


def tree(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*")}


# ---- download -----------------------------------------------------------------------------------


def test_download_writes_the_file_and_shows_progress(server, tmp_path, capsys):
    body = os.urandom(300_000)
    url = server.add("/blob.bin", body)
    dest = dl.download(url, tmp_path / "out" / "blob.bin",
                       sha256=hashlib.sha256(body).hexdigest(), size=len(body))
    assert dest.read_bytes() == body
    err = capsys.readouterr().err
    assert "blob.bin [" in err and "100%" in err and "0.3/0.3 MB" in err
    assert tree(tmp_path / "out") == {"blob.bin"}  # no temporary files left


def test_download_can_be_quiet(server, tmp_path, capsys):
    url = server.add("/q.bin", b"abc")
    dl.download(url, tmp_path / "q.bin", progress=False)
    assert capsys.readouterr().err == ""


def test_sha256_mismatch_leaves_nothing(server, tmp_path):
    url = server.add("/blob.bin", b"the real bytes")
    wrong = hashlib.sha256(b"other bytes").hexdigest()
    actual = hashlib.sha256(b"the real bytes").hexdigest()
    with pytest.raises(CheckpointError, match=rf"sha256 is {actual}, expected {wrong}"):
        dl.download(url, tmp_path / "blob.bin", sha256=wrong, progress=False)
    assert tree(tmp_path) == set()


def test_size_mismatch_is_reported(server, tmp_path):
    url = server.add("/blob.bin", b"12345")
    with pytest.raises(CheckpointError, match="5 bytes but the checkpoint table expects 6"):
        dl.download(url, tmp_path / "blob.bin", size=6, progress=False)
    assert tree(tmp_path) == set()


def test_truncated_download_is_reported(server, tmp_path):
    url = server.add("/big.bin", os.urandom(100_000), mode="truncate")
    with pytest.raises(CheckpointError, match=r"cut off: received 50,000 of 100,000 bytes"):
        dl.download(url, tmp_path / "big.bin", progress=False)
    assert tree(tmp_path) == set()


def test_http_errors_and_unreachable_hosts(server, tmp_path):
    with pytest.raises(CheckpointError, match="HTTP 404"):
        dl.download(server.url + "/nope.tar", tmp_path / "nope.tar", progress=False)
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()
    with pytest.raises(CheckpointError, match="Are you online"):
        dl.download(f"http://127.0.0.1:{port}/x", tmp_path / "x", progress=False, timeout=5)
    with pytest.raises(CheckpointError, match="only http"):
        dl.download("ftp://127.0.0.1/x", tmp_path / "x", progress=False)
    assert tree(tmp_path) == set()


# ---- safe extraction ----------------------------------------------------------------------------


def test_good_tar_extracts_with_its_internal_symlink(tmp_path):
    tar_path = tmp_path / "good.tar"
    tar_path.write_bytes(GOOD_TAR)
    dest = dl.safe_extract(tar_path, tmp_path / "dest")
    assert (dest / "tiny" / "model.ckpt.index").read_bytes() == b"index-bytes"
    assert (dest / "tiny" / "latest").is_symlink()
    assert (dest / "tiny" / "latest").read_bytes() == b"index-bytes"
    assert not any(name.startswith(".extract-") for name in os.listdir(dest))


MALICIOUS = {
    "dotdot": [("ok.txt", "file", b"fine"), ("../evil.txt", "file", b"gotcha")],
    "nested-dotdot": [("a/b/../../../evil.txt", "file", b"gotcha")],
    "absolute": [("/tmp/evil-midime-widgets.txt", "file", b"gotcha")],
    "symlink-out": [("link", "sym", "../outside"), ("link/evil.txt", "file", b"gotcha")],
    "symlink-absolute": [("link", "sym", "/etc")],
    "hardlink-out": [("hard", "hard", "../../etc/passwd")],
    # each link looks inside on its own; followed on disk the second one leaves the folder
    "symlink-chain": [("x/y", "dir", None), ("x/y/s1", "sym", "../.."),
                      ("s3", "sym", "x/y/s1/../.."), ("s3/evil.txt", "file", b"gotcha")],
    "fifo": [("pipe", "fifo", None)],
    "device": [("dev", "chr", None)],
}


@pytest.mark.parametrize("case", sorted(MALICIOUS))
def test_malicious_tar_is_refused_and_writes_nothing(tmp_path, case):
    sandbox = tmp_path / "sandbox"
    sandbox.mkdir()
    tar_path = tmp_path / "evil.tar"
    tar_path.write_bytes(make_tar(MALICIOUS[case]))
    before = tree(tmp_path)
    with pytest.raises(CheckpointError, match="Refusing"):
        dl.safe_extract(tar_path, sandbox / "dest")
    after = tree(tmp_path)
    assert after - before <= {"sandbox/dest"}  # at most the (empty) destination folder
    assert not (sandbox / "dest").exists() or not any((sandbox / "dest").iterdir())
    assert not Path("/tmp/evil-midime-widgets.txt").exists()


@pytest.mark.parametrize("cut", [100, 700, 1600, 3000, 3584])
def test_cut_tar_is_refused(tmp_path, cut):
    # 700: inside a header; 1600 / 3000: inside member data; 3584: before the end marker
    tar_path = tmp_path / "cut.tar"
    tar_path.write_bytes(GOOD_TAR[:cut])
    with pytest.raises(CheckpointError, match="damaged|incomplete|not a readable"):
        dl.safe_extract(tar_path, tmp_path / "dest")
    assert not (tmp_path / "dest").exists() or not any((tmp_path / "dest").iterdir())


def test_gzipped_tar_extracts_and_a_cut_one_is_refused(tmp_path):
    import gzip

    packed = gzip.compress(GOOD_TAR)
    (tmp_path / "good.tar.gz").write_bytes(packed)
    dest = dl.safe_extract(tmp_path / "good.tar.gz", tmp_path / "dest")
    assert (dest / "tiny" / "model.ckpt.index").read_bytes() == b"index-bytes"
    (tmp_path / "cut.tar.gz").write_bytes(packed[: len(packed) // 2])
    with pytest.raises(CheckpointError, match="damaged|incomplete|not a readable|cut short"):
        dl.safe_extract(tmp_path / "cut.tar.gz", tmp_path / "dest2")


# ---- pretrained cache ---------------------------------------------------------------------------


def tiny_info(**changes) -> CheckpointInfo:
    fields = dict(name="tiny", config="cat-mel_2bar_small", format="tf", urls=(TAR_URL,),
                  description="test checkpoint")
    fields.update(changes)
    return CheckpointInfo(**fields)


def test_fetch_pretrained_downloads_once_then_works_offline(server, tmp_path, capsys):
    server.add(TAR_PATH, REAL_TAR)
    info = tiny_info(sha256=hashlib.sha256(REAL_TAR).hexdigest(), size=len(REAL_TAR))
    cache = tmp_path / "cache"
    prefix = dl.fetch_pretrained(info, base_url=server.url, cache=cache)
    assert prefix == cache / "checkpoints" / "tiny" / "tiny" / "model.ckpt"
    assert Path(str(prefix) + ".index").read_bytes() == INDEX
    assert server.requests == [TAR_PATH]
    assert "Downloading tiny" in capsys.readouterr().err
    assert not list((cache / "downloads").iterdir())  # tarball removed after extraction
    server.stop()  # no network from here on
    again = dl.fetch_pretrained(info, base_url=server.url, cache=cache)
    assert again == prefix and server.requests == [TAR_PATH]


def test_environment_selects_mirror_and_cache(server, tmp_path, monkeypatch):
    server.add(TAR_PATH, REAL_TAR)
    monkeypatch.setenv(dl.BASE_URL_ENV, server.url)
    monkeypatch.setenv(dl.CACHE_ENV, str(tmp_path / "envcache"))
    assert dl.cache_dir() == tmp_path / "envcache"
    prefix = dl.fetch_pretrained(tiny_info(), progress=False)
    assert prefix.is_relative_to(tmp_path / "envcache")


def test_default_cache_dir(monkeypatch, tmp_path):
    monkeypatch.delenv(dl.CACHE_ENV, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    assert dl.cache_dir() == tmp_path / ".cache" / "midime-widgets"


@pytest.mark.parametrize("mode, body, sha, match", [
    ("ok", REAL_TAR, "0" * 64, "sha256"),
    ("truncate", REAL_TAR, None, "cut off"),
    ("ok", make_tar(MALICIOUS["dotdot"]), None, "Refusing"),
    ("ok", GOOD_TAR, None, "Could not read the TF checkpoint"),  # unpacks, but is no checkpoint
], ids=["sha256", "truncated", "dotdot", "not-a-checkpoint"])
def test_failed_fetch_leaves_no_checkpoint_behind(server, tmp_path, mode, body, sha, match):
    server.add(TAR_PATH, body, mode)
    cache = tmp_path / "cache"
    with pytest.raises(CheckpointError, match=match):
        dl.fetch_pretrained(tiny_info(sha256=sha), base_url=server.url, cache=cache,
                            progress=False)
    assert tree(cache / "checkpoints") == set()
    assert not (cache / "downloads").exists() or tree(cache / "downloads") == set()
    assert not (tmp_path / "evil.txt").exists() and not (cache / "evil.txt").exists()
    # a later good download succeeds
    server.add(TAR_PATH, REAL_TAR)
    assert dl.fetch_pretrained(tiny_info(), base_url=server.url, cache=cache, progress=False)


def test_fetch_tfjs_folder_follows_the_manifest(server, tmp_path):
    from midime_widgets.models.checkpoints import read_checkpoint

    source = FIXTURES / "mel_2bar_tiny_f32"
    base = "/magentadata/js/checkpoints/music_vae/tiny_js"
    for path in source.iterdir():
        server.add(f"{base}/{path.name}", path.read_bytes())
    info = CheckpointInfo("tiny_js", "mel_2bar_small", "tfjs",
                          ("https://storage.googleapis.com" + base,), "test")
    folder = dl.fetch_pretrained(info, base_url=server.url, cache=tmp_path, progress=False)
    assert {p.name for p in folder.iterdir()} >= {p.name for p in source.iterdir()}
    got, _ = read_checkpoint(folder)
    want, _ = read_checkpoint(source)
    assert got.keys() == want.keys()
    assert all((got[k] == want[k]).all() for k in want)


def test_fetch_loose_checkpoint_files(server, tmp_path):
    base = "/download.magenta.tensorflow.org/models/music_vae/colab2/checkpoints/mel_tiny.ckpt"
    server.add(base + ".index", INDEX)
    server.add(base + ".data-00000-of-00001", DATA)
    info = CheckpointInfo("mel_tiny", "flat-mel_16bar", "tf", ("https://storage.googleapis.com"
                                                               + base,), "test",
                          files=(".index", ".data-00000-of-00001"))
    prefix = dl.fetch_pretrained(info, base_url=server.url, cache=tmp_path, progress=False)
    assert prefix.name == "mel_tiny.ckpt" and Path(str(prefix) + ".index").read_bytes() == INDEX


def test_mirror_url_keeps_the_path():
    assert dl.mirror_url(TAR_URL, "http://127.0.0.1:9/") == "http://127.0.0.1:9" + TAR_PATH
    assert dl.mirror_url(TAR_URL, None) == TAR_URL


def test_unknown_pretrained_name(tmp_path):
    with pytest.raises(CheckpointError, match="Unknown pretrained checkpoint"):
        dl.fetch_pretrained("cat-mel_3bar", cache=tmp_path)


# ---- is_cached and the offline switch -----------------------------------------------------------


def test_is_cached_only_after_a_complete_fetch(server, tmp_path):
    from midime_widgets.models import is_cached

    server.add(TAR_PATH, REAL_TAR)
    cache = tmp_path / "cache"
    info = tiny_info()
    assert is_cached(info, cache=cache) is False
    # an interrupted earlier attempt (folder without the completion marker) does not count
    (cache / "checkpoints" / "tiny").mkdir(parents=True)
    assert not is_cached(info, cache=cache)
    dl.fetch_pretrained(info, base_url=server.url, cache=cache, progress=False)
    assert is_cached(info, cache=cache) is True
    assert not is_cached("cat-mel_2bar_big", cache=cache)  # a table name, not downloaded here
    with pytest.raises(CheckpointError, match="Unknown pretrained checkpoint"):
        is_cached("cat-mel_3bar", cache=cache)


def test_is_cached_reads_the_cache_environment(server, tmp_path, monkeypatch):
    server.add(TAR_PATH, REAL_TAR)
    monkeypatch.setenv(dl.CACHE_ENV, str(tmp_path / "envcache"))
    assert not dl.is_cached(tiny_info())
    dl.fetch_pretrained(tiny_info(), base_url=server.url, progress=False)
    assert dl.is_cached(tiny_info()) and not dl.is_cached(tiny_info(), cache=tmp_path / "other")


@pytest.mark.parametrize("value, offline", [("1", True), ("yes", True), ("TRUE", True), ("on", True),
                                            ("", False), ("0", False), ("false", False), ("No", False)])
def test_offline_switch_values(monkeypatch, value, offline):
    monkeypatch.setenv(dl.OFFLINE_ENV, value)
    assert dl.is_offline() is offline


def test_offline_refuses_to_download_but_cached_checkpoints_load(server, tmp_path, monkeypatch):
    server.add(TAR_PATH, REAL_TAR)
    cache = tmp_path / "cache"
    monkeypatch.setenv(dl.OFFLINE_ENV, "1")
    with pytest.raises(CheckpointError,
                       match="'tiny' is not in the cache and MIDIME_WIDGETS_OFFLINE is set"):
        dl.fetch_pretrained(tiny_info(), base_url=server.url, cache=cache, progress=False)
    assert server.requests == []  # no request was made
    assert not cache.exists()  # and nothing was written
    monkeypatch.delenv(dl.OFFLINE_ENV)
    prefix = dl.fetch_pretrained(tiny_info(), base_url=server.url, cache=cache, progress=False)
    assert server.requests == [TAR_PATH]
    monkeypatch.setenv(dl.OFFLINE_ENV, "1")
    server.stop()
    assert dl.fetch_pretrained(tiny_info(), base_url=server.url, cache=cache) == prefix


# ---- limits: tar bombs, member floods, oversized downloads, recorded sha256 ---------------------


def test_a_tar_bomb_is_refused_from_its_headers(tmp_path):
    import gzip

    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for index in range(3):
            info = tarfile.TarInfo(f"tiny/big{index}.bin")
            info.size = 20 * 1024 * 1024
            tar.addfile(info, io.BytesIO(bytes(info.size)))
    packed = gzip.compress(buffer.getvalue(), compresslevel=9)
    (tmp_path / "bomb.tar.gz").write_bytes(packed)
    assert len(packed) < 200_000  # 60 MB of zeros in a few hundred kB
    with pytest.raises(CheckpointError,
                       match=r"would take more than 1 MB \(21 MB so far, from a 0.1 MB archive\)"):
        dl.safe_extract(tmp_path / "bomb.tar.gz", tmp_path / "dest")
    assert not (tmp_path / "dest").exists()
    # an explicit, larger allowance extracts it (the limit is the only reason it was refused)
    dl.safe_extract(tmp_path / "bomb.tar.gz", tmp_path / "dest", max_bytes=100 * 1024 * 1024)
    assert (tmp_path / "dest" / "tiny" / "big2.bin").stat().st_size == 20 * 1024 * 1024


def test_too_many_members_are_refused_before_writing(tmp_path):
    members = [(f"tiny/f{i:05d}", "file", b"x") for i in range(120)]
    (tmp_path / "flood.tar").write_bytes(make_tar(members))
    with pytest.raises(CheckpointError, match="more than 100 files and folders"):
        dl.safe_extract(tmp_path / "flood.tar", tmp_path / "dest", max_members=100)
    assert not (tmp_path / "dest").exists()
    assert dl.MAX_ARCHIVE_MEMBERS >= 1000  # the default leaves room for any real checkpoint
    dl.safe_extract(tmp_path / "flood.tar", tmp_path / "dest", max_members=121)
    assert len(list((tmp_path / "dest" / "tiny").iterdir())) == 120


def test_a_download_without_content_length_is_capped(server, tmp_path):
    body = os.urandom(3 * 1024 * 1024)
    url = server.add("/endless.bin", body, mode="nolength")
    with pytest.raises(CheckpointError, match=r"more than 1,048,576 bytes but at most 1,048,576"):
        dl.download(url, tmp_path / "endless.bin", progress=False, max_bytes=1024 * 1024)
    assert tree(tmp_path) == set()
    with pytest.raises(CheckpointError, match="checkpoint table expects 1,000"):
        dl.download(url, tmp_path / "endless.bin", progress=False, size=1000)
    assert tree(tmp_path) == set()
    got = dl.download(url, tmp_path / "endless.bin", progress=False, max_bytes=len(body))
    assert got.read_bytes() == body


def test_an_announced_length_over_the_cap_is_refused_before_reading(server, tmp_path):
    url = server.add("/big.bin", os.urandom(200_000))
    with pytest.raises(CheckpointError, match="is 200,000 bytes but at most 100,000"):
        dl.download(url, tmp_path / "big.bin", progress=False, max_bytes=100_000)
    assert tree(tmp_path) == set()


def test_sha256_is_recorded_on_first_download_and_checked_after(server, tmp_path):
    server.add(TAR_PATH, REAL_TAR)
    cache = tmp_path / "cache"
    prefix = dl.fetch_pretrained(tiny_info(), base_url=server.url, cache=cache, progress=False)
    record = json.loads((cache / "checkpoints" / "tiny.sha256.json").read_text())
    assert record["files"]["tiny/model.ckpt.index"] == hashlib.sha256(INDEX).hexdigest()
    data_name = "tiny/model.ckpt.data-00000-of-00001"
    assert record["files"][data_name] == hashlib.sha256(DATA).hexdigest()
    # a cached file that changed is noticed on the next use
    data_file = Path(str(prefix) + ".data-00000-of-00001")
    data_file.chmod(0o644)
    data_file.write_bytes(bytes([DATA[0] ^ 0xFF]) + DATA[1:])
    with pytest.raises(CheckpointError, match="has changed since it was downloaded"):
        dl.fetch_pretrained(tiny_info(), base_url=server.url, cache=cache, progress=False)
    # a re-download that differs from the first one is refused and leaves nothing behind
    shutil.rmtree(cache / "checkpoints" / "tiny")
    other = ORACLE.parent / "cat-drums_2bar_small"
    server.add(TAR_PATH, make_tar([
        ("tiny/model.ckpt.index", "file", (other / "model.ckpt.index").read_bytes()),
        ("tiny/model.ckpt.data-00000-of-00001", "file",
         (other / "model.ckpt.data-00000-of-00001").read_bytes())]))
    with pytest.raises(CheckpointError, match="differs from the first one"):
        dl.fetch_pretrained(tiny_info(), base_url=server.url, cache=cache, progress=False)
    assert tree(cache / "checkpoints") == {"tiny.sha256.json"}
    # the same files as the first time are accepted again
    server.add(TAR_PATH, REAL_TAR)
    assert dl.fetch_pretrained(tiny_info(), base_url=server.url, cache=cache,
                               progress=False) == prefix


def test_tfjs_shards_are_capped_by_the_manifest(server, tmp_path):
    source = FIXTURES / "mel_2bar_tiny_f32"
    base = "/magentadata/js/checkpoints/music_vae/tiny_js"
    for path in source.iterdir():
        server.add(f"{base}/{path.name}", path.read_bytes())
    shard = sorted(source.glob("group1-shard*"))[0]
    server.add(f"{base}/{shard.name}", shard.read_bytes() + os.urandom(5 * 1024 * 1024),
               mode="nolength")
    info = CheckpointInfo("tiny_js", "mel_2bar_small", "tfjs",
                          ("https://storage.googleapis.com" + base,), "test")
    with pytest.raises(CheckpointError, match="more than .* bytes but at most"):
        dl.fetch_pretrained(info, base_url=server.url, cache=tmp_path, progress=False)
    assert tree(tmp_path / "checkpoints") == set()


def test_tfjs_downloads_are_capped_by_the_published_size(server, tmp_path):
    source = FIXTURES / "mel_2bar_tiny_f32"
    base = "/magentadata/js/checkpoints/music_vae/tiny_js"
    for path in source.iterdir():
        server.add(f"{base}/{path.name}", path.read_bytes())
    shards = sum(p.stat().st_size for p in source.glob("group1-shard*"))
    info = CheckpointInfo("tiny_js", "mel_2bar_small", "tfjs",
                          ("https://storage.googleapis.com" + base,), "test", size=shards - 1)
    with pytest.raises(CheckpointError, match="more weights than checkpoint 'tiny_js' is "
                                              "published to hold"):
        dl.fetch_pretrained(info, base_url=server.url, cache=tmp_path, progress=False)
    assert tree(tmp_path / "checkpoints") == set()
