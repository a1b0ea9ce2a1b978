"""`download_weights`: fetch an architecture's published weights file, only when asked.

The file comes from the architecture's official address (`ArchSpec.weights_url`:
torchvision's and facenet-pytorch's release files), or from a mirror that serves the
same file names (`$FACELAB_WEIGHTS_BASE_URL`, or `base_url`). `requests` reads the
proxy settings (HTTP_PROXY, HTTPS_PROXY, NO_PROXY) and a CA bundle
(REQUESTS_CA_BUNDLE) from the environment, as other tools on the machine do.

The bytes go to a partial file in FaceLab's downloads folder, never into the
weights folder: an interrupted transfer continues from where it stopped (an HTTP
Range request; a server without ranges sends the whole file again), at once when
the connection drops and on the next try after a cancel or a crash. The finished
file then takes `facelab weights import`'s one path (`install_weights_file`): moved
beside its destination, checked against its SHA-256 (the prefix in torchvision's
file names, the full hash where the spec knows it) and for pickled code, then
renamed into place. A refused file is deleted, so nothing half-written or wrong is
ever found by `weights_status`.
"""

from __future__ import annotations

import logging
import os
import re
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, urlsplit

import requests

from engine.display import size_text
from engine.models.errors import (
    UnsafeWeightsFileError,
    WeightsChecksumError,
    WeightsDownloadError,
    WeightsUnavailableError,
)
from engine.models.spec import ArchSpec, get_spec, list_architectures
from engine.models.weights import (
    _missing_weights_message,
    find_weights_file,
    weight_search_dirs,
)
from engine.models.weights_import import install_weights_file
from engine.paths import user_data_dir
from engine.project_lock import LockHeld, ProjectLock
from engine.tasks import Stage, TaskContext, null_context

log = logging.getLogger(__name__)

WEIGHTS_BASE_URL_ENV = "FACELAB_WEIGHTS_BASE_URL"
DOWNLOAD_STAGE = Stage.DOWNLOAD

CHUNK_BYTES = 1 << 16
# (connect, read) as pip's: a dead network shows within seconds, and a transfer that
# stalls that long is taken up again with a Range request (a cancel waits at most
# that long for the stalled read to end).
TIMEOUT_S = (15, 15)
# Attempts in a row that bring no new byte before giving up; any progress resets it.
MAX_STALLED_ATTEMPTS = 3
RETRY_DELAY_S = 0.5

_CONTENT_RANGE = re.compile(r"^\s*bytes\s+(?:(\d+)-(\d+)|\*)/(\d+|\*)\s*$", re.IGNORECASE)


@dataclass(frozen=True)
class WeightsDownload:
    arch: str
    path: Path
    already_present: bool = False  # found on this machine: nothing was fetched
    resumed_from: int = 0          # bytes kept from an earlier, interrupted download
    size: int = 0


class _Interrupted(Exception):
    """The transfer stopped midway; the partial file holds what arrived."""


class _Unreachable(Exception):
    """No answer from the server at all (offline, refused, proxy or TLS trouble)."""


def is_downloadable(spec: ArchSpec) -> bool:
    return bool(spec.weights_url and spec.weights_filename)


def downloadable_architectures() -> list[ArchSpec]:
    return [spec for spec in list_architectures() if is_downloadable(spec)]


def download_url(spec: ArchSpec, base_url: str | None = None) -> str:
    """The official address, or the same file name under a mirror's base URL."""
    base = base_url or os.environ.get(WEIGHTS_BASE_URL_ENV)
    if base:
        return base.rstrip("/") + "/" + quote(spec.weights_filename)
    return spec.weights_url


def downloads_dir() -> Path:
    """Where partial downloads wait to be resumed: outside the weights folder, which
    only ever holds complete, verified files."""
    return user_data_dir() / "downloads"


def partial_download_path(spec: ArchSpec) -> Path:
    return downloads_dir() / f"{spec.weights_filename}.part"


def _require_downloadable(name: str) -> ArchSpec:
    spec = get_spec(name)
    if is_downloadable(spec):
        return spec
    names = ", ".join(s.name for s in downloadable_architectures())
    reason = ("has no pretrained weights: it trains from scratch" if not spec.has_pretrained_weights
              else "has no published file FaceLab can download")
    if spec.convertible is not None:  # dlib's network: it comes with a Python package instead
        reason += f"; to get its weights, {spec.convertible.how_to_get}"
    raise WeightsUnavailableError(
        f"{spec.display_name} {reason}. Weights can be downloaded for: {names}.",
        arch=spec.name, filename=spec.weights_filename)


