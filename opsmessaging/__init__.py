"""Operational messaging for Django."""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"


def __getattr__(name: str) -> Any:
    if name == "monitor":
        # Loaded on first use: importing the package touches no settings or models, and
        # the package's root depends on no module of it (modules import its version).
        return importlib.import_module("opsmessaging.checkins").monitor
    raise AttributeError(f"module 'opsmessaging' has no attribute {name!r}")
