"""A client library for mosaicd (see docs/wire.md and docs/clients.md).

Standard library only, Python 3.9+. One module, three clients:

* :class:`TileClient` - the line protocol (map systems): tile names, the
  empty-line barrier, viewport, cancel, dirty, ping, stats, stop.
* :class:`CompletionListener` - the map system's side of the callback channel:
  a threaded TCP listener that turns ``Z_X_Y`` / ``error Z_X_Y reason`` /
  ``done`` into typed :class:`Notice` objects.
* :class:`FramedClient` - the framed binary protocol (vision hosts) over TCP
  or over a spawned ``mosaicd stdio`` child, with pipelining.

The rules this code follows, because the original clients broke them: one
``recv`` is not one message (line replies are read to EOF, frames with
``read_exact`` loops); the listener sets SO_REUSEADDR so a restart does not
fail with "Address already in use"; in stdio mode stdout carries frames only
and the child's stderr is passed through or drained so it never blocks.
"""

from __future__ import annotations

import collections
import enum
import json as _json
import os
import socket
import struct
import subprocess
import sys
import threading
import time
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any, Callable, Deque, Dict, Iterable, List, Optional, Sequence, Tuple, Union

__all__ = [
    "TileClient",
    "CompletionListener",
    "Notice",
    "NoticeKind",
    "parse_notice",
    "tile_name",
    "normalize_tile_name",
    "FramedClient",
    "FramedResponse",
    "FramedResult",
    "FramedError",
    "MosaicdError",
    "read_exact",
    "png_size",
]

_IS_WINDOWS = sys.platform.startswith("win")


# ---------------------------------------------------------------------------
# Tile names
# ---------------------------------------------------------------------------


def tile_name(z: int, x: int, y: int) -> str:
    """The name notices and tile files use: ``Z_X_Y``."""
    return f"{int(z)}_{int(x)}_{int(y)}"


def normalize_tile_name(name: str) -> str:
    """``Z/X/Y`` becomes ``Z_X_Y``; anything that is not three decimal numbers is returned unchanged."""
    parts = name.split("/") if "/" in name else name.split("_")
    if len(parts) == 3 and all(p.isascii() and p.isdigit() for p in parts):
        return tile_name(*(int(p) for p in parts))
    return name


# ---------------------------------------------------------------------------
# Line protocol
# ---------------------------------------------------------------------------


