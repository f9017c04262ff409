"""The compatibility report: proof, on this node and with its settings, that messaging works.

``validate_messaging_compatibility()`` builds, validates, signs, encrypts and sends sample
messages of every category (nothing is stored or broadcast) and reads the newest stored
signatures; ``compatibility_status()`` adds the app's system checks. Both serve the API's
``compatibility/`` endpoint and the ``opsmessaging_check`` command.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection, Mapping
from datetime import UTC
from typing import Any

from django.core.cache import cache
from django.core.checks import ERROR, CheckMessage
from django.core.checks.registry import registry

from opsmessaging import builders, codec, fanout, integrity, relay, schema
from opsmessaging.catalogue.base import registry as payload_types
from opsmessaging.catalogue.base import to_json_value
from opsmessaging.catalogue.samples import samples
from opsmessaging.categories import Category
from opsmessaging.conf import conf
from opsmessaging.envelope import Envelope
from opsmessaging.helpers import cluster_context
from opsmessaging.models import Message
from opsmessaging.nodenames import get_node, is_node_name
from opsmessaging.timestamps import current_timestamp, format_timestamp


def _section(
    tag: str, check: Callable[[], dict[str, Any]]
) -> dict[str, Any] | dict[str, str]:
    try:
        return check()
    except Exception as exc:  # a report must report, not raise
        return {"error": f"{tag}: {type(exc).__name__}: {exc}"}


def _operational_helpers() -> dict[str, Any]:
    return {
        "node_helper": is_node_name(get_node()),
        "timestamp_helper": current_timestamp(),
        "cluster_context": cluster_context(),
    }


def _gater_integration() -> dict[str, Any]:
    tests: dict[str, str] = {}
    for category, build in samples().items():
        try:
            envelope = builders.envelope_for(build())
            Envelope.from_wire(envelope.to_wire())  # the wire form round-trips
            tests[f"{category.value}_messages"] = "ok"
        except Exception as exc:  # reported per category
            tests[f"{category.value}_messages"] = f"error: {type(exc).__name__}: {exc}"
    types = payload_types()
    return {
        "gater_available": len(types) == 36
        and {t.category for t in types.values()} == set(Category),
        "payload_types": len(types),
        "tests": tests,
    }


def _node_consistency() -> dict[str, Any]:
    node = "compat_test_node"
    lifecycle_envelope = builders.system_lifecycle(
        "started", "opsmessaging", "0.0.1", node=node
    )
    health_envelope = builders.health_update("test_component", "healthy", {}, node=node)
    every_category = all(
        all(
            is_node_name(getattr(builders.envelope_for(build()), f))
            for f in ("node", "source_node", "originating_node")
        )
        for build in samples().values()
    )
    return {
        "system_has_node": lifecycle_envelope.node == node
        and lifecycle_envelope.payload["node"] == node,
        "health_has_node": health_envelope.node == node
        and health_envelope.payload["node"] == node,
        "all_categories_have_node_fields": every_category,
    }


def _timestamp_precision() -> dict[str, Any]:
    first = current_timestamp()
    time.sleep(0.002)
    second = current_timestamp()
    wire = format_timestamp(first)
    return {
        "datetime_format": first,
        "has_precision": second > first,
        "millisecond_truncated": first.microsecond % 1000 == 0
        and second.microsecond % 1000 == 0,
        "utc": first.tzinfo is UTC
        and first.utcoffset() is not None
        and not first.utcoffset(),
        "wire_format": wire,
        "wire_format_valid": len(wire) == 24 and wire.endswith("Z") and wire[19] == ".",
    }


def _signing() -> dict[str, Any]:
    return {**integrity.check_roundtrip(), "stored": Message.objects.verify_latest()}


def _delivery() -> dict[str, Any]:
    return {
        **fanout.check_round_trip(),
        **fanout.delivery_stats(),
        "relay": relay.status(),
    }


def validate_messaging_compatibility() -> dict[str, dict[str, Any]]:
    """Check, for real, that helpers, catalogue, node fields, timestamps and delivery work.

    Returns the seed's four sections plus ``delivery`` (a round trip through the channel
    layer and this process's delivery counters), ``signing`` (sign, verify, catch a
    change, and check the newest stored messages) and ``encryption`` (a round trip with
    the configured keys); a section that fails holds ``{"error": reason}``. Nothing is
    stored or broadcast.
    """
    return {
        "operational_helpers": _section(
            "operational_helpers_failure", _operational_helpers
        ),
        "gater_integration": _section("gater_integration_failure", _gater_integration),
        "node_consistency": _section("node_consistency_failure", _node_consistency),
        "timestamp_precision": _section(
            "timestamp_precision_failure", _timestamp_precision
        ),
        "delivery": _section("delivery_failure", _delivery),
        "signing": _section("signing_failure", _signing),
        "encryption": _section("encryption_failure", codec.check_roundtrip),
        "schemas": _section("schemas_failure", schema.check_schemas),
    }


def is_compatible(report: Mapping[str, Mapping[str, Any]]) -> bool:
    """Tell whether a compatibility report says everything works."""
    try:
        helpers_ok = report["operational_helpers"]["node_helper"] is True
        gater = report["gater_integration"]
        gater_ok = gater["gater_available"] is True and all(
            v == "ok" for v in gater["tests"].values()
        )
        nodes_ok = all(v is True for v in report["node_consistency"].values())
        precision = report["timestamp_precision"]
        time_ok = all(
            precision[k] is True
            for k in (
                "has_precision",
                "millisecond_truncated",
                "utc",
                "wire_format_valid",
            )
        )
        delivery = report["delivery"]
        delivery_ok = not delivery["configured"] or delivery["round_trip"] == "ok"
        signing = report["signing"]
        # Stored messages whose signatures fail (another node's newer key, tampering)
        # are reported, in ``stored``, but do not make this node incompatible: what it
        # depends on is signing and verifying now.
        signing_ok = (
            signing["sign_and_verify"] == "secured"
            and signing["tampering_detected"] is True
        )
        encryption_ok = report["encryption"]["roundtrip"] == "ok"
        schemas_ok = all(v == "ok" for v in report["schemas"]["samples"].values())
    except (KeyError, TypeError):
        return False
    return all(
        (
            helpers_ok,
            gater_ok,
            nodes_ok,
            time_ok,
            delivery_ok,
            signing_ok,
            encryption_ok,
            schemas_ok,
        )
    )


_LEVELS = {10: "debug", 20: "info", 30: "warning", 40: "error", 50: "critical"}


def app_check_messages() -> list[CheckMessage]:
    """Run the system checks that opsmessaging registers (not the whole project's)."""
    messages: list[CheckMessage] = []
    for check in registry.get_checks(include_deployment_checks=False):
        if check.__module__.partition(".")[0] == "opsmessaging":
            messages.extend(check(app_configs=None, databases=None))
    return messages


def describe_check(message: CheckMessage) -> dict[str, Any]:
    """Return one check message as JSON data."""
    return {
        "id": message.id,
        "level": _LEVELS.get(message.level, str(message.level)),
        "message": message.msg,
        "hint": message.hint,
    }


def compatibility_status() -> dict[str, Any]:
    """Return ``compatible``, the compatibility ``report`` and the app's ``checks``.

    ``compatible`` is true when the report says all is well and no check is an error.
    """
    report = validate_messaging_compatibility()
    checks = app_check_messages()
    compatible = is_compatible(report) and not any(
        message.level >= ERROR for message in checks
    )
    return {
        "compatible": compatible,
        "report": to_json_value(report, "report"),
        "checks": [describe_check(message) for message in checks],
    }


def status_for_categories(
    status: Mapping[str, Any], categories: Collection[Category]
) -> dict[str, Any]:
    """Return ``status`` as a reader of only ``categories`` may see it: the stored
    signatures are checked among those categories alone, so a message of another category
    is neither named nor counted. ``compatible`` stays the node's."""
    report = dict(status["report"])
    signing = report.get("signing")
    if isinstance(signing, Mapping) and "stored" in signing:
        stored = Message.objects.verify_latest(categories=[c.value for c in categories])
        report["signing"] = {**signing, "stored": to_json_value(stored, "stored")}
    return {**status, "report": report}


def cached_compatibility_status() -> dict[str, Any]:
    """Return ``compatibility_status()`` as computed on this node at most
    ``COMPATIBILITY_CACHE_TTL`` ms ago: the report costs tens of milliseconds, and its
    endpoint answers anyone. Kept in Django's default cache under this node's name, so a
    shared cache never hands one node's report to another."""
    ttl = conf.COMPATIBILITY_CACHE_TTL
    if not ttl:
        return compatibility_status()
    key = f"opsmessaging:compatibility:{get_node()}"
    status: dict[str, Any] | None = cache.get(key)
    if status is None:
        status = compatibility_status()
        cache.set(key, status, ttl / 1000)
    return status
