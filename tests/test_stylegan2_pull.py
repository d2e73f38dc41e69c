"""Downloads against a loopback HTTP server with Range support: full, resumed, corrupted."""

from __future__ import annotations

import hashlib
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from latentreel.errors import ModelError
from latentreel.models.stylegan2 import pull

DATA = bytes(range(256)) * 1200  # 300 KiB: several 1 MiB-chunk reads are not needed


class FileServer:
    """Serves ``data`` at ``path``; honours ``Range: bytes=N-`` unless told not to."""

    def __init__(self, data: bytes = DATA, ranges: bool = True, cut_after: int | None = None,
                 path: str = "/net.pkl"):
        self.data, self.ranges, self.cut_after, self.path = data, ranges, cut_after, path
        self.requests: list[dict] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # keep pytest output clean
                pass

            def do_GET(self):
                server.requests.append(dict(self.headers))
                if self.path != server.path:
                    self.send_error(404)
                    return
                m = re.fullmatch(r"bytes=(\d+)-", self.headers.get("Range", ""))
                start = int(m.group(1)) if m and server.ranges else 0
                if start >= len(server.data) and m and server.ranges:
                    self.send_response(416)
                    self.send_header("Content-Range", f"bytes */{len(server.data)}")
                    self.end_headers()
                    return
                body = server.data[start:]
                self.send_response(206 if start else 200)
                if start:
                    self.send_header("Content-Range",
                                     f"bytes {start}-{len(server.data) - 1}/{len(server.data)}")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body[:server.cut_after] if server.cut_after else body)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}{path}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("LATENTREEL_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache" / "models"


SHA = hashlib.sha256(DATA).hexdigest()


def test_full_download_verifies_renames_and_records_the_hash(cache):
    with FileServer() as srv:
        result = pull.pull_model("mynet", url=srv.url, sha256=SHA.upper(), progress=False)
    assert result.path == cache / "mynet.pkl" and result.path.read_bytes() == DATA
    assert (result.sha256, result.downloaded, result.resumed_from) == (SHA, len(DATA), 0)
    assert not (cache / "mynet.pkl.part").exists()
    assert pull.recorded_sha256(result.path) == SHA
    assert pull.installed_file("mynet") == result.path
    with FileServer() as srv:  # a second pull finds it intact and fetches nothing
        again = pull.pull_model("mynet", url=srv.url, progress=False)
        assert srv.requests == []
    assert again.downloaded == 0


def test_a_partial_download_resumes_with_a_range_request(cache):
    cache.mkdir(parents=True)
    (cache / "mynet.pkl.part").write_bytes(DATA[:100_000])
    with FileServer() as srv:
        result = pull.pull_model("mynet", url=srv.url, sha256=SHA, progress=False)
        assert srv.requests[0]["Range"] == "bytes=100000-"
    assert (result.resumed_from, result.downloaded) == (100_000, len(DATA) - 100_000)
    assert result.path.read_bytes() == DATA


def test_a_server_without_ranges_restarts_the_download(cache):
    cache.mkdir(parents=True)
    (cache / "mynet.pkl.part").write_bytes(b"stale bytes from another file")
    with FileServer(ranges=False) as srv:
        result = pull.pull_model("mynet", url=srv.url, sha256=SHA, progress=False)
    assert (result.resumed_from, result.downloaded) == (0, len(DATA))
    assert result.path.read_bytes() == DATA


def test_an_oversized_partial_file_starts_over(cache):
    cache.mkdir(parents=True)
    (cache / "mynet.pkl.part").write_bytes(DATA + b"extra")
    with FileServer() as srv:
        result = pull.pull_model("mynet", url=srv.url, sha256=SHA, progress=False)
    assert result.path.read_bytes() == DATA


def test_a_hash_mismatch_deletes_the_download(cache):
    with FileServer() as srv, pytest.raises(ModelError, match="SHA-256 mismatch: expected 0+, "
                                                              f"got {SHA}; the download was"):
        pull.pull_model("mynet", url=srv.url, sha256="0" * 64, progress=False)
    assert list(cache.iterdir()) == []


def test_a_broken_connection_keeps_the_part_for_resuming(cache):
    with FileServer(cut_after=50_000) as srv, pytest.raises(
            ModelError, match="stopped at 50000 of 307200 bytes; run the same command again"):
        pull.pull_model("mynet", url=srv.url, progress=False)
    assert (cache / "mynet.pkl.part").stat().st_size == 50_000
    with FileServer() as srv:
        result = pull.pull_model("mynet", url=srv.url, sha256=SHA, progress=False)
    assert result.resumed_from == 50_000 and result.path.read_bytes() == DATA


def test_a_changed_installed_file_is_fetched_again(cache):
    with FileServer() as srv:
        pull.pull_model("mynet", url=srv.url, progress=False)
        (cache / "mynet.pkl").write_bytes(b"damaged")
        result = pull.pull_model("mynet", url=srv.url, progress=False)
    assert result.downloaded == len(DATA) and result.path.read_bytes() == DATA


def test_catalog_names_use_their_published_address(cache, monkeypatch):
    from latentreel.models.stylegan2.catalog import CATALOG, CatalogEntry

    with FileServer() as srv:
        monkeypatch.setitem(CATALOG, "ffhq-1024", CatalogEntry("ffhq-1024", srv.url, 1024,
                                                               "test", sha256=SHA))
        result = pull.pull_model("ffhq-1024", progress=False)
    assert result.path == cache / "ffhq-1024.pkl"


@pytest.mark.parametrize("name,url,sha,match", [
    ("../evil", "http://127.0.0.1:9/x.pkl", None, "use letters, digits"),
    ("nosuch", None, None, "unknown model 'nosuch'; known: ffhq-1024"),
    ("mynet", "ftp://example.com/x.pkl", None, "expected an http"),
    ("mynet", "http://127.0.0.1:9/x.pkl", "abc", "expected 64 hexadecimal digits"),
    ("mynet", "http://127.0.0.1:1/x.pkl", None, "could not download http://127.0.0.1:1/x.pkl"),
], ids=["path-name", "unknown", "scheme", "bad-hash", "refused-connection"])
def test_bad_requests_are_explained(cache, name, url, sha, match):
    with pytest.raises(ModelError, match=match):
        pull.pull_model(name, url=url, sha256=sha, progress=False, timeout=5)


def test_http_errors_are_reported(cache):
    with FileServer() as srv, pytest.raises(ModelError, match="HTTP 404"):
        pull.pull_model("mynet", url=srv.url.replace("net.pkl", "other.pkl"), progress=False)


def test_a_url_pulled_model_is_verified_by_name_alone(cache):
    with FileServer() as srv:
        pull.pull_model("mynet", url=srv.url, progress=False)
    assert pull.pull_model("mynet", progress=False).downloaded == 0
    (cache / "mynet.pkl").write_bytes(b"damaged")
    with pytest.raises(ModelError, match="differs from the recorded .*pull it again with --url"):
        pull.pull_model("mynet", progress=False)