class TileClient:
    """The line protocol (wire.md section 3).

    Every call opens one connection, writes all its lines, half-closes
    (``shutdown(SHUT_WR)``) and reads what the daemon writes back until it
    closes: barrier replies, ``pong``, the stats line. Calls share no state,
    so one client may be used from several threads.
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 12345, timeout: Optional[float] = None):
        self.host = host
        self.port = port
        #: seconds per socket operation; None waits as long as it takes (a barrier can take a while)
        self.timeout = timeout

    def send(self, lines: Iterable[str], terminate: bool = True) -> str:
        """Sends lines on one connection; returns everything written back before the daemon closed it.

        An empty string among ``lines`` is a barrier.
        """
        return self._exchange(self._encode(lines, terminate), tolerate_reset=False)

    def request(self, names: Iterable[str], barrier: bool = False) -> None:
        """Asks for tiles (``Z_X_Y`` or ``Z/X/Y``).

        Without ``barrier`` it returns once the daemon has taken them; with it,
        once every one of them is finished (rendered or failed).
        """
        lines = list(names)
        if not barrier:
            self.send(lines)
            return
        reply = self.send(lines + [""])
        if "\n" not in reply:
            raise ConnectionError("the daemon closed the connection without answering the barrier" + (": " + reply.strip() if reply else ""))

    def viewport(self, z: int, min_x: int, min_y: int, max_x: int, max_y: int) -> str:
        """The client now shows zoom z, columns min_x..max_x, rows min_y..max_y: those tiles jump the queue."""
        return self.send([f"viewport {int(z)} {int(min_x)} {int(min_y)} {int(max_x)} {int(max_y)}"])

    def cancel(self, name: str) -> str:
        """Withdraws this client's queued request for a tile."""
        return self.send([f"cancel {name}"])

    def dirty(self, name: str, token: Optional[str] = None) -> str:
        """Marks a tile stale so it is rendered again (admin: loopback or the admin token)."""
        return self.send([f"dirty {name}" if token is None else f"dirty {name} {token}"])

    def ping(self) -> bool:
        """True when the daemon answers ``pong``."""
        return self.send(["ping"]).strip() == "pong"

    def wait_until_ready(self, timeout: float) -> bool:
        """Polls :meth:`ping` (every 0.1 s) until the daemon answers or ``timeout`` seconds have passed."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                if self.ping():
                    return True
            except OSError:
                pass
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.1)

    def stats_json(self) -> str:
        """The daemon's stats as the JSON line it sends."""
        return self.send(["stats"]).strip()

    def stats(self) -> Dict[str, Any]:
        """The daemon's stats, parsed."""
        return _json.loads(self.stats_json())

    def stop(self, token: Optional[str] = None) -> str:
        """Asks the daemon to finish its queue, send every notice, send ``done`` and exit.

        Returns what it wrote back (empty when accepted). A reset while it
        exits counts as the end of the reply.
        """
        return self._exchange(self._encode(["stop" if token is None else f"stop {token}"], True), tolerate_reset=True)

    @staticmethod
    def _encode(lines: Iterable[str], terminate: bool) -> bytes:
        lines = list(lines)
        for line in lines:
            if "\n" in line or "\r" in line:
                raise ValueError(f"a line contains a line break: {line!r}")
        return ("\n".join(lines) + ("\n" if terminate else "")).encode("utf-8")

    def _exchange(self, body: bytes, tolerate_reset: bool) -> str:
        with socket.create_connection((self.host, self.port), timeout=self.timeout) as sock:
            sock.sendall(body)
            # Half-close: the daemon sees EOF, takes a final unterminated line
            # as complete, and closes once it owes us nothing more.
            sock.shutdown(socket.SHUT_WR)
            chunks = []
            try:
                # One recv is not one message: read until the daemon closes.
                while True:
                    chunk = sock.recv(4096)
                    if not chunk:
                        break
                    chunks.append(chunk)
            except (ConnectionResetError, ConnectionAbortedError):
                if not tolerate_reset:
                    raise
            return b"".join(chunks).decode("utf-8", errors="replace")


# ---------------------------------------------------------------------------
# Completion notices
# ---------------------------------------------------------------------------


class NoticeKind(str, enum.Enum):
    TILE = "tile"
    ERROR = "error"
    DONE = "done"


@dataclass(frozen=True)
class Notice:
    """One completion notice (wire.md section 4)."""

    kind: NoticeKind
    #: the tile (``Z_X_Y``), or for an error the name the daemon reported; None for done
    name: Optional[str]
    #: why a tile failed (errors only)
    reason: Optional[str]
    #: the line as received
    line: str


def parse_notice(line: str) -> Notice:
    line = line.rstrip("\r")
    if line == "done":
        return Notice(NoticeKind.DONE, None, None, line)
    if line.startswith("error "):
        rest = line[6:]
        name, _, reason = rest.partition(" ")
        return Notice(NoticeKind.ERROR, name, reason, line)
    return Notice(NoticeKind.TILE, line, None, line)


