"""Logging capture: a ``logging.Handler`` that turns log records into ``LogEntry`` messages.

```python
LOGGING = {
    "version": 1,
    "handlers": {"opsmessaging": {"class": "opsmessaging.capture.logging.OpsMessagingHandler"}},
    "root": {"handlers": ["opsmessaging"], "level": "INFO"},
}
```

Records at or above ``LOG_CAPTURE_LEVEL`` are queued and stored by a background thread, so
logging never waits for the database, and a log entry is kept even when the caller's
transaction rolls back. The handler never raises into the caller and never loops: records
of the ``opsmessaging`` loggers, and records logged while a message is being stored (for
example the database backend's own query log), are not captured; nor, unless
``LOG_CAPTURE_CLIENT_ERRORS``, are request logs of 4xx responses (``django.request``'s
"Not Found: ..."), which anyone can cause. Each logger has its own budget: past
``LOG_RATE_LIMIT`` records of one logger per ``LOG_RATE_WINDOW``, or when the queue is full,
records are dropped and counted, and one ``LogSummary`` per window says how many of each
level were dropped, so a noisy logger never hides another one's errors.
"""

from __future__ import annotations

import contextlib
import logging
import os
import queue
import threading
import time
import weakref
from datetime import UTC, datetime
from typing import Any

from django.apps import apps
from django.db import connections

from opsmessaging.catalogue import logs
from opsmessaging.catalogue.logs import log_level
from opsmessaging.conf import conf
from opsmessaging.timestamps import format_timestamp

QUEUE_SIZE = 1000
MESSAGE_MAX_LENGTH = 8000
EXCEPTION_MAX_LENGTH = 16000
IDLE_TICK_SECONDS = 0.5
APPS_READY_WAIT_SECONDS = 0.05
FLUSH_TIMEOUT_SECONDS = 5.0
OWN_LOGGER = "opsmessaging"

_writing = threading.local()  # set while this thread stores a message
_handlers: weakref.WeakSet[OpsMessagingHandler] = weakref.WeakSet()


def flush_handlers() -> None:
    """Wait until every ``OpsMessagingHandler`` of this process has stored its queue."""
    for handler in list(_handlers):
        handler.flush()


#: The loggers by which Django reports a response's status (4xx at WARNING).
REQUEST_LOGGERS = ("django.request", "django.server", "django.channels.server")


def is_client_error_log(record: logging.LogRecord) -> bool:
    """Tell whether ``record`` is Django's report of a 4xx response (a 404 of
    ``/favicon.ico``, a 403): the client's error, noise in the operational log."""
    status = getattr(record, "status_code", None)
    return (
        record.name in REQUEST_LOGGERS
        and isinstance(status, int)
        and 400 <= status < 500
    )


def _ms(seconds: float) -> datetime:
    value = datetime.fromtimestamp(seconds, UTC)
    return value.replace(microsecond=value.microsecond - value.microsecond % 1000)


class _Stop:
    """Queued by ``close()`` to end the writer thread."""


