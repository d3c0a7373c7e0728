"""Reading an export in a second process, so that parsing and database writes overlap.

A large import has two halves: reading and checking the CSV, and writing the rows.
Threads would take turns on the GIL, so the reading half runs in a child process
(``python -P -m greenloop.ecom.worker``) that reads the file by columns
(:mod:`greenloop.ecom.columnar`), stages its orders into storage rows
(:mod:`greenloop.ecom.staging`: content hashes, snapshot times) and sends them, by
columns, down a pipe while the parent writes the previous batch. Reading is still the
busier half (on a 1M-row export the child used a whole core, the writer about half of
one), so the parent takes whatever can move: the file's hash, turning columns into
rows for the driver. The child is a fresh interpreter that
imports only the reader and pyarrow: it starts in well under a second, and
is safe to start from a process that has threads (unlike ``fork``).

Messages are ``marshal`` data (tuples, lists, strings, integers, ``None``: all a record
holds) behind an 8-byte length. Both ends run the same interpreter, so the format
matches, and it encodes about twice as fast as ``pickle``.

Both ways of staging a file look the same to the importer: iterate the batches, then
read ``report``. Problems come out as the same exceptions either way: ``ReadAgain``
subclasses, ``InputFileError``/``ConfigError``, anything else as ``RuntimeError``.
"""

from __future__ import annotations

import contextlib
import gc
import hashlib
import importlib.abc
import marshal
import os
import queue
import subprocess
import sys
import threading
import traceback
from collections.abc import Iterator
from dataclasses import asdict, replace
from pathlib import Path
from typing import IO, Any, Protocol

from greenloop.ecom.dialect import Dialect
from greenloop.ecom.report import NotContiguous, NotUtf8, ReadReport
from greenloop.ecom.staging import Batch, StageJob, stage
from greenloop.errors import ConfigError, GreenLoopError, ImportRowError, InputFileError

__all__ = ["CHILD_MIN_BYTES", "StagedFile", "main", "stage_file"]

# Below this size the child's start-up (about 0.1 s) costs more than the overlap gains.
CHILD_MIN_BYTES = 8 << 20
_PIPE_BYTES = 1 << 20
# Hashed after each batch written: a batch holds about 1 MB of the file, so the hash is
# done well before the last batch.
_DIGEST_SLICE = 4 << 20
_ERRORS: dict[str, type[GreenLoopError]] = {
    "InputFileError": InputFileError,
    "ConfigError": ConfigError,
}


class StagedFile(Protocol):
    report: ReadReport

    def __iter__(self) -> Iterator[Batch]: ...

    def close(self) -> None: ...


def stage_file(job: StageJob, *, child: bool | None = None) -> StagedFile:
    """Stage ``job`` here or with a child process (``None``: a child for large files,
    and a small file here row by row)."""
    if child is None:
        child = bool(sys.executable) and job.path.stat().st_size >= CHILD_MIN_BYTES
        if not child:
            # Importing pyarrow costs about 0.4 s, more than reading a small file by
            # columns saves, and its 60-100 MB would stay in a long-running `serve`
            # whose daily job imports an export.
            job = replace(job, columnar=False)
    return _ChildStage(job) if child else _LocalStage(job)


class _LocalStage:
    def __init__(self, job: StageJob) -> None:
        self._job = job
        self._reader = job.reader()
        self.report = self._reader.report

    def __iter__(self) -> Iterator[Batch]:
        return stage(self._reader, self._job)

    def close(self) -> None:
        pass


class _FileDigest:
    """SHA-256 of a file, computed a slice at a time between the parent's writes.

    The child is the busier process, so the parent takes the file's hash off it. Not in
    a thread: the database driver releases the GIL around every row it writes, and a
    second thread turns each of those releases into a hand-over.
    """

    def __init__(self, path: Path) -> None:
        self._path = path
        self._raw: IO[bytes] | None = None
        self._digest = hashlib.sha256()

    def advance(self, size: int = _DIGEST_SLICE) -> None:
        try:
            if self._raw is None:
                self._raw = self._path.open("rb")
            while size > 0 and (chunk := self._raw.read(min(size, _PIPE_BYTES))):
                self._digest.update(chunk)
                size -= len(chunk)
        except OSError as exc:
            raise InputFileError(f"{self._path}: cannot read the file ({exc.strerror})") from None

    def hexdigest(self) -> str:
        self.advance(sys.maxsize)
        self.close()
        return self._digest.hexdigest()

    def close(self) -> None:
        if self._raw is not None:
            self._raw.close()