class CompletionListener:
    """The map system's completion listener.

    Accepts the daemon's connections, reads each to EOF (short mode, one
    notice per connection) or line by line as lines arrive (persistent mode),
    and calls every handler once per notice. Short connections are read one
    after another in accept order, so notices keep the daemon's order; a
    connection that stays open longer than a second gets its own thread.

    Handlers run on a listener thread *before* the notice becomes visible to
    :meth:`wait_for` / :meth:`wait_for_done` / :attr:`notices`; they should be
    quick and must not wait for notices themselves.
    """

    _INLINE_BUDGET = 1.0
    _MAX_LINE = 64 * 1024

    def __init__(self, port: int = 12346, host: str = "127.0.0.1", on_notice: Optional[Callable[[Notice], None]] = None):
        self._host = host
        self._requested_port = port
        self._handlers: List[Callable[[Notice], None]] = [on_notice] if on_notice else []
        self._notices: List[Notice] = []
        self._cond = threading.Condition()
        self._open: set = set()
        self._stopping = threading.Event()
        self._sock: Optional[socket.socket] = None
        self._thread: Optional[threading.Thread] = None

    def add_handler(self, handler: Callable[[Notice], None]) -> None:
        self._handlers.append(handler)

    def start(self) -> "CompletionListener":
        sock = socket.socket(socket.AF_INET6 if ":" in self._host else socket.AF_INET, socket.SOCK_STREAM)
        if not _IS_WINDOWS:
            # A restarted map system must listen again at once even while
            # connections of its previous run linger in TIME_WAIT. (On Windows
            # SO_REUSEADDR would let another process steal the port, and
            # TIME_WAIT does not block a bind there.)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((self._host, self._requested_port))
            sock.listen(64)
        except OSError:
            sock.close()
            raise
        # Accept with a timeout: closing a socket does not wake a blocked
        # accept() on every platform.
        sock.settimeout(0.2)
        self._sock = sock
        self._thread = threading.Thread(target=self._accept_loop, name="mosaicd-listener", daemon=True)
        self._thread.start()
        return self

    @property
    def port(self) -> int:
        """The port actually listened on (useful with port 0)."""
        assert self._sock is not None, "not started"
        return self._sock.getsockname()[1]

    @property
    def notices(self) -> List[Notice]:
        with self._cond:
            return list(self._notices)

    def clear(self) -> None:
        """Forgets the notices received so far."""
        with self._cond:
            self._notices.clear()

    def wait_for(self, names: Iterable[str], timeout: float = 60.0) -> List[Notice]:
        """Blocks until there is a notice (tile or error) for every name.

        Returns them in the order of ``names``; notices that arrived before the
        call count; ``Z/X/Y`` matches ``Z_X_Y``. Raises TimeoutError naming the
        missing tiles.
        """
        wanted = [normalize_tile_name(n) for n in names]
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                found: Dict[str, Notice] = {}
                for n in self._notices:
                    if n.kind is not NoticeKind.DONE:
                        found.setdefault(normalize_tile_name(n.name or ""), n)
                missing = [w for w in wanted if w not in found]
                if not missing:
                    return [found[w] for w in wanted]
                left = deadline - time.monotonic()
                if left <= 0:
                    more = f" and {len(missing) - 5} more" if len(missing) > 5 else ""
                    raise TimeoutError(f"no notice within {timeout} s for {', '.join(missing[:5])}{more}")
                self._cond.wait(left)

    def wait_for_done(self, timeout: float = 60.0) -> None:
        """Blocks until ``done`` has arrived (or had already). Raises TimeoutError."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while not any(n.kind is NoticeKind.DONE for n in self._notices):
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"no done within {timeout} s")
                self._cond.wait(left)

    def close(self) -> None:
        """Stops listening and closes open connections; the port is free again when this returns."""
        self._stopping.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(5)
        if self._sock is not None:
            self._sock.close()
        with self._cond:
            for conn in list(self._open):
                try:
                    conn.shutdown(socket.SHUT_RDWR)  # wakes a reader thread blocked in recv
                except OSError:
                    pass
                _close_quietly(conn)
            self._open.clear()

    def __enter__(self) -> "CompletionListener":
        if self._sock is None:
            self.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    # -- internals --

    def _accept_loop(self) -> None:
        assert self._sock is not None
        while not self._stopping.is_set():
            try:
                conn, _ = self._sock.accept()
            except socket.timeout:
                continue
            except OSError:
                if self._stopping.is_set():
                    return
                continue
            with self._cond:
                self._open.add(conn)
            reader = _NoticeReader(self, conn)
            # Short mode: the connection ends within the budget and is read
            # here, keeping the daemon's order. Otherwise (persistent mode, a
            # slow peer) it gets its own thread.
            if not reader.run(self._INLINE_BUDGET):
                threading.Thread(target=reader.run, args=(None,), name="mosaicd-listener-conn", daemon=True).start()

    def _emit(self, raw: bytes) -> None:
        line = raw.decode("utf-8", errors="replace").rstrip("\r")
        if not line.strip():
            return
        notice = parse_notice(line)
        for handler in list(self._handlers):
            try:
                handler(notice)
            except Exception as e:  # a failing handler must not stop the listener
                print(f"mosaicd_client: notice handler raised {e!r}", file=sys.stderr)
        with self._cond:
            self._notices.append(notice)
            self._cond.notify_all()

    def _finish(self, conn: socket.socket) -> None:
        with self._cond:
            self._open.discard(conn)
        # Close only after the notices were handled: the daemon waits for this
        # close before it counts a notice delivered, and sends ``done`` only
        # after everything was delivered.
        _close_quietly(conn)


class _NoticeReader:
    def __init__(self, owner: CompletionListener, conn: socket.socket):
        self.owner = owner
        self.conn = conn
        self.pending = bytearray()

    def run(self, budget: Optional[float]) -> bool:
        """Reads until EOF (True) or until ``budget`` seconds pass without EOF (False; call again)."""
        deadline = None if budget is None else time.monotonic() + budget
        try:
            while True:
                if deadline is not None:
                    left = deadline - time.monotonic()
                    if left <= 0:
                        return False
                    self.conn.settimeout(left)
                else:
                    self.conn.settimeout(None)
                try:
                    chunk = self.conn.recv(4096)
                except socket.timeout:
                    return False
                if not chunk:
                    # EOF: an unterminated last line is complete (old daemons sent no newline).
                    if self.pending:
                        self.owner._emit(bytes(self.pending))
                        self.pending.clear()
                    self.owner._finish(self.conn)
                    return True
                self._feed(chunk)
        except OSError:
            # A reset (or close()): the daemon counts the notice as not
            # delivered and sends it again, so the unterminated rest is dropped.
            self.owner._finish(self.conn)
            return True

    def _feed(self, chunk: bytes) -> None:
        self.pending += chunk
        while True:
            i = self.pending.find(b"\n")
            if i < 0:
                break
            line = bytes(self.pending[:i])
            del self.pending[: i + 1]
            self.owner._emit(line)
        if len(self.pending) > CompletionListener._MAX_LINE:
            raise OSError("notice line too long")


def _close_quietly(sock: socket.socket) -> None:
    try:
        sock.close()
    except OSError:
        pass


# ---------------------------------------------------------------------------
# Framed protocol
# ---------------------------------------------------------------------------


class MosaicdError(Exception):
    """An error answer from the daemon (see :meth:`FramedResponse.ensure_success`)."""

    def __init__(self, code: str, message: str):
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


@dataclass(frozen=True)
class FramedError:
    #: PROTOCOL_ERROR, PROCESSING_ERROR, BUSY, TOO_LARGE, ... (docs/errors.md)
    code: str
    message: str


@dataclass
class FramedResult:
    result_index: int
    class_name: Optional[str]
    score: float
    #: None for results without a camera (a rendered tile)
    camera_number: Optional[int]
    image_index: int
    image_format: Optional[str]
    image_length: int
    image_width: int
    image_height: int
    image_mode: Optional[str]
    #: the result image (PNG bytes), None when the response carried none for it
    png: Optional[bytes] = field(default=None, repr=False)
    #: every field of the result as parsed JSON, extras (box, text, tile ...) included
    fields: Dict[str, Any] = field(default_factory=dict, repr=False)


@dataclass
class FramedResponse:
    success: bool
    #: the request_id echoed back: int, float, str or None
    request_id: Any
    result_count: int
    results: List[FramedResult]
    error: Optional[FramedError]
    #: the response JSON as received
    json: str = field(repr=False)
    #: the response JSON parsed (extra fields such as "pong", "stats", "shutdown")
    fields: Dict[str, Any] = field(default_factory=dict, repr=False)
    images: List[bytes] = field(default_factory=list, repr=False)

    def get(self, key: str, default: Any = None) -> Any:
        return self.fields.get(key, default)

    def ensure_success(self) -> "FramedResponse":
        if not self.success:
            err = self.error or FramedError("UNKNOWN", "the request failed")
            raise MosaicdError(err.code, err.message)
        return self

    @classmethod
    def from_wire(cls, json_text: str, images: List[bytes]) -> "FramedResponse":
        root = _json.loads(json_text)
        if not isinstance(root, dict):
            raise ValueError("the response JSON is not an object")
        err = root.get("error")
        results = []
        for i, f in enumerate(root.get("results") or []):
            if not isinstance(f, dict):
                continue
            image_index = _int(f.get("image_index"), i)
            cam = f.get("camera_number")
            results.append(
                FramedResult(
                    result_index=_int(f.get("result_index"), i),
                    class_name=f.get("class_name"),
                    score=float(f["score"]) if isinstance(f.get("score"), (int, float)) else 0.0,
                    camera_number=cam if isinstance(cam, int) and not isinstance(cam, bool) else None,
                    image_index=image_index,
                    image_format=f.get("image_format"),
                    image_length=_int(f.get("image_length"), 0),
                    image_width=_int(f.get("image_width"), 0),
                    image_height=_int(f.get("image_height"), 0),
                    image_mode=f.get("image_mode"),
                    png=images[image_index] if 0 <= image_index < len(images) else None,
                    fields=f,
                )
            )
        return cls(
            success=root.get("success") is True,
            request_id=root.get("request_id"),
            result_count=_int(root.get("result_count"), 0),
            results=results,
            error=FramedError(str(err.get("code")), str(err.get("message"))) if isinstance(err, dict) else None,
            json=json_text,
            fields=root,
            images=images,
        )


def _int(v: Any, fallback: int) -> int:
    return int(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else fallback


def read_exact(read: Callable[[int], bytes], n: int, allow_eof: bool = False) -> Optional[bytes]:
    """Reads exactly n bytes with ``read(k)`` (which may return fewer): loops.

    With ``allow_eof``, EOF before the first byte returns None; EOF anywhere
    else raises EOFError.
    """
    buf = bytearray()
    while len(buf) < n:
        chunk = read(n - len(buf))
        if not chunk:
            if allow_eof and not buf:
                return None
            raise EOFError(f"the stream ended inside a frame ({len(buf)} of {n} bytes)")
        buf += chunk
    return bytes(buf)


def png_size(png: bytes) -> Optional[Tuple[int, int]]:
    """(width, height) from a PNG's IHDR chunk, or None when the bytes are not a PNG."""
    if len(png) < 24 or png[:8] != b"\x89PNG\r\n\x1a\n" or png[12:16] != b"IHDR":
        return None
    return struct.unpack(">II", png[16:24])


