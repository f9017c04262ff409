"""One sample payload of each category, for the self-tests (signing, schemas, the wire).

Built fresh on each call and never stored: the compatibility report and the schema and
signing checks use them to prove that every category can be built, validated, signed and
sent, on this node, with its settings.
"""

from __future__ import annotations

from collections.abc import Callable

from opsmessaging.catalogue import (
    alerts,
    audit,
    diagnostics,
    health,
    lifecycle,
    logs,
    metrics,
    security,
    system,
)
from opsmessaging.catalogue.base import Payload
from opsmessaging.categories import Category
from opsmessaging.nodenames import this_node

#: The builder of each category's sample (tests may replace one to see a failure).
SAMPLES: dict[Category, Callable[[], Payload]] = {
    Category.SYSTEM: lambda: system.system_lifecycle(
        "started", "opsmessaging", "1.0.0"
    ),
    Category.HEALTH: lambda: health.component_health(
        "test_component", this_node(), "healthy"
    ),
    Category.METRICS: lambda: metrics.performance_metric(
        "persistence_operation", 100, "operations"
    ),
    Category.SECURITY: lambda: security.auth_event(
        "compat_check", "login_success", "password"
    ),
    Category.AUDIT: lambda: audit.data_change("compat_check", "record", "1", "read"),
    Category.ALERTS: lambda: alerts.system_alert(
        "info", "system", "compat", None, "opsmessaging"
    ),
    Category.DIAGNOSTICS: lambda: diagnostics.debug_trace(
        "compat", "check", {"ok": True}
    ),
    Category.LIFECYCLE: lambda: lifecycle.process_lifecycle(
        "1", "opsmessaging", "started"
    ),
    Category.LOGGING: lambda: logs.log_entry("info", "compat", "opsmessaging"),
}


def samples() -> dict[Category, Callable[[], Payload]]:
    """One payload builder per category, in the categories' order."""
    return dict(SAMPLES)


def sample(category: Category) -> Payload:
    """Build the sample payload of ``category``."""
    return SAMPLES[category]()
