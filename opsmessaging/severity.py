"""One ordered severity scale for every payload type that carries a severity or level."""

from __future__ import annotations

from django.db import models

from opsmessaging.exceptions import InvalidMessage


class Severity(models.IntegerChoices):
    """Normalised severity; the numbers match Python's logging levels."""

    DEBUG = 10, "debug"
    INFO = 20, "info"
    WARNING = 30, "warning"
    ERROR = 40, "error"
    CRITICAL = 50, "critical"


#: How each type-specific value maps onto the scale (``low|medium|high`` and ``warn``).
SEVERITY_ALIASES: dict[str, Severity] = {
    "debug": Severity.DEBUG,
    "info": Severity.INFO,
    "low": Severity.INFO,
    "warn": Severity.WARNING,
    "warning": Severity.WARNING,
    "medium": Severity.WARNING,
    "error": Severity.ERROR,
    "high": Severity.ERROR,
    "critical": Severity.CRITICAL,
}


def normalise_severity(value: object, field: str = "severity") -> Severity:
    """Return the ``Severity`` of a label such as ``"warning"``, ``"high"`` or ``"warn"``."""
    if isinstance(value, Severity):
        return value
    if isinstance(value, str) and value in SEVERITY_ALIASES:
        return SEVERITY_ALIASES[value]
    raise InvalidMessage(
        f"unknown severity {value!r}; use one of: {', '.join(SEVERITY_ALIASES)}", field
    )


def severity_label(value: int | None) -> str | None:
    """Return the wire label (``"warning"``) of a stored severity number, or None."""
    return None if value is None else Severity(value).label
