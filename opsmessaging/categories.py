"""The nine operational categories, their topics and their channel-layer group names.

This is the only module where categories, default topics and group names are spelled.
"""

from __future__ import annotations

import functools
import hashlib
import re

from django.db import models

from opsmessaging.exceptions import InvalidMessage, UnknownCategory


class Category(models.TextChoices):
    """An operational category (the original's ``:ex_esdb_<name>`` PubSub instances)."""

    SYSTEM = "system", "System lifecycle"
    HEALTH = "health", "Health monitoring"
    METRICS = "metrics", "Performance metrics"
    SECURITY = "security", "Security events"
    AUDIT = "audit", "Audit trail"
    ALERTS = "alerts", "Critical alerts"
    DIAGNOSTICS = "diagnostics", "Diagnostic information"
    LIFECYCLE = "lifecycle", "Process lifecycle"
    LOGGING = "logging", "Log aggregation"


#: Categories of the original that are deliberately not operational, with the reason.
EXCLUDED_CATEGORIES = {
    "events": (
        "application domain events are out of scope for opsmessaging: it carries "
        "operational messages only; publish domain events through your event store"
    ),
}

# Default topics of the original's broadcast functions (reference section 1.3).
LIFECYCLE_TOPIC = "lifecycle"
CONFIG_TOPIC = "config"
COMPONENT_HEALTH_TOPIC = "component_health"
PROCESS_LIFECYCLE_TOPIC = "process_lifecycle"
DIAGNOSTICS_TOPIC = "diagnostics"
# Default topics of the payload types no original function publishes (the gater docs'
# "common topics"), used when a payload is broadcast generically without ``topic=``.
FEATURES_TOPIC = "features"
NODE_HEALTH_TOPIC = "node_health"
HEALTH_CHECKS_TOPIC = "health_checks"
PERFORMANCE_TOPIC = "performance"
THROUGHPUT_TOPIC = "throughput"
LATENCY_TOPIC = "latency"
RESOURCE_USAGE_TOPIC = "resource_usage"
METRIC_ALERTS_TOPIC = "metric_alerts"
NOTIFICATIONS_TOPIC = "notifications"
ESCALATIONS_TOPIC = "escalations"
ACKNOWLEDGEMENTS_TOPIC = "acknowledgements"
DATA_CHANGES_TOPIC = "data_changes"
ADMIN_ACTIONS_TOPIC = "admin_actions"
ACCESS_LOGS_TOPIC = "access_logs"
COMPLIANCE_TOPIC = "compliance"
PERFORMANCE_ANALYSIS_TOPIC = "performance_analysis"
SYSTEM_STATE_TOPIC = "system_state"
ERROR_ANALYSIS_TOPIC = "error_analysis"
NODE_LIFECYCLE_TOPIC = "node_lifecycle"
SUPERVISION_TOPIC = "supervision"
CLUSTER_MEMBERSHIP_TOPIC = "cluster_membership"
APPLICATION_LOGS_TOPIC = "application_logs"
LOG_SUMMARIES_TOPIC = "log_summaries"
LOG_FILTERS_TOPIC = "log_filters"
LOG_ROTATION_TOPIC = "log_rotation"
AUTH_EVENTS_TOPIC = "auth_events"
ACCESS_VIOLATIONS_TOPIC = "access_violations"
SECURITY_ALERTS_TOPIC = "security_alerts"
SESSION_EVENTS_TOPIC = "session_events"

#: Sub-topics of ``"<store_id>:<sub>"`` and ``"cluster:<sub>"`` (gater ``Topics``).
STORE_SUB_TOPICS = (
    "health",
    "lifecycle",
    "streams",
    "replicas",
    "events",
    "alerts",
    "performance",
    "subscriptions",
)
CLUSTER_SUB_TOPICS = (
    "health",
    "topology",
    "leader",
    "discovery",
    "alerts",
    "performance",
)

TOPIC_MAX_LENGTH = 200
#: A legal topic (also published in the API's description).
TOPIC_PATTERN = r"^[A-Za-z0-9_][A-Za-z0-9_.:@/\-]*$"
_TOPIC_RE = re.compile(TOPIC_PATTERN)
_STORE_ID_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.\-]*$")
STORE_ID_MAX_LENGTH = 100

GROUP_PREFIX = "opsmessaging"
GROUP_NAME_MAX_LENGTH = 99
_GROUP_SAFE = frozenset(
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789.-"
)


#: The category names, for a membership test that does not rebuild ``Category.values``.
_CATEGORY_VALUES = frozenset(Category.values)


