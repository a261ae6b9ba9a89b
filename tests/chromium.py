"""Drive a headless Chromium over the DevTools Protocol, for the HTML report's browser tests and
the README screenshot.

The protocol runs over ``--remote-debugging-pipe`` (NUL-separated JSON on file descriptors 3 and
4), which needs no Python package at all: Selenium would add a driver process and a dozen
packages, a WebSocket client a dependency and a debugging port that other processes could reach.
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import json
import os
import select
import shutil
import struct
import tempfile
import time
import zlib
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType
from typing import Any

__all__ = [
    "Browser",
    "ChromiumError",
    "decode_png",
    "find_chromium",
    "ink_share",
    "screenshot_html",
]

# Names the binary goes by in Debian, Ubuntu, Fedora and Google's packages.
BINARIES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome")

FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--hide-scrollbars",
    "--remote-debugging-pipe",
)


class ChromiumError(RuntimeError):
    """The browser did not start, went away or did not answer in time."""


def find_chromium() -> str | None:
    """The browser to use: ``$CHROME_BIN`` if set, else the first known name on ``PATH``."""
    explicit = os.environ.get("CHROME_BIN")
    if explicit:
        return explicit if Path(explicit).is_file() else None
    for name in BINARIES:
        found = shutil.which(name)
        if found:
            return found
    return None


def _high_fd(fd: int) -> int:
    """A close-on-exec copy numbered 10 or more, so mapping onto 3 and 4 cannot clobber it."""
    copy = fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 10)
    os.close(fd)
    return copy


class Browser:
    """One headless browser with one page, driven synchronously.

    Every protocol event of the page is kept in ``events`` so a test can look at the requests,
    console messages and errors a page produced.
    """

    def __init__(
        self,
        binary: str | None = None,
        *,
        width: int = 1200,
        height: int = 900,
        timeout: float = 30.0,
    ) -> None:
        found = binary or find_chromium()
        if not found:
            raise ChromiumError("no Chromium binary found: install chromium or set CHROME_BIN")
        self.binary = found
        self.width, self.height, self.timeout = width, height, timeout
        self.events: list[dict[str, Any]] = []
        self._pid = 0
        self._next_id = 0
        self._buffer = b""
        self._session = ""
        self._pending: list[dict[str, Any]] = []
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        self._to_browser = self._from_browser = -1

    # -- life cycle --------------------------------------------------------------------------

    def __enter__(self) -> Browser:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def start(self) -> None:
        """Launch the browser and attach to a fresh page with the domains tests rely on."""
        self._tmp = tempfile.TemporaryDirectory(
            prefix="ragft-chromium-", ignore_cleanup_errors=True
        )
        profile = Path(self._tmp.name) / "profile"
        log = Path(self._tmp.name) / "chromium.log"
        child_in, parent_out = (_high_fd(fd) for fd in os.pipe())
        parent_in, child_out = (_high_fd(fd) for fd in os.pipe())
        devnull = os.open(os.devnull, os.O_RDONLY)
        log_fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        argv = [self.binary, *FLAGS, f"--user-data-dir={profile}", "about:blank"]
        try:
            self._pid = os.posix_spawn(
                self.binary,
                argv,
                os.environ,
                file_actions=[
                    (os.POSIX_SPAWN_DUP2, devnull, 0),
                    (os.POSIX_SPAWN_DUP2, log_fd, 1),
                    (os.POSIX_SPAWN_DUP2, log_fd, 2),
                    (os.POSIX_SPAWN_DUP2, child_in, 3),
                    (os.POSIX_SPAWN_DUP2, child_out, 4),
                ],
            )
        finally:
            for fd in (devnull, log_fd, child_in, child_out):
                os.close(fd)
        self._to_browser, self._from_browser = parent_out, parent_in
        target = self.send("Target.createTarget", {"url": "about:blank"}, session=False)
        attached = self.send(
            "Target.attachToTarget",
            {"targetId": target["targetId"], "flatten": True},
            session=False,
        )
        self._session = attached["sessionId"]
        for domain in ("Page", "Runtime", "Network", "Log"):
            self.send(f"{domain}.enable")
        self.send(
            "Emulation.setDeviceMetricsOverride",
            {"width": self.width, "height": self.height, "deviceScaleFactor": 1, "mobile": False},
        )

    def close(self) -> None:
        """Ask the browser to quit, then make sure it did; never leaves a process behind."""
        if self._pid:
            with contextlib.suppress(ChromiumError, OSError):
                self._write({"id": self._new_id(), "method": "Browser.close"})
            deadline = time.monotonic() + 5
            while time.monotonic() < deadline:
                pid, _ = os.waitpid(self._pid, os.WNOHANG)
                if pid:
                    break
                time.sleep(0.05)
            else:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(self._pid, 9)
                os.waitpid(self._pid, 0)
            self._pid = 0
        for fd in (self._to_browser, self._from_browser):
            if fd >= 0:
                os.close(fd)
        self._to_browser = self._from_browser = -1
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    # -- protocol ----------------------------------------------------------------------------

    def send(
        self, method: str, params: dict[str, Any] | None = None, *, session: bool = True
    ) -> dict[str, Any]:
        """Call one protocol method (on the page unless ``session=False``) and return its result."""
        ident = self._new_id()
        message: dict[str, Any] = {"id": ident, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = self._session
        self._write(message)
        for reply in self._messages():
            if reply.get("id") == ident:
                if "error" in reply:
                    raise ChromiumError(f"{method}: {reply['error'].get('message')}")
                result: dict[str, Any] = reply.get("result", {})
                return result
        raise AssertionError("unreachable")  # pragma: no cover

    def wait_for(self, method: str) -> dict[str, Any]:
        """The next page event named ``method`` (one already received counts)."""
        for index, event in enumerate(self._pending):
            if event.get("method") == method:
                del self._pending[index]
                return event
        for message in self._messages():
            if message.get("method") == method:
                self._pending.remove(message)
                return message
        raise AssertionError("unreachable")  # pragma: no cover

    def _new_id(self) -> int:
        self._next_id += 1
        return self._next_id

    def _write(self, message: dict[str, Any]) -> None:
        data = json.dumps(message).encode() + b"\0"
        while data:
            written = os.write(self._to_browser, data)
            data = data[written:]

    def _messages(self) -> Iterator[dict[str, Any]]:
        """Messages as they arrive, events recorded on the way, until the time-out."""
        deadline = time.monotonic() + self.timeout
        while True:
            while b"\0" in self._buffer:
                raw, self._buffer = self._buffer.split(b"\0", 1)
                message: dict[str, Any] = json.loads(raw)
                if "method" in message:
                    self.events.append(message)
                    self._pending.append(message)
                yield message
            left = deadline - time.monotonic()
            if left <= 0:
                raise ChromiumError(f"no answer from Chromium within {self.timeout} s{self._log()}")
            ready, _, _ = select.select([self._from_browser], [], [], left)
            if ready:
                chunk = os.read(self._from_browser, 1 << 20)
                if not chunk:
                    raise ChromiumError(f"Chromium closed the connection{self._log()}")
                self._buffer += chunk

    def _log(self) -> str:
        if self._tmp is None:
            return ""
        log = Path(self._tmp.name) / "chromium.log"
        tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
        return f"; its output ends:\n{tail}" if tail.strip() else ""

    # -- page helpers ------------------------------------------------------------------------

    def open(self, url: str) -> None:
        """Navigate the page and wait until its load event has fired; ``events`` then holds
        this page's events only."""
        self._pending = []
        self.events.clear()
        result = self.send("Page.navigate", {"url": url})
        if result.get("errorText"):
            raise ChromiumError(f"cannot open {url}: {result['errorText']}")
        self.wait_for("Page.loadEventFired")

    def evaluate(self, expression: str) -> Any:
        """The JSON value of a JavaScript expression in the page; an exception is an error."""
        reply = self.send("Runtime.evaluate", {"expression": expression, "returnByValue": True})
        if "exceptionDetails" in reply:
            details = reply["exceptionDetails"]
            text = details.get("exception", {}).get("description") or details.get("text")
            raise ChromiumError(f"JavaScript error in {expression!r}: {text}")
        return reply["result"].get("value")

    def screenshot(self, *, full_page: bool = False) -> bytes:
        """A PNG of the viewport, or of the whole page height."""
        params: dict[str, Any] = {"format": "png"}
        if full_page:
            metrics = self.send("Page.getLayoutMetrics")
            size = metrics.get("cssContentSize") or metrics["contentSize"]
            params["captureBeyondViewport"] = True
            params["clip"] = {
                "x": 0,
                "y": 0,
                "width": self.width,
                "height": max(1, int(size["height"])),
                "scale": 1,
            }
        return base64.b64decode(self.send("Page.captureScreenshot", params)["data"])

    def requests(self) -> list[str]:
        """Every URL the page asked for, in order."""
        return [
            event["params"]["request"]["url"]
            for event in self.events
            if event.get("method") == "Network.requestWillBeSent"
        ]

    def errors(self) -> list[str]:
        """Console errors, uncaught exceptions and browser log errors (CSP violations land here)."""
        found = []
        for event in self.events:
            method, params = event.get("method"), event.get("params", {})
            if method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
                found.append(
                    " ".join(str(a.get("value", a.get("description"))) for a in params["args"])
                )
            elif method == "Runtime.exceptionThrown":
                found.append(str(params["exceptionDetails"].get("text")))
            elif method == "Log.entryAdded" and params["entry"].get("level") == "error":
                found.append(str(params["entry"].get("text")))
        return found