def download_weights(name: str, ctx: TaskContext | None = None, *, base_url: str | None = None,
                     session: requests.Session | None = None) -> WeightsDownload:
    """Download architecture ``name``'s pretrained weights into FaceLab's weights folder.

    Reports progress as stage "download" (bytes) and stops at ``ctx``'s cancel flag
    (raising Cancelled; what arrived is kept for the next try). A file already on this
    machine is not fetched again. Raises WeightsDownloadError (offline, an HTTP error,
    too many interruptions), WeightsChecksumError or UnsafeWeightsFileError (a wrong or
    damaged file, deleted), or WeightsUnavailableError (nothing to download).
    """
    spec = _require_downloadable(name)
    existing = find_weights_file(spec)
    if existing is not None:
        return WeightsDownload(spec.name, existing, already_present=True,
                               size=existing.stat().st_size)
    url = download_url(spec, base_url)
    part = partial_download_path(spec)
    part.parent.mkdir(parents=True, exist_ok=True)
    # One downloading process at a time: two appending to one partial file would
    # interleave their bytes (this process's own jobs share the lock: the app runs
    # one download job at a time).
    try:
        lock = ProjectLock.acquire(part.parent)
    except LockHeld as held:
        raise WeightsDownloadError(
            f"Another FaceLab ({held}) is downloading weights right now: try again when it "
            "has finished.", arch=spec.name, filename=spec.weights_filename) from held
    try:
        resumed_from = _size(part)
        _fetch(url, part, spec, ctx or null_context(), session)
        size = _size(part)
        try:
            path = install_weights_file(part, spec, move=True)
        except (WeightsChecksumError, UnsafeWeightsFileError) as error:
            log.warning("refused the download of %s from %s: %s", spec.weights_filename, url, error)
            raise type(error)(f"The file downloaded from {url} was refused and deleted: {error}") from error
    finally:
        lock.release()
    log.info("downloaded %s (%d bytes) from %s", spec.weights_filename, size, url)
    return WeightsDownload(spec.name, path, resumed_from=resumed_from, size=size)


def _fetch(url: str, part: Path, spec: ArchSpec, ctx: TaskContext,
           session: requests.Session | None) -> None:
    own_session = session is None
    session = session or requests.Session()
    try:
        _fetch_with_resume(session, url, part, spec, ctx)
    except requests.RequestException as error:  # an OSError too, but not the disk's
        raise WeightsDownloadError(f"The download of {spec.weights_filename} from {url} "
                                   f"failed: {_first_line(error)}", arch=spec.name,
                                   filename=spec.weights_filename) from error
    except OSError as error:  # writing the partial file: a full disk, a read-only folder
        raise WeightsDownloadError(
            f"Could not save the download of {spec.weights_filename} in {part.parent}: "
            f"{error.strerror or error}.", arch=spec.name, filename=spec.weights_filename) from error
    finally:
        if own_session:
            session.close()


def _fetch_with_resume(session: requests.Session, url: str, part: Path, spec: ArchSpec,
                       ctx: TaskContext) -> None:
    best = _size(part)
    stalled = 0
    first = True
    while True:
        ctx.check()
        try:
            _fetch_into(session, url, part, spec, ctx)
            return
        except _Unreachable as error:
            if first:  # never reached the server: offline, not an interruption
                raise WeightsDownloadError(
                    f"Could not download {spec.weights_filename}: {error} "
                    + _missing_weights_message(spec),
                    arch=spec.name, filename=spec.weights_filename,
                    search_dirs=weight_search_dirs()) from error
            reason = str(error)
        except _Interrupted as error:
            reason = str(error)
        first = False
        size = _size(part)
        if size > best:
            best, stalled = size, 0
        else:
            stalled += 1
        if stalled >= MAX_STALLED_ATTEMPTS:
            raise WeightsDownloadError(
                f"The download of {spec.weights_filename} from {url} kept stopping ({reason}); "
                f"{size_text(size)} arrived and are kept. Run the download again to continue "
                "from there.",
                arch=spec.name, filename=spec.weights_filename)
        log.info("download of %s interrupted (%s); resuming at %d bytes", spec.weights_filename,
                 reason, size)
        time.sleep(RETRY_DELAY_S * stalled)


