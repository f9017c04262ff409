"""The local spool: broadcasts kept on disk while the database is unreachable.

Each node has one append-only file, ``<SPOOL_DIR>/<node>.spool``, of records::

    magic "OMSP" | kind (1 byte) | count (u32) | length (u32) | crc32 (u32) | body

A ``G`` record opens the file with a random generation id; an ``M`` record holds
``count`` messages (their wire envelopes as JSON, encrypted with ``codec.fernet()``, so
security and audit payloads never sit on disk in clear); an ``A`` record says that every
record before the offset in its body is drained. The crc32 covers kind, count, length and
body, so a record cut short by a process killed mid-write is recognised: it is cut off
(its bytes kept in ``<node>.rejected``) before the next append, and was never reported as
spooled, since an append returns only after ``fsync``. When every record is drained the
file is emptied.

Processes of one node share the file: appends and cut-offs hold an exclusive ``flock`` on
``<node>.spool.lock``, a drain holds ``<node>.drain.lock`` for its whole run, so appends
never wait for a drain and two drains never run at once.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import struct
import zlib
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field

from cryptography.fernet import InvalidToken
from django.db import DataError, IntegrityError

from opsmessaging import codec
from opsmessaging.conf import conf
from opsmessaging.envelope import Envelope
from opsmessaging.exceptions import InvalidMessage, OpsMessagingError

logger = logging.getLogger(__name__)

MAGIC = b"OMSP"
_HEADER = struct.Struct(">4scIII")  # magic, kind, count, length, crc32
GENERATION, MESSAGES, ACK = b"G", b"M", b"A"
_OFFSET = struct.Struct(">Q")


class SpoolFull(OpsMessagingError):
    """Raised when a spool holds ``SPOOL_MAX_MESSAGES`` messages or ``SPOOL_MAX_BYTES``."""


@dataclass(frozen=True)
class _Record:
    offset: int
    end: int
    count: int


@dataclass
class _State:
    """What a scan of the file found (kept per process, extended as the file grows)."""

    generation: bytes = b""
    end: int = 0  # end of the last whole record
    pending: list[_Record] = field(default_factory=list)


@dataclass
class DrainReport:
    """The outcome of one drain: messages stored, records rejected, what remains."""

    drained: int = 0
    rejected: int = 0
    remaining: int = 0
    complete: bool = False
    busy: bool = False
    error: str | None = None


def encode_record(kind: bytes, count: int, body: bytes) -> bytes:
    """Return one record: header, then ``body``."""
    header = _HEADER.pack(MAGIC, kind, count, len(body), 0)
    crc = zlib.crc32(header[4:13] + body)
    return _HEADER.pack(MAGIC, kind, count, len(body), crc) + body


def _parse(data: bytes, at: int) -> tuple[bytes, int, bytes] | None:
    """Return ``(kind, count, body)`` of the whole, intact record at ``at``, else None."""
    if len(data) - at < _HEADER.size:
        return None
    magic, kind, count, length, crc = _HEADER.unpack_from(data, at)
    body = data[at + _HEADER.size : at + _HEADER.size + length]
    if magic != MAGIC or len(body) != length:
        return None
    if zlib.crc32(data[at + 4 : at + 13] + body) != crc:
        return None
    return kind, count, body


class Spool:
    """The spool of one node in one directory."""

    _states: dict[str, _State] = {}

    def __init__(self, directory: str, node: str) -> None:
        self.directory = directory
        self.path = os.path.join(directory, f"{node}.spool")
        self.rejected_path = os.path.join(directory, f"{node}.rejected")
        self._lock_path = self.path + ".lock"
        self._drain_lock_path = os.path.join(directory, f"{node}.drain.lock")

    def pending(self) -> bool:
        """Tell whether the file holds anything (one ``stat``: cheap on every broadcast)."""
        try:
            return os.stat(self.path).st_size > 0
        except FileNotFoundError:
            return False

    def pending_messages(self) -> int:
        """Return how many spooled messages wait to be drained."""
        with self._locked() as fd:
            return sum(r.count for r in self._scan(fd).pending)

    def append(self, envelopes: Sequence[Envelope]) -> None:
        """Write ``envelopes`` as one record and ``fsync`` it, or raise ``SpoolFull``."""
        body = codec.fernet().encrypt(
            json.dumps([e.to_wire() for e in envelopes], ensure_ascii=False).encode()
        )
        record = encode_record(MESSAGES, len(envelopes), body)
        with self._locked() as fd:
            state = self._scan(fd)
            waiting = sum(r.count for r in state.pending)
            if waiting + len(envelopes) > conf.SPOOL_MAX_MESSAGES:
                raise SpoolFull(
                    f"{waiting} messages are waiting; the limit is "
                    f"{conf.SPOOL_MAX_MESSAGES} (OPSMESSAGING['SPOOL_MAX_MESSAGES'])"
                )
            if state.end == 0:
                state.generation = os.urandom(16)
                record = encode_record(GENERATION, 0, state.generation) + record
            if state.end + len(record) > conf.SPOOL_MAX_BYTES:
                raise SpoolFull(
                    f"the spool file holds {state.end} bytes; the limit is "
                    f"{conf.SPOOL_MAX_BYTES} (OPSMESSAGING['SPOOL_MAX_BYTES'])"
                )
            _write_at(fd, state.end, record)
            os.fsync(fd)
            offset = state.end + len(record) - len(body) - _HEADER.size
            state.pending.append(
                _Record(offset, state.end + len(record), len(envelopes))
            )
            state.end += len(record)

    def drain(
        self, store: Callable[[list[Envelope]], object], wait: bool = True
    ) -> DrainReport:
        """Hand every spooled record to ``store``, oldest first, and mark it drained.

        ``store`` raising a ``DatabaseError`` stops the drain (the rest stays, in order);
        a record that cannot be read, or that the database refuses as such (``DataError``,
        ``IntegrityError``), is rejected: logged and kept in the ``.rejected`` file. A
        record stored again after a crash between storing and marking is not stored
        twice, since the store ignores a ``message_id`` it has. With ``wait=False`` a
        drain already running elsewhere is left to finish and the report says ``busy``.
        """
        report = DrainReport()
        os.makedirs(self.directory, mode=0o700, exist_ok=True)
        with open(self._drain_lock_path, "a") as lock:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
            except BlockingIOError:
                report.busy = True
                return report
            while True:
                with self._locked() as fd:
                    state = self._scan(fd)
                    records = list(state.pending)
                    if not records:
                        _empty(fd, state)
                        report.complete = True
                        self._log(report)
                        return report
                    data = os.pread(
                        fd, records[-1].end - records[0].offset, records[0].offset
                    )
                for record in records:
                    if not self._drain_record(
                        record, data, records[0].offset, store, report
                    ):
                        with self._locked() as fd:
                            pending = self._scan(fd).pending
                            report.remaining = sum(r.count for r in pending)
                        self._log(report)
                        return report

    def _drain_record(
        self,
        record: _Record,
        data: bytes,
        base: int,
        store: Callable[[list[Envelope]], object],
        report: DrainReport,
    ) -> bool:
        raw = data[record.offset - base : record.end - base]
        parsed = _parse(raw, 0)
        try:
            if parsed is None:
                raise ValueError("the record is damaged")
            envelopes = [
                Envelope.from_wire(wire)
                for wire in json.loads(codec.fernet().decrypt(parsed[2]))
            ]
        except (InvalidToken, ValueError, KeyError, TypeError, InvalidMessage) as exc:
            self._reject(raw, record, f"cannot read it: {type(exc).__name__}: {exc}")
            report.rejected += 1
        else:
            try:
                store(envelopes)
            except (DataError, IntegrityError) as exc:
                self._reject(raw, record, f"the database refused it: {exc}")
                report.rejected += 1
            except Exception as exc:  # the database is still away: keep the rest
                report.error = f"{type(exc).__name__}: {exc}".strip()
                return False
            else:
                report.drained += len(envelopes)
        with self._locked() as fd:
            state = self._scan(fd)
            # Not fsync'd: a lost mark means a record drained again, which stores nothing.
            _write_at(fd, state.end, encode_record(ACK, 0, _OFFSET.pack(record.end)))
            state.end += _HEADER.size + _OFFSET.size
            state.pending = [r for r in state.pending if r.offset > record.offset]
        return True

    def _log(self, report: DrainReport) -> None:
        if report.drained or report.rejected:  # a drain that stored nothing is quiet
            logger.info(
                "Drained %d spooled message(s) from %s, rejected %d record(s); %s",
                report.drained,
                self.path,
                report.rejected,
                "the spool is empty"
                if report.complete
                else f"{report.remaining} message(s) remain: {report.error}",
            )

    def _reject(self, raw: bytes, record: _Record, reason: str) -> None:
        logger.error(
            "Rejected spooled record at byte %d of %s (%d message(s)): %s; its bytes are "
            "kept in %s",
            record.offset,
            self.path,
            record.count,
            reason,
            self.rejected_path,
        )
        _keep(self.rejected_path, raw)

    @contextmanager
    def _locked(self) -> Iterator[int]:
        """Open the spool file under the append lock; yield its descriptor."""
        os.makedirs(self.directory, mode=0o700, exist_ok=True)
        with open(self._lock_path, "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            created = not os.path.exists(self.path)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
            try:
                if created:
                    _fsync_directory(self.directory)
                yield fd
            finally:
                os.close(fd)

    def _scan(self, fd: int) -> _State:
        """Bring this process's view of the file up to date; cut off a torn tail."""
        size = os.fstat(fd).st_size
        head = os.pread(fd, _HEADER.size + 16, 0)
        first = _parse(head, 0)
        generation = first[2] if first is not None and first[0] == GENERATION else b""
        state = self._states.get(self.path)
        if state is None or state.generation != generation or state.end > size:
            state = _State(generation)
            self._states[self.path] = state
        if state.end < size:
            data = os.pread(fd, size - state.end, state.end)
            at = 0
            while (parsed := _parse(data, at)) is not None:
                kind, count, body = parsed
                end = at + _HEADER.size + len(body)
                if kind == MESSAGES:
                    state.pending.append(
                        _Record(state.end + at, state.end + end, count)
                    )
                elif kind == ACK:
                    done = _OFFSET.unpack(body)[0]
                    state.pending = [r for r in state.pending if r.end > done]
                at = end
            state.end += at
            if state.end < size:
                self._cut_torn_tail(fd, data[at:], state.end, size)
        return state

    def _cut_torn_tail(self, fd: int, torn: bytes, end: int, size: int) -> None:
        logger.warning(
            "Cut %d bytes of a torn record (a write interrupted by a crash) off %s at "
            "byte %d; they are kept in %s",
            size - end,
            self.path,
            end,
            self.rejected_path,
        )
        _keep(self.rejected_path, torn)
        os.ftruncate(fd, end)
        os.fsync(fd)


def _write_at(fd: int, offset: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.pwrite(fd, view, offset)
        view, offset = view[written:], offset + written


def _empty(fd: int, state: _State) -> None:
    """Empty a fully drained file, so the next append starts a new generation."""
    if state.end:
        os.ftruncate(fd, 0)
        os.fsync(fd)
    state.end, state.generation, state.pending = 0, b"", []


def _keep(path: str, data: bytes) -> None:
    with open(path, "ab") as kept:
        kept.write(data)
        kept.flush()
        os.fsync(kept.fileno())


def _fsync_directory(directory: str) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