class OpsMessagingHandler(logging.Handler):
    """Store log records as ``logging`` messages (``LogEntry``), in the background."""

    def __init__(self, level: int | str = logging.NOTSET) -> None:
        super().__init__(level)
        self._pid = os.getpid()
        self._queue: queue.Queue[logging.LogRecord | dict[str, Any] | _Stop] = (
            queue.Queue(maxsize=QUEUE_SIZE)
        )
        self._thread: threading.Thread | None = None
        self._window_start = time.time()
        self._accepted: dict[str, int] = {}
        self._dropped: dict[str, int] = {}
        _handlers.add(self)

    # --- the caller's side: decide, count, enqueue; never block, never raise ----------

    def emit(self, record: logging.LogRecord) -> None:
        try:
            if not self._wanted(record):
                return
            self._ensure_writer()
            self._roll_window(time.time())
            accepted = self._accepted.get(record.name, 0)
            if accepted >= conf.LOG_RATE_LIMIT:
                self._drop(record)
                return
            try:
                self._queue.put_nowait(record)
            except queue.Full:
                self._drop(record)
                return
            self._accepted[record.name] = accepted + 1
        except Exception:
            self.handleError(record)

    def _wanted(self, record: logging.LogRecord) -> bool:
        if getattr(_writing, "active", False):
            return False  # logged while storing a message: capturing it would loop
        if record.name == OWN_LOGGER or record.name.startswith(OWN_LOGGER + "."):
            return False
        if not conf.CAPTURE_LOGGING or record.levelno < conf.LOG_CAPTURE_LEVEL:
            return False
        return conf.LOG_CAPTURE_CLIENT_ERRORS or not is_client_error_log(record)

    def _drop(self, record: logging.LogRecord) -> None:

        level = str(log_level(record.levelno))
        self._dropped[level] = self._dropped.get(level, 0) + 1

    def _roll_window(self, now: float) -> None:
        """Start a new rate window when the current one is over, summarising its drops.

        Called with the handler's lock held (``handle`` holds it around ``emit``).
        """
        start = self._window_start
        if now - start < conf.LOG_RATE_WINDOW / 1000:
            return
        if self._dropped:
            summary = {"start": start, "end": now, "dropped": dict(self._dropped)}
            try:
                self._queue.put_nowait(summary)
            except queue.Full:
                return  # keep counting; the summary goes out with a later window
            self._dropped = {}
        self._window_start, self._accepted = now, {}

    def _ensure_writer(self) -> None:
        pid = os.getpid()
        if self._pid == pid and self._thread is not None and self._thread.is_alive():
            return
        if self._pid != pid:
            # A new process (a fork): the parent's queue and thread are not ours.
            self._queue = queue.Queue(maxsize=QUEUE_SIZE)
            self._pid = pid
        self._thread = threading.Thread(
            target=self._write_forever, name="opsmessaging-log-writer", daemon=True
        )
        self._thread.start()

    # --- the writer thread -----------------------------------------------------------

    def _write_forever(self) -> None:
        _writing.active = True
        # Records logged during django.setup() wait here until the models are ready.
        while not apps.ready:
            time.sleep(APPS_READY_WAIT_SECONDS)
        while True:
            try:
                item = self._queue.get(timeout=IDLE_TICK_SECONDS)
            except queue.Empty:
                self.acquire()
                try:
                    self._roll_window(time.time())
                finally:
                    self.release()
                continue
            try:
                if isinstance(item, _Stop):
                    self._close_connections()
                    return
                self._store(item)
            except Exception:
                self._forget_connection()
                if isinstance(item, logging.LogRecord):
                    self.handleError(item)  # prints to stderr; never raises here
            finally:
                self._queue.task_done()

    def _store(self, item: logging.LogRecord | dict[str, Any]) -> None:
        # This module is loaded by LOGGING, before the app registry is ready.
        from opsmessaging import pubsub

        if isinstance(item, dict):
            result = pubsub.broadcast(self.summary_payload(item))
        else:
            result = pubsub.broadcast(self.entry_payload(item))
        if not result.ok:
            self._forget_connection()

    @staticmethod
    def _close_connections() -> None:
        connections.close_all()

    @staticmethod
    def _forget_connection() -> None:
        """Drop this thread's database connection if it broke, so the next write reconnects."""
        for connection in connections.all(initialized_only=True):
            try:
                connection.close_if_unusable_or_obsolete()
            except Exception:
                connection.connection = None

    def entry_payload(self, record: logging.LogRecord) -> Any:
        """Return the ``LogEntry`` payload of ``record``."""

        metadata: dict[str, Any] = {"logger": record.name, "path": record.pathname}
        if record.exc_info:
            text = logging.Formatter().formatException(record.exc_info)
            metadata["exception"] = text[-EXCEPTION_MAX_LENGTH:]
        elif record.exc_text:
            metadata["exception"] = record.exc_text[-EXCEPTION_MAX_LENGTH:]
        if record.stack_info:
            metadata["stack"] = record.stack_info[-EXCEPTION_MAX_LENGTH:]
        message = record.getMessage()[:MESSAGE_MAX_LENGTH] or "(empty)"
        return logs.log_entry(
            str(logs.log_level(record.levelno)),
            message,
            record.module,
            function=record.funcName,
            line=record.lineno,
            pid=str(record.process) if record.process is not None else None,
            metadata=metadata,
            timestamp=_ms(record.created),
        )

    @staticmethod
    def summary_payload(summary: dict[str, Any]) -> Any:
        """Return the ``LogSummary`` of one rate window's dropped records."""

        dropped: dict[str, int] = summary["dropped"]
        total = sum(dropped.values())
        errors = dropped.get("error", 0) + dropped.get("critical", 0)
        period = f"{format_timestamp(_ms(summary['start']))}/{format_timestamp(_ms(summary['end']))}"
        return logs.log_summary(period, dropped, error_rate=errors / total)

    # --- flushing and closing ----------------------------------------------------------

    def flush(self, timeout: float = FLUSH_TIMEOUT_SECONDS) -> None:
        """Wait (at most ``timeout`` seconds) until every queued record is stored."""
        if (
            self._thread is None
            or not self._thread.is_alive()
            or self._pid != os.getpid()
        ):
            return
        deadline = time.monotonic() + timeout
        while self._queue.unfinished_tasks and time.monotonic() < deadline:
            time.sleep(0.01)

    def close(self) -> None:
        self.flush()
        if (
            self._thread is not None
            and self._thread.is_alive()
            and self._pid == os.getpid()
        ):
            # When the queue is full the daemon thread just ends with the process.
            with contextlib.suppress(queue.Full):
                self._queue.put_nowait(_Stop())
            self._thread.join(timeout=1.0)
        super().close()