class _ChildStage:
    def __init__(self, job: StageJob) -> None:
        job = replace(job, hash_file=False)
        self._job = job
        self._digest = _FileDigest(job.path)
        self._finished = False
        self.report = ReadReport(file=str(job.path))
        env = dict(os.environ)
        # The child must import this very copy of greenloop, whatever the caller's path.
        package_root = str(Path(__file__).resolve().parents[2])
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [package_root, env.get("PYTHONPATH")]))
        self._process = subprocess.Popen(
            [sys.executable, "-P", "-m", "greenloop.ecom.worker"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=env,
        )
        assert self._process.stdin is not None
        assert self._process.stdout is not None
        self._output: IO[bytes] = self._process.stdout
        _grow_pipe(self._output)
        with self._process.stdin as stdin:
            _send(stdin, {**asdict(job), "path": str(job.path)})

    def __iter__(self) -> Iterator[Batch]:
        while True:
            message = _receive(self._output)
            if message is None:
                code = self._process.wait()
                raise RuntimeError(
                    f"reading {self._job.path} failed: the worker process ended (exit {code})"
                )
            kind = message[0]
            if kind == "batch":
                yield Batch(message[1], message[2])
                self._digest.advance()
            elif kind == "done":
                self._fill_report(message[1])
                self._finished = True
                return
            elif kind == "again":
                raise (NotContiguous if message[1] == "contiguous" else NotUtf8)(message[2])
            elif kind == "error":
                raise _ERRORS[message[1]](message[2], hint=message[3])
            else:
                raise RuntimeError(f"reading {self._job.path} failed in the worker:\n{message[1]}")

    def _fill_report(self, payload: dict[str, Any]) -> None:
        report = self.report
        report.dialect = Dialect(**payload["dialect"], sha256=self._digest.hexdigest())
        report.rows = payload["rows"]
        report.orders = payload["orders"]
        report.warnings = payload["warnings"]
        report.warning_count = payload["warning_count"]
        report.rejected = [
            ImportRowError(message, file=report.file, line=line, column=column, hint=hint or None)
            for message, line, column, hint in payload["rejected"]
        ]

    def close(self) -> None:
        if not self._finished:
            self._process.kill()  # stopped early (an error, an interruption): no use for it
        try:
            self._process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
        self._output.close()
        self._digest.close()


def _grow_pipe(stream: IO[bytes]) -> None:
    """Let the child run a batch ahead instead of 64 KB (Linux only; best effort)."""
    try:
        import fcntl
    except ImportError:
        return
    set_size = getattr(fcntl, "F_SETPIPE_SZ", None)
    if set_size is not None:
        with contextlib.suppress(OSError):
            fcntl.fcntl(stream.fileno(), set_size, _PIPE_BYTES)


def _send(stream: IO[bytes], message: Any) -> None:
    _write_frame(stream, marshal.dumps(message))


def _write_frame(stream: IO[bytes], data: bytes) -> None:
    stream.write(len(data).to_bytes(8, "little"))
    stream.write(data)


def _receive(stream: IO[bytes]) -> Any:
    """The next message, or None when the other end closed the pipe."""
    size = stream.read(8)
    if len(size) < 8:
        return None
    data = stream.read(int.from_bytes(size, "little"))
    # Written by our own child (or parent) over a private pipe, by the same interpreter.
    return marshal.loads(data)  # noqa: S302


def _report_payload(report: ReadReport) -> dict[str, Any]:
    assert report.dialect is not None
    dialect = asdict(report.dialect)
    del dialect["sha256"]  # the parent hashes the file
    return {
        "dialect": dialect,
        "rows": report.rows,
        "orders": report.orders,
        "warnings": report.warnings,
        "warning_count": report.warning_count,
        "rejected": [(e.message, e.line, e.column, e.hint) for e in report.rejected],
    }


class _Sender:
    """Writes the child's messages from a thread of its own.

    A batch's message (about 1.2 MB) is larger than the pipe holds (1 MB at most for a
    process that is not privileged), so a write from the reading thread waited for the
    parent to finish writing the previous batch to the database, and the two processes
    took turns: a 1M-row import took the sum of both halves' times, not the longer one.
    Messages wait in a short queue instead; the writes release the GIL.
    """

    def __init__(self, out: IO[bytes], depth: int = 3) -> None:
        self._out = out
        self._queue: queue.Queue[bytes | None] = queue.Queue(maxsize=depth)
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._write, name="sender", daemon=True)
        self._thread.start()

    def send(self, message: Any) -> None:
        if self._error is not None:
            raise self._error
        self._queue.put(marshal.dumps(message))

    def close(self) -> None:
        """Wait until every message is written; raise what stopped the writes."""
        self._queue.put(None)
        self._thread.join()
        if self._error is not None:
            raise self._error

    def _write(self) -> None:
        while (data := self._queue.get()) is not None:
            if self._error is not None:
                continue  # the pipe broke: drain, so that send() never blocks
            try:
                _write_frame(self._out, data)
                self._out.flush()
            except BaseException as exc:  # handed to the reading thread by send() or close()
                self._error = exc


