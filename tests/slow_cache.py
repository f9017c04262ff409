"""A cache that stalls one ``set`` across processes: a health probe made slow on purpose.

The test arms it by creating the file named by ``SLOW_CACHE_ARMED``; the first process
whose cache probe finds it renames it (atomic, so exactly one wins) to
``<SLOW_CACHE_ARMED>.<pid>`` and then sleeps ``SLOW_CACHE_SECONDS``, so the test knows
which worker is in the middle of a run and can kill it there.
"""

from __future__ import annotations

import os
import time
from typing import Any

from django.core.cache.backends.base import DEFAULT_TIMEOUT
from django.core.cache.backends.locmem import LocMemCache


class SlowOnceCache(LocMemCache):
    def set(
        self,
        key: str,
        value: Any,
        timeout: float | None = DEFAULT_TIMEOUT,
        version: int | None = None,
    ) -> None:
        armed = os.environ.get("SLOW_CACHE_ARMED")
        if armed:
            try:
                os.rename(armed, f"{armed}.{os.getpid()}")
            except FileNotFoundError:
                pass  # not armed, or another process took it
            else:
                time.sleep(float(os.environ.get("SLOW_CACHE_SECONDS", "5")))
        super().set(key, value, timeout, version)