def _fetch_into(session: requests.Session, url: str, part: Path, spec: ArchSpec,
                ctx: TaskContext) -> None:
    """One request: append the rest of the file to ``part`` (or all of it, afresh)."""
    have = _size(part)
    # Identity encoding: byte counts and ranges then mean the file's own bytes.
    headers = {"Accept-Encoding": "identity"}
    if have:
        headers["Range"] = f"bytes={have}-"
    try:
        response = session.get(url, headers=headers, stream=True, timeout=TIMEOUT_S)
    except requests.exceptions.SSLError as error:
        raise _Unreachable(
            f"no secure connection to {_host(url)} ({_first_line(error)}); behind a proxy "
            "that inspects traffic, point REQUESTS_CA_BUNDLE at its certificate.") from error
    except requests.exceptions.ProxyError as error:
        raise _Unreachable(f"the proxy refused or failed ({_first_line(error)}); check "
                           "HTTPS_PROXY / HTTP_PROXY.") from error
    except (requests.ConnectionError, requests.Timeout) as error:
        raise _Unreachable(f"{_host(url)} could not be reached: this machine seems to be "
                           "offline.") from error
    except requests.RequestException as error:  # a malformed mirror address, too many redirects
        raise WeightsDownloadError(f"Could not download {spec.weights_filename} from {url}: "
                                   f"{_first_line(error)}", arch=spec.name,
                                   filename=spec.weights_filename) from error
    with response:
        if response.status_code == 416 and have:
            start, _end, total = _content_range(response.headers.get("Content-Range"))
            if total == have:  # the partial file is the whole file already
                return
            part.unlink(missing_ok=True)  # not a prefix of this file: start again
            raise _Interrupted("the kept part did not fit the file on the server")
        if response.status_code >= 400:
            raise WeightsDownloadError(_http_error_message(spec, url, response),
                                       arch=spec.name, filename=spec.weights_filename)
        length = _int_or_none(response.headers.get("Content-Length"))
        if response.status_code == 206:
            start, _end, total = _content_range(response.headers.get("Content-Range"))
            if start is None or start > have:
                part.unlink(missing_ok=True)
                raise _Interrupted("the server answered with another part of the file")
        else:  # 200: the whole file, whether or not a range was asked for
            start, total = 0, length
        _write_body(response, part, start, total, spec, ctx)


def _write_body(response: requests.Response, part: Path, start: int, total: int | None,
                spec: ArchSpec, ctx: TaskContext) -> None:
    with open(part, "r+b" if part.exists() else "wb") as out:
        out.truncate(start)
        out.seek(start)
        done = start
        ctx.report(DOWNLOAD_STAGE, done, total or 0, spec.weights_filename)
        try:
            for chunk in response.iter_content(CHUNK_BYTES):
                ctx.check()
                out.write(chunk)
                done += len(chunk)
                ctx.report(DOWNLOAD_STAGE, done, total or 0, spec.weights_filename)
                if total is not None and done > total:
                    break
        except (requests.ConnectionError, requests.Timeout,
                requests.exceptions.ChunkedEncodingError) as error:
            raise _Interrupted(_first_line(error)) from error
    if total is not None and done > total:
        part.unlink(missing_ok=True)
        raise _Interrupted(f"the server sent more than the {total} bytes it announced")
    if total is not None and done < total:
        raise _Interrupted(f"the connection closed after {size_text(done)} of {size_text(total)}")


def _http_error_message(spec: ArchSpec, url: str, response: requests.Response) -> str:
    answer = f"{response.status_code} {response.reason or ''}".strip()
    why = (" (there is no such file at that address)" if response.status_code == 404 else
           " (the proxy asks for a login: put it in HTTPS_PROXY)" if response.status_code == 407
           else "")
    return (f"Could not download {spec.weights_filename}: {url} answered {answer}{why}. "
            + _missing_weights_message(spec))


def _content_range(value: str | None) -> tuple[int | None, int | None, int | None]:
    match = _CONTENT_RANGE.match(value or "")
    if not match:
        return None, None, None
    start, end, total = match.groups()
    return (_int_or_none(start), _int_or_none(end), _int_or_none(total))


def _int_or_none(value: str | None) -> int | None:
    return int(value) if value is not None and value.isdigit() else None


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return 0


def _host(url: str) -> str:
    return urlsplit(url).netloc or url


def _first_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return text[0] if text else type(error).__name__