def screenshot_html(html_file: Path, png_file: Path, *, width: int = 1200) -> None:
    """Open a local HTML file and save a full-page PNG of it (the README screenshot)."""
    with Browser(width=width) as browser:
        browser.open(html_file.resolve().as_uri())
        png_file.write_bytes(browser.screenshot(full_page=True))


# -- PNG ----------------------------------------------------------------------------------------


def decode_png(data: bytes) -> tuple[int, int, int, bytes]:
    """(width, height, channels, raw pixel bytes) of an 8-bit non-interlaced PNG, stdlib only."""
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError("not a PNG")
    pos, idat = 8, []
    width = height = depth = color = interlace = 0
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind, body = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]
        pos += 12 + length
        if kind == b"IHDR":
            width, height, depth, color, _, _, interlace = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat.append(body)
        elif kind == b"IEND":
            break
    channels = {0: 1, 2: 3, 4: 2, 6: 4}.get(color)
    if depth != 8 or channels is None or interlace:
        raise ValueError(
            f"unsupported PNG: depth {depth}, color type {color}, interlace {interlace}"
        )
    raw = zlib.decompress(b"".join(idat))
    stride = width * channels
    out = bytearray(height * stride)
    previous = bytearray(stride)
    for row in range(height):
        start = row * (stride + 1)
        kind_byte, line = raw[start], bytearray(raw[start + 1 : start + 1 + stride])
        if kind_byte == 1:
            for i in range(channels, stride):
                line[i] = (line[i] + line[i - channels]) & 0xFF
        elif kind_byte == 2:
            line = bytearray((a + b) & 0xFF for a, b in zip(line, previous, strict=True))
        elif kind_byte == 3:
            for i in range(stride):
                left = line[i - channels] if i >= channels else 0
                line[i] = (line[i] + ((left + previous[i]) >> 1)) & 0xFF
        elif kind_byte == 4:
            for i in range(stride):
                a = line[i - channels] if i >= channels else 0
                b = previous[i]
                c = previous[i - channels] if i >= channels else 0
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                predictor = a if pa <= pb and pa <= pc else b if pb <= pc else c
                line[i] = (line[i] + predictor) & 0xFF
        elif kind_byte != 0:
            raise ValueError(f"bad PNG filter {kind_byte} in row {row}")
        out[row * stride : (row + 1) * stride] = line
        previous = line
    return width, height, channels, bytes(out)


def ink_share(png: bytes) -> float:
    """The share of pixels that differ from the most common colour: 0.0 for a blank image."""
    width, height, channels, pixels = decode_png(png)
    counts: dict[bytes, int] = {}
    for i in range(0, len(pixels), channels):
        key = pixels[i : i + channels]
        counts[key] = counts.get(key, 0) + 1
    return 1 - max(counts.values()) / (width * height)
