"""The guard that keeps a failing capture receiver from breaking the code it observes."""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import ParamSpec, TypeVar

logger = logging.getLogger(__name__)

P = ParamSpec("P")
R = TypeVar("R")


def guarded(func: Callable[P, R]) -> Callable[P, R | None]:
    """Run ``func``; log (never raise) anything it raises and return None instead.

    A login, an admin save or a failing request must never fail *because* it was being
    observed. The error is logged on an ``opsmessaging`` logger, which the logging capture
    ignores, so a broken store cannot turn this into a loop.
    """

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R | None:
        try:
            return func(*args, **kwargs)
        except Exception:
            logger.exception("opsmessaging capture %s failed", func.__qualname__)
            return None

    return wrapper