def _run(job: StageJob, out: IO[bytes]) -> None:
    reader = job.reader()
    sender = _Sender(out)
    try:
        for batch in stage(reader, job):
            sender.send(("batch", batch.orders, batch.items))
        sender.send(("done", _report_payload(reader.report)))
    except NotContiguous as exc:
        sender.send(("again", "contiguous", str(exc)))
    except NotUtf8 as exc:
        sender.send(("again", "utf8", str(exc)))
    except (InputFileError, ConfigError) as exc:
        sender.send(("error", type(exc).__name__, exc.message, exc.hint))
    except BrokenPipeError:
        raise
    except Exception:
        sender.send(("crash", traceback.format_exc()))
    finally:
        sender.close()


class _WithoutPandas(importlib.abc.MetaPathFinder):
    """pyarrow imports pandas the first time it converts Python values, to look for
    pandas objects among them; this process never holds one. Refused, pyarrow takes
    pandas as absent (it catches the ImportError): about 0.25 s of start-up and 40 MB
    less. (A ``None`` in ``sys.modules`` does not do: pyarrow's import gets the None.)"""

    def find_spec(self, fullname: str, path: Any, target: Any = None) -> None:
        if fullname == "pandas":
            raise ModuleNotFoundError("pandas is not used by the eCom reader", name=fullname)


def _lean_arrow_memory() -> None:
    """Arrow's jemalloc pool where the wheel has one: on a 1M-row export the reader
    peaked about 20 MB lower than with the default mimalloc pool, which keeps freed
    pages resident (its own allocations never passed 25 MB), and no slower."""
    import pyarrow as pa  # type: ignore[import-untyped]

    # A pyarrow wheel built without jemalloc raises NotImplementedError here: the
    # default pool is then kept, which only costs memory.
    with contextlib.suppress(NotImplementedError):
        pa.set_memory_pool(pa.jemalloc_memory_pool())


def main() -> int:
    sys.meta_path.insert(0, _WithoutPandas())
    # This process only reads one file: its objects are the imports (frozen out of the
    # collector) and short-lived rows that form no cycles, so collections are rare.
    gc.freeze()
    gc.set_threshold(50_000, 50, 50)
    out = sys.stdout.buffer
    try:
        fields = _receive(sys.stdin.buffer)
        job = StageJob(**{**fields, "path": Path(fields["path"])})
        if job.columnar:
            _lean_arrow_memory()
        _run(job, out)
    except KeyboardInterrupt:
        return 130  # the parent was interrupted too and rolls back
    except BrokenPipeError:
        # The parent stopped reading (it failed or was interrupted); nothing to report.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
