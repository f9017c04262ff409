"""Operational messaging for Django."""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"


def __getattr__(name: str) -> Any:
    if name == "monitor":
        # Loaded on first use: importing the package touches no settings or models.
        from opsmessaging.checkins import monitor

        return monitor
    raise AttributeError(f"module 'opsmessaging' has no attribute {name!r}")
