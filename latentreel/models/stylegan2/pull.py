"""`latentreel models pull`: download network files into the user cache, resumably, verified.

A download goes to ``<cache>/models/NAME.pkl.part``: an interrupted one resumes with an HTTP
Range request, a server that ignores Range starts it over. The finished file is hashed
(SHA-256) and checked against the expected hash (the catalog's, or ``--sha256``); a mismatch
deletes it. Only then is it renamed into place, so ``NAME.pkl`` is always whole. Its hash is
recorded beside it (``NAME.pkl.sha256``, sha256sum format) so later pulls can verify it.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import re
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from tqdm import tqdm

from latentreel.cache import cache_dir
from latentreel.errors import ModelError
from latentreel.models.stylegan2.catalog import CATALOG

NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")
SUFFIXES = (".pkl", ".pt")
CHUNK = 1 << 20


@dataclass(frozen=True)
class PullResult:
    path: Path  # the installed file
    sha256: str  # its SHA-256 (hex)
    downloaded: int  # bytes fetched by this call (0 when it was already there)
    resumed_from: int  # bytes of an earlier partial download that were kept


def models_dir() -> Path:
    return cache_dir("models")


def installed_file(name: str) -> Path | None:
    """The downloaded file for ``name`` (``NAME.pkl`` or ``NAME.pt``), or None."""
    if not NAME_RE.fullmatch(name):
        return None
    for suffix in SUFFIXES:
        path = models_dir() / f"{name}{suffix}"
        if path.is_file():
            return path
    return None


def recorded_sha256(path: Path) -> str | None:
    side = _sidecar(path)
    if not side.is_file():
        return None
    fields = side.read_text().split()
    return fields[0].lower() if fields else None


def _sidecar(path: Path) -> Path:
    return path.with_name(path.name + ".sha256")


def _check_hex(sha256: str | None) -> str | None:
    if sha256 is None:
        return None
    if not re.fullmatch(r"[0-9a-fA-F]{64}", sha256):
        raise ModelError(f"--sha256 {sha256}: expected 64 hexadecimal digits")
    return sha256.lower()


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(CHUNK):
            h.update(block)
    return h.hexdigest()


def pull_model(name: str, url: str | None = None, sha256: str | None = None, *,
               progress: bool = True, timeout: float = 60.0) -> PullResult:
    """Download the catalog network ``name`` (or any ``url``, stored under ``name``).

    Raises:
        ModelError: a bad name, URL or hash, a failed download (the partial file is kept to
        resume), or a SHA-256 mismatch (the download is deleted).
    """
    # 1. Resolve what to fetch and what it should hash to.
    if not NAME_RE.fullmatch(name):
        raise ModelError(f"model name {name!r}: use letters, digits, '.', '_' and '-'")
    entry = CATALOG.get(name)
    existing = installed_file(name)
    if url is None and entry is None and existing is None:
        raise ModelError(f"unknown model '{name}'; known: {', '.join(CATALOG)} "
                         "(or give --url to pull any network file under this name)")
    expected = _check_hex(sha256) or (entry.sha256 if entry and url in (None, entry.url)
                                      else None)
    # 2. Already there and intact? Then nothing to do.
    if existing is not None:
        want = expected or recorded_sha256(existing)
        have = file_sha256(existing)
        if want is None or have == want:
            _sidecar(existing).write_text(f"{have}  {existing.name}\n")
            return PullResult(existing, have, 0, 0)
        if url is None and entry is None:
            raise ModelError(f"{existing}: SHA-256 {have} differs from the recorded {want}; "
                             f"pull it again with --url")
        existing.unlink()  # damaged or replaced upstream: fetch it again
    url = url or entry.url
    suffix = ".pt" if urllib.parse.urlparse(url).path.lower().endswith(".pt") else ".pkl"
    dest = models_dir() / f"{name}{suffix}"
    # 3. Download (resuming), verify, rename into place, record the hash.
    result = download(url, dest, expected, progress=progress, timeout=timeout)
    _sidecar(dest).write_text(f"{result.sha256}  {dest.name}\n")
    return result


def _open(url: str, offset: int, timeout: float):
    headers = {"User-Agent": "latentreel"}
    if offset:
        headers["Range"] = f"bytes={offset}-"
    return urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=timeout)


def _resume_offset(resp, offset: int) -> int:
    """Where the response body starts: ``offset`` for a matching 206, else 0 (start over)."""
    if not offset or getattr(resp, "status", None) != 206:
        return 0
    m = re.match(r"bytes (\d+)-", resp.headers.get("Content-Range", ""))
    return offset if m and int(m.group(1)) == offset else 0


def download(url: str, dest: Path, sha256: str | None = None, *, progress: bool = True,
             timeout: float = 60.0) -> PullResult:
    """Fetch ``url`` to ``dest`` through ``dest.part`` with resume and SHA-256 verification."""
    if urllib.parse.urlparse(url).scheme not in ("http", "https", "file"):
        raise ModelError(f"--url {url}: expected an http(s):// or file:// address")
    part = dest.with_name(dest.name + ".part")
    offset = part.stat().st_size if part.is_file() else 0
    try:
        resp = _open(url, offset, timeout)
    except urllib.error.HTTPError as e:
        if e.code == 416 and offset:  # asked past the end: the partial file is suspect
            part.unlink()
            return download(url, dest, sha256, progress=progress, timeout=timeout)
        raise ModelError(f"could not download {url}: HTTP {e.code} {e.reason}") from None
    except (urllib.error.URLError, OSError) as e:
        reason = getattr(e, "reason", None) or e
        raise ModelError(f"could not download {url}: {reason}; check the address and your "
                         "connection") from None
    with resp:
        start = _resume_offset(resp, offset)
        fetched = _stream(resp, part, start, url, progress, dest.name)
    digest = file_sha256(part)
    if sha256 and digest != sha256:
        part.unlink()
        raise ModelError(f"{url}: SHA-256 mismatch: expected {sha256}, got {digest}; the "
                         "download was deleted (a changed or corrupted file)")
    os.replace(part, dest)
    return PullResult(dest, digest, fetched, start)


def _stream(resp, part: Path, start: int, url: str, progress: bool, label: str) -> int:
    """Append the body to ``part`` (truncated to ``start`` first). Returns bytes written."""
    length = resp.headers.get("Content-Length")
    total = start + int(length) if length and length.isdigit() else None
    written = 0
    with open(part, "r+b" if start else "wb") as f, tqdm(
            total=total, initial=start, unit="B", unit_scale=True, unit_divisor=1024,
            desc=label, disable=not progress, leave=False) as bar:
        f.truncate(start)
        f.seek(start)
        try:
            while block := resp.read(CHUNK):
                f.write(block)
                written += len(block)
                bar.update(len(block))
        except (OSError, http.client.HTTPException) as e:
            raise ModelError(f"download of {url} broke off after {start + written} bytes "
                             f"({e}); run the same command again to resume") from None
    if total is not None and start + written != total:
        raise ModelError(f"download of {url} stopped at {start + written} of {total} bytes; "
                         "run the same command again to resume")
    return written