class FramedClient:
    """The framed protocol (wire.md section 5) over TCP or a spawned ``mosaicd stdio``.

    Requests may be pipelined: :meth:`submit` writes a request at once and
    returns a Future that completes with its response; the daemon answers in
    request order and a reader thread matches responses to requests by that
    order. The other methods are submit + wait. Thread-safe.
    """

    MAX_JSON_BYTES = 64 * 1024 * 1024
    MAX_IMAGE_BYTES = 1 << 30
    MAX_IMAGES = 1 << 16

    def __init__(self, read: Callable[[int], bytes], write: Callable[[bytes], None], flush: Callable[[], None],
                 close_output: Callable[[], None], close_all: Callable[[], None], child: Optional[subprocess.Popen] = None):
        """Use :meth:`connect` or :meth:`spawn`."""
        self._read = read
        self._write = write
        self._flush = flush
        self._close_output = close_output
        self._close_all = close_all
        #: the spawned child in stdio mode, else None
        self.child = child
        #: default timeout (seconds) of the synchronous methods; None waits forever
        self.timeout: Optional[float] = None
        self._write_lock = threading.Lock()
        self._queue_lock = threading.Lock()
        self._waiting: Deque[Future] = collections.deque()
        self._failure: Optional[BaseException] = None
        self._output_closed = False
        self._next_id = 0
        self._reader = threading.Thread(target=self._read_loop, name="mosaicd-framed-reader", daemon=True)
        self._reader.start()

    @classmethod
    def connect(cls, host: str = "127.0.0.1", port: int = 12345, timeout: Optional[float] = 10.0) -> "FramedClient":
        """Connects to the daemon's request port (frames are auto-detected there)."""
        sock = socket.create_connection((host, port), timeout=timeout)
        sock.settimeout(None)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

        def close_output() -> None:
            sock.shutdown(socket.SHUT_WR)

        def close_all() -> None:
            try:
                sock.shutdown(socket.SHUT_RDWR)  # wakes the reader thread's recv
            except OSError:
                pass
            sock.close()

        return cls(sock.recv, sock.sendall, lambda: None, close_output, close_all)

    @classmethod
    def spawn(cls, args: Sequence[str], stderr: Union[None, Callable[[str], None], Any] = None,
              env: Optional[Dict[str, str]] = None, cwd: Optional[str] = None) -> "FramedClient":
        """Spawns a program speaking the framed protocol on stdin/stdout, e.g.
        ``["node", "/opt/mosaicd/bin/mosaicd.js", "stdio"]``.

        ``stderr``: None passes the child's stderr through to ours; a callable
        gets each stderr line (drained on a thread so a chatty child never
        blocks); anything else is handed to Popen as is (a file, DEVNULL).
        """
        drain = callable(stderr)
        child = subprocess.Popen(
            list(args),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE if drain else stderr,
            env=env,
            cwd=cwd,
        )
        if drain:
            def pump() -> None:
                assert child.stderr is not None
                for raw in iter(child.stderr.readline, b""):
                    try:
                        stderr(raw.decode("utf-8", errors="replace").rstrip("\r\n"))
                    except Exception:
                        pass
                child.stderr.close()

            threading.Thread(target=pump, name="mosaicd-stderr", daemon=True).start()
        assert child.stdin is not None and child.stdout is not None
        stdin, stdout = child.stdin, child.stdout

        def write(data: bytes) -> None:
            stdin.write(data)

        def close_output() -> None:
            stdin.close()

        def close_all() -> None:
            for s in (stdin, stdout):
                try:
                    s.close()
                except OSError:
                    pass

        return cls(stdout.read, write, stdin.flush, close_output, close_all, child)

    # -- requests --

    def submit(self, request: Union[str, Dict[str, Any]], payload: bytes = b"") -> "Future[FramedResponse]":
        """Sends one request (a dict, or raw JSON text for anything the typed
        methods cannot express, e.g. a boolean camera_number); the Future
        completes with its response."""
        text = request if isinstance(request, str) else _json.dumps(request, ensure_ascii=False, separators=(",", ":"))
        meta = text.encode("utf-8")
        if not meta:
            raise ValueError("the request JSON is empty")
        payload = bytes(payload or b"")
        fut: Future = Future()
        with self._write_lock:
            with self._queue_lock:
                if self._failure is not None:
                    fut.set_exception(self._failure)
                    return fut
                if self._output_closed:
                    raise RuntimeError("the request side is closed")
                self._waiting.append(fut)
            try:
                self._write(struct.pack("<Q", len(meta)) + meta + struct.pack("<Q", len(payload)))
                if payload:
                    self._write(payload)
                self._flush()
            except (OSError, ValueError) as e:
                self._fail(ConnectionError(f"writing the request failed: {e}"))
        return fut

    def request(self, request: Union[str, Dict[str, Any]], payload: bytes = b"", timeout: Optional[float] = None) -> FramedResponse:
        """Sends one request and waits for its response (raw JSON text or a dict)."""
        return self.submit(request, payload).result(timeout if timeout is not None else self.timeout)

    def _command(self, command: str, request_id: Any = None, **fields: Any) -> Dict[str, Any]:
        if request_id is None:
            with self._queue_lock:
                self._next_id += 1
                request_id = self._next_id
        d: Dict[str, Any] = {"command": command, "request_id": request_id}
        d.update({k: v for k, v in fields.items() if v is not None})
        return d

    def process(self, image: bytes, camera: int = 0, model: Optional[str] = None, request_id: Any = None) -> FramedResponse:
        """Runs the model for ``camera`` (or the one named) on an encoded image."""
        return self.submit_process(image, camera, model, request_id).result(self.timeout)

    def submit_process(self, image: bytes, camera: int = 0, model: Optional[str] = None, request_id: Any = None) -> "Future[FramedResponse]":
        if not image:
            raise ValueError("process needs an image")
        return self.submit(self._command("process", request_id, camera_number=int(camera), model=model), image)

    def render(self, tile: str, request_id: Any = None) -> FramedResponse:
        """Renders (or reads from the cache) one tile ``Z_X_Y``; the PNG is ``results[0].png``."""
        return self.submit_render(tile, request_id).result(self.timeout)

    def submit_render(self, tile: str, request_id: Any = None) -> "Future[FramedResponse]":
        return self.submit(self._command("render", request_id, tile=tile))

    def ping(self) -> FramedResponse:
        """Answers with ``"pong": true``."""
        return self.request(self._command("ping"))

    def stats(self) -> FramedResponse:
        """The daemon's stats: ``response.get("stats")``."""
        return self.request(self._command("stats"))

    def viewport(self, z: int, min_x: int, min_y: int, max_x: int, max_y: int) -> FramedResponse:
        return self.request(self._command("viewport", z=z, min_x=min_x, min_y=min_y, max_x=max_x, max_y=max_y))

    def cancel(self, tile: str) -> FramedResponse:
        return self.request(self._command("cancel", tile=tile))

    def shutdown(self, token: Optional[str] = None) -> FramedResponse:
        """Asks the daemon to exit (answered first). In stdio mode the child then exits 0."""
        return self.request(self._command("shutdown", token=token))

    def close(self) -> None:
        """Half-closes the request side (TCP FIN, or EOF on the child's stdin: it then exits 0). Responses still arrive."""
        with self._write_lock:
            with self._queue_lock:
                if self._output_closed:
                    return
                self._output_closed = True
            try:
                self._close_output()
            except OSError:
                pass

    def wait(self, timeout: Optional[float] = None) -> Optional[int]:
        """In stdio mode: the child's exit code, or None on timeout (or over TCP)."""
        if self.child is None:
            return None
        try:
            return self.child.wait(timeout)
        except subprocess.TimeoutExpired:
            return None

    def dispose(self) -> None:
        """Closes everything. A spawned child gets EOF on stdin and 5 s to exit, then is killed."""
        self.close()
        if self.child is not None:
            try:
                self.child.wait(5)
            except subprocess.TimeoutExpired:
                self.child.kill()
                self.child.wait()
        self._fail(ConnectionError("the client was closed"))
        self._close_all()

    def __enter__(self) -> "FramedClient":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.dispose()

    # -- responses --

    def _read_loop(self) -> None:
        try:
            while True:
                response = self._read_response()
                if response is None:
                    self._fail(ConnectionError("the daemon closed the connection"))
                    return
                with self._queue_lock:
                    fut = self._waiting.popleft() if self._waiting else None
                if fut is None:
                    self._fail(ConnectionError("a response arrived for no request"))
                    return
                fut.set_result(response)
        except (OSError, EOFError, ValueError) as e:
            self._fail(e if isinstance(e, ConnectionError) else ConnectionError(str(e)))

    def _read_response(self) -> Optional[FramedResponse]:
        head = read_exact(self._read, 8, allow_eof=True)
        if head is None:
            return None
        (json_len,) = struct.unpack("<Q", head)
        if json_len == 0 or json_len > self.MAX_JSON_BYTES:
            raise ValueError(f"bad response JSON length {json_len}")
        meta = read_exact(self._read, json_len)
        (count,) = struct.unpack("<Q", read_exact(self._read, 8))
        if count > self.MAX_IMAGES:
            raise ValueError(f"bad response image count {count}")
        images = []
        for _ in range(count):
            (size,) = struct.unpack("<Q", read_exact(self._read, 8))
            if size > self.MAX_IMAGE_BYTES:
                raise ValueError(f"bad response image length {size}")
            images.append(read_exact(self._read, size) if size else b"")
        return FramedResponse.from_wire(meta.decode("utf-8"), images)

    def _fail(self, error: BaseException) -> None:
        with self._queue_lock:
            if self._failure is None:
                self._failure = error
            pending = list(self._waiting)
            self._waiting.clear()
            failure = self._failure
        for fut in pending:
            if not fut.done():
                fut.set_exception(failure)