def parse_category(value: object, field: str = "category") -> Category:
    """Return the operational ``Category`` named by ``value`` or raise ``UnknownCategory``."""
    if isinstance(value, Category):
        return value
    if not isinstance(value, str):
        raise UnknownCategory(
            f"must be a category name, got {type(value).__name__}", field
        )
    if value in _CATEGORY_VALUES:
        return Category(value)
    if value in EXCLUDED_CATEGORIES:
        raise UnknownCategory(
            f"'{value}' is refused: {EXCLUDED_CATEGORIES[value]}", field
        )
    raise UnknownCategory(
        f"'{value}' is not an operational category (custom application topics are out of "
        f"scope); choose one of: {', '.join(Category.values)}",
        field,
    )


def valid_store_id(store_id: object) -> bool:
    """Tell whether ``store_id`` can name a store (non-empty identifier, no colon)."""
    return (
        isinstance(store_id, str)
        and 0 < len(store_id) <= STORE_ID_MAX_LENGTH
        and _STORE_ID_RE.match(store_id) is not None
    )


def validate_store_id(store_id: object, field: str = "store_id") -> str:
    """Return ``store_id`` if valid, else raise ``InvalidMessage`` naming ``field``."""
    if not valid_store_id(store_id):
        raise InvalidMessage(
            f"invalid store id {store_id!r}: must be a non-empty identifier of letters, "
            f"digits, '_', '.' or '-' (at most {STORE_ID_MAX_LENGTH} characters)",
            field,
        )
    assert isinstance(store_id, str)
    return store_id


def validate_topic(topic: object, field: str = "topic") -> str:
    """Return ``topic`` if it is a legal topic, else raise ``InvalidMessage``."""
    if not isinstance(topic, str) or not topic:
        raise InvalidMessage("must be a non-empty string", field)
    if len(topic) > TOPIC_MAX_LENGTH:
        raise InvalidMessage(f"longer than {TOPIC_MAX_LENGTH} characters", field)
    if _TOPIC_RE.match(topic) is None:
        raise InvalidMessage(
            f"invalid topic {topic!r}: use letters, digits and '_', '.', ':', '@', '/', '-'",
            field,
        )
    return topic


def store_topic(store_id: str, sub: str) -> str:
    """Return the ``"<store_id>:<sub>"`` topic of a store."""
    return f"{validate_store_id(store_id)}:{sub}"


def store_health_topic(store_id: str) -> str:
    """Return the health topic of a store, e.g. ``"main_store:health"``."""
    return store_topic(store_id, "health")


def cluster_topic(sub: str) -> str:
    """Return the ``"cluster:<sub>"`` topic."""
    return f"cluster:{sub}"


CLUSTER_HEALTH_TOPIC = cluster_topic("health")


def all_store_topics(store_id: str) -> list[str]:
    """Return every standard topic of a store."""
    return [store_topic(store_id, sub) for sub in STORE_SUB_TOPICS]


def all_cluster_topics() -> list[str]:
    """Return every standard cluster topic."""
    return [cluster_topic(sub) for sub in CLUSTER_SUB_TOPICS]


def valid_topic(topic: object) -> bool:
    """Tell whether ``topic`` splits on its first ':' into two non-empty parts (gater rule)."""
    if not isinstance(topic, str):
        return False
    scope, sep, sub = topic.partition(":")
    return bool(scope and sep and sub)


def parse_topic(topic: str) -> tuple[str, str | None, str]:
    """Split a scoped topic into ``("cluster", None, sub)`` or ``("store", store_id, sub)``."""
    if not valid_topic(topic):
        raise InvalidMessage(f"{topic!r} is not a '<scope>:<sub>' topic", "topic")
    scope, _, sub = topic.partition(":")
    if scope == "cluster":
        return ("cluster", None, sub)
    return ("store", scope, sub)


def _escape_group_part(text: str) -> str:
    # Injective: '_' is doubled and every other unsafe character becomes _xx (hex of UTF-8).
    out = []
    for char in text:
        if char in _GROUP_SAFE:
            out.append(char)
        elif char == "_":
            out.append("__")
        else:
            out.append("".join(f"_{byte:02x}" for byte in char.encode()))
    return "".join(out)


def group_name(category: Category | str, topic: str | None = None) -> str:
    """Return the Channels group of a category, or of a category and topic.

    Group names only use ``[A-Za-z0-9-_.]`` and stay under 100 characters; a long topic is
    replaced by a digest of it, so distinct topics never share a group.
    """
    if isinstance(category, str) and (topic is None or isinstance(topic, str)):
        return _group_name(category, topic)  # hashable: computed once per name
    return _group_name.__wrapped__(category, topic)  # refused with InvalidMessage


@functools.lru_cache(maxsize=4096)
def _group_name(category: Category | str, topic: str | None) -> str:
    cat = parse_category(category)
    base = f"{GROUP_PREFIX}.{cat.value}"
    if topic is None:
        return base
    name = f"{base}.t.{_escape_group_part(validate_topic(topic))}"
    if len(name) > GROUP_NAME_MAX_LENGTH:
        digest = hashlib.sha256(topic.encode()).hexdigest()[:32]
        name = f"{base}.h.{digest}"
    return name
