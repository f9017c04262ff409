from __future__ import annotations

import json
import re
import time
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from typing import Any

import pytest
from django.contrib.auth.models import Permission, User
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from opsmessaging import admin as opsadmin
from opsmessaging import alerting, pubsub
from opsmessaging.admin import CappedCountPaginator, MessageAdmin
from opsmessaging.catalogue import all_types, logs
from opsmessaging.categories import Category
from opsmessaging.exceptions import ImmutableMessage
from opsmessaging.models import Message, Node
from tests.cluster import declare_failed
from tests.tampering import set_stored_version

MESSAGES = "/admin/opsmessaging/message/"
NODES = "/admin/opsmessaging/node/"
CAPPED_COUNT = re.compile(
    r"^SELECT COUNT\(\*\) FROM \(SELECT .+ LIMIT (\d+)\) subquery$", re.DOTALL
)


class _ResultRows(HTMLParser):
    """Collect the cells of the changelist table, one dict per row keyed by field name."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[dict[str, str]] = []
        self._in_table = False
        self._in_body = False
        self._field: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if tag == "table" and attributes.get("id") == "result_list":
            self._in_table = True
        elif self._in_table and tag == "tbody":
            self._in_body = True
        elif self._in_body and tag == "tr":
            self.rows.append({})
        elif self._in_body and tag in ("td", "th"):
            classes = (attributes.get("class") or "").split()
            fields = [
                c.removeprefix("field-") for c in classes if c.startswith("field-")
            ]
            self._field = fields[0] if fields else None
            if self._field is not None:
                self.rows[-1][self._field] = ""

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th"):
            self._field = None
        elif tag == "tbody":
            self._in_body = False
        elif tag == "table":
            self._in_table = False

    def handle_data(self, data: str) -> None:
        if self._field is not None:
            self.rows[-1][self._field] += data


def _rows(response: Any) -> list[dict[str, str]]:
    parser = _ResultRows()
    parser.feed(response.content.decode())
    return parser.rows


def _listed(client: Client, query: str = "") -> list[int]:
    response = client.get(f"{MESSAGES}?{query}")
    assert response.status_code == 200
    return [message.pk for message in response.context["cl"].result_list]


def _filter_spec(response: Any, filter_class: type) -> Any:
    specs = [s for s in response.context["cl"].filter_specs if type(s) is filter_class]
    return specs[0] if specs else None


@pytest.fixture(autouse=True)
def _no_login_capture(settings: Any) -> None:
    """These tests count the messages they broadcast: keep admin_client's login out."""
    settings.OPSMESSAGING = {**settings.OPSMESSAGING, "CAPTURE_AUTH": False}


def _count_queries(captured: CaptureQueriesContext) -> list[str]:
    return [q["sql"] for q in captured.captured_queries if "COUNT(" in q["sql"].upper()]


@pytest.fixture
def messages(db: None) -> dict[str, Message]:
    """Six messages over three categories and three nodes, oldest first."""
    results = {
        "health_web1": pubsub.broadcast_health_update(
            "store_worker", "healthy", {"store_id": "main_store"}, node="web1@a"
        ),
        "store_web2": pubsub.broadcast_store_health(
            "main_store", "store_worker", "degraded", node="web2@b"
        ),
        "alert_web2": pubsub.broadcast_alert(
            "node_failure",
            "critical",
            "Node down",
            {"affected_node": "node1"},
            node="web2@b",
        ),
        "warning_web1": pubsub.broadcast_log_entry(
            "warning", "disk almost full", "app.disk", node="web1@a"
        ),
        "info_web3": pubsub.broadcast_log_entry(
            "info", "started", "app", node="web3@c"
        ),
        "error_web3": pubsub.broadcast_log_entry(
            "error", "disk full", "app.disk", node="web3@c"
        ),
    }
    stored = {}
    for name, result in results.items():
        assert result.status == "ok", result.error
        assert result.message is not None
        stored[name] = result.message
    return stored


def _staff_client(*codenames: str, name: str = "staff") -> Client:
    user = User.objects.create_user(name, is_staff=True)
    user.user_permissions.set(
        Permission.objects.filter(
            content_type__app_label="opsmessaging", codename__in=codenames
        )
    )
    client = Client()
    client.force_login(user)
    return client


def _ids(messages: dict[str, Message], *names: str) -> list[int]:
    return [messages[name].pk for name in names]


# --- the changelist ------------------------------------------------------------------


@pytest.mark.django_db
def test_changelist_lists_messages_newest_first(
    admin_client: Client, messages: dict[str, Message]
) -> None:
    assert _listed(admin_client) == _ids(
        messages,
        "error_web3",
        "info_web3",
        "warning_web1",
        "alert_web2",
        "store_web2",
        "health_web1",
    )


@pytest.mark.django_db
def test_changelist_shows_category_topic_type_node_severity_and_millisecond_time(
    admin_client: Client,
) -> None:
    pubsub.broadcast_health_update(
        "store_worker",
        "healthy",
        {"store_id": "main_store"},
        node="web1@a",
        timestamp=datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=UTC),
    )
    pubsub.broadcast_alert(
        "node_failure",
        "critical",
        "Node down",
        {"affected_node": "node1"},
        node="web2@b",
        timestamp=datetime(2026, 1, 2, 3, 4, 6, 7000, tzinfo=UTC),
    )

    response = admin_client.get(MESSAGES)

    assert _rows(response) == [
        {
            "integrity_flag": "✓",
            "sequence": "1",
            "time": "2026-01-02T03:04:06.007Z",
            "category": "Critical alerts",
            "topic": "node_failure",
            "payload_type": "SystemAlert",
            "node": "web2@b",
            "severity_label": "critical",
        },
        {
            "integrity_flag": "✓",
            "sequence": "1",
            "time": "2026-01-02T03:04:05.678Z",
            "category": "Health monitoring",
            "topic": "component_health",
            "payload_type": "ComponentHealth",
            "node": "web1@a",
            "severity_label": "-",
        },
    ]


@pytest.mark.django_db
def test_changelist_ignores_an_order_by_a_column_that_is_not_sortable(
    admin_client: Client,
) -> None:
    stored = []
    for n in range(3):
        stored.append(pubsub.broadcast_log_entry("info", f"line {n}").message.pk)
        time.sleep(0.002)  # distinct millisecond timestamps

    by_sequence = admin_client.get(f"{MESSAGES}?o=1")  # 0 is the action checkbox
    by_time = admin_client.get(f"{MESSAGES}?o=2")

    assert [m.pk for m in by_sequence.context["cl"].result_list] == stored[::-1]
    assert [m.pk for m in by_time.context["cl"].result_list] == stored


@pytest.mark.django_db
def test_changelist_sorts_only_by_time(
    admin_client: Client, messages: dict[str, Message]
) -> None:
    response = admin_client.get(MESSAGES)

    sortable = re.findall(r'class="sortable column-(\w+)', response.content.decode())
    assert sortable == ["time"]


# --- filters and search ----------------------------------------------------------------


@pytest.mark.django_db
def test_category_filter_lists_only_that_category(
    admin_client: Client, messages: dict[str, Message]
) -> None:
    assert _listed(admin_client, "category=health") == _ids(
        messages, "store_web2", "health_web1"
    )


@pytest.mark.django_db
def test_topic_filter_narrows_a_category_to_one_topic(
    admin_client: Client, messages: dict[str, Message]
) -> None:
    assert _listed(admin_client, "category=health&topic=main_store:health") == _ids(
        messages, "store_web2"
    )


@pytest.mark.django_db
def test_node_filter_lists_only_that_node(
    admin_client: Client, messages: dict[str, Message]
) -> None:
    assert _listed(admin_client, "node=web2@b") == _ids(
        messages, "alert_web2", "store_web2"
    )


@pytest.mark.django_db
def test_severity_filter_lists_warning_and_above(
    admin_client: Client, messages: dict[str, Message]
) -> None:
    assert _listed(admin_client, "severity=30") == _ids(
        messages, "error_web3", "warning_web1", "alert_web2"
    )


@pytest.mark.django_db
def test_payload_type_filter_lists_only_that_type(
    admin_client: Client, messages: dict[str, Message]
) -> None:
    assert _listed(admin_client, "payload_type=LogEntry") == _ids(
        messages, "error_web3", "info_web3", "warning_web1"
    )


@pytest.mark.django_db
def test_time_filter_excludes_messages_older_than_the_window(
    admin_client: Client, messages: dict[str, Message]
) -> None:
    two_hours_ago = timezone.now() - timedelta(hours=2)
    old = pubsub.broadcast(
        logs.log_entry(
            "info", "old news", "app", node="web1@a", timestamp=two_hours_ago
        )
    ).message
    assert old is not None

    everything = _listed(admin_client)
    last_hour = _listed(admin_client, "within=1h")

    assert everything[0] == old.pk
    assert last_hour == _ids(
        messages,
        "error_web3",
        "info_web3",
        "warning_web1",
        "alert_web2",
        "store_web2",
        "health_web1",
    )


@pytest.mark.django_db
def test_search_matches_message_id_exactly(
    admin_client: Client, messages: dict[str, Message]
) -> None:
    message_id = messages["alert_web2"].message_id

    assert _listed(admin_client, f"q={message_id}") == _ids(messages, "alert_web2")


@pytest.mark.django_db
def test_search_matches_topic_exactly(
    admin_client: Client, messages: dict[str, Message]
) -> None:
    assert _listed(admin_client, "q=main_store:health") == _ids(messages, "store_web2")


@pytest.mark.django_db
def test_search_matches_node_exactly(
    admin_client: Client, messages: dict[str, Message]
) -> None:
    assert _listed(admin_client, "q=web3@c") == _ids(
        messages, "error_web3", "info_web3"
    )


@pytest.mark.django_db
def test_search_does_not_match_part_of_a_value(
    admin_client: Client, messages: dict[str, Message]
) -> None:
    assert _listed(admin_client, "q=web3") == []


@pytest.mark.django_db
def test_topic_filter_offers_no_topics_until_a_category_is_chosen(
    admin_client: Client, messages: dict[str, Message]
) -> None:
    response = admin_client.get(MESSAGES)

    assert _filter_spec(response, opsadmin.TopicFilter) is None


@pytest.mark.django_db
def test_topic_filter_offers_the_topics_of_the_chosen_category(
    admin_client: Client, messages: dict[str, Message]
) -> None:
    response = admin_client.get(f"{MESSAGES}?category=health")

    spec = _filter_spec(response, opsadmin.TopicFilter)
    assert spec.lookup_choices == [
        ("component_health", "component_health"),
        ("main_store:health", "main_store:health"),
    ]


@pytest.mark.django_db
def test_node_filter_offers_the_distinct_nodes(
    admin_client: Client, messages: dict[str, Message]
) -> None:
    response = admin_client.get(MESSAGES)

    spec = _filter_spec(response, opsadmin.NodeFilter)
    assert Message.objects.distinct_values("node") == ["web1@a", "web2@b", "web3@c"]
    assert spec.lookup_choices == [
        ("web1@a", "web1@a"),
        ("web2@b", "web2@b"),
        ("web3@c", "web3@c"),
    ]


@pytest.mark.django_db
def test_payload_type_filter_offers_every_catalogue_type(admin_client: Client) -> None:
    response = admin_client.get(MESSAGES)

    spec = _filter_spec(response, opsadmin.PayloadTypeFilter)
    assert len(spec.lookup_choices) == 36
    assert spec.lookup_choices[0] == ("SystemConfig", "SystemConfig (system)")
    assert [name for name, _ in spec.lookup_choices] == [t.name for t in all_types()]


# --- the detail page and read-only ------------------------------------------------------


@pytest.mark.django_db
def test_change_page_shows_the_payload_pretty_printed(admin_client: Client) -> None:
    result = pubsub.broadcast_health_update(
        "store_worker",
        "healthy",
        {"store_id": "main_store"},
        node="web1@a",
        timestamp=datetime(2026, 1, 2, 3, 4, 5, 678000, tzinfo=UTC),
    )
    assert result.message is not None

    response = admin_client.get(f"{MESSAGES}{result.message.pk}/change/")

    assert response.status_code == 200
    assert (
        '<pre style="white-space: pre-wrap">{\n'
        "  &quot;component&quot;: &quot;store_worker&quot;,\n"
        "  &quot;details&quot;: {\n"
        "    &quot;store_id&quot;: &quot;main_store&quot;\n"
        "  },\n"
        "  &quot;last_check&quot;: null,\n"
        "  &quot;node&quot;: &quot;web1@a&quot;,\n"
        "  &quot;status&quot;: &quot;healthy&quot;,\n"
        "  &quot;store_id&quot;: &quot;main_store&quot;,\n"
        "  &quot;timestamp&quot;: &quot;2026-01-02T03:04:05.678Z&quot;\n"
        "}</pre>"
    ) in response.content.decode()


@pytest.mark.django_db
def test_message_add_page_is_forbidden(admin_client: Client) -> None:
    assert admin_client.get(f"{MESSAGES}add/").status_code == 403


@pytest.mark.django_db
def test_message_change_page_has_no_save_or_delete_buttons(
    admin_client: Client, messages: dict[str, Message]
) -> None:
    message = messages["alert_web2"]

    response = admin_client.get(f"{MESSAGES}{message.pk}/change/")

    content = response.content.decode()
    assert response.status_code == 200
    assert 'name="_save"' not in content
    assert 'name="_continue"' not in content
    assert f"{MESSAGES}{message.pk}/delete/" not in content


@pytest.mark.django_db
def test_message_change_post_is_forbidden_and_changes_nothing(
    admin_client: Client, messages: dict[str, Message]
) -> None:
    message = messages["alert_web2"]

    response = admin_client.post(
        f"{MESSAGES}{message.pk}/change/", {"topic": "changed", "node": "evil@x"}
    )

    assert response.status_code == 403
    stored = Message.objects.get(pk=message.pk)
    assert (stored.topic, stored.node, stored.payload) == (
        "node_failure",
        "web2@b",
        message.payload,
    )


@pytest.mark.django_db
def test_message_delete_is_forbidden(
    admin_client: Client, messages: dict[str, Message]
) -> None:
    message = messages["alert_web2"]

    get = admin_client.get(f"{MESSAGES}{message.pk}/delete/")
    post = admin_client.post(f"{MESSAGES}{message.pk}/delete/", {"post": "yes"})

    assert (get.status_code, post.status_code) == (403, 403)
    assert Message.objects.filter(pk=message.pk).exists()


@pytest.mark.django_db
def test_message_changelist_offers_no_actions_to_readers(
    messages: dict[str, Message],
) -> None:
    response = _staff_client("view_message").get(MESSAGES)

    assert response.context["action_form"] is None
    assert 'name="_selected_action"' not in response.content.decode()


@pytest.mark.django_db
def test_saving_a_stored_message_raises_immutable_message(
    messages: dict[str, Message],
) -> None:
    message = Message.objects.get(pk=messages["alert_web2"].pk)
    message.topic = "changed"

    with pytest.raises(ImmutableMessage):
        message.save()

    assert Message.objects.get(pk=message.pk).topic == "node_failure"


@pytest.mark.django_db
def test_queryset_update_raises_immutable_message(messages: dict[str, Message]) -> None:
    with pytest.raises(ImmutableMessage):
        Message.objects.filter(pk=messages["alert_web2"].pk).update(topic="changed")

    assert Message.objects.get(pk=messages["alert_web2"].pk).topic == "node_failure"


# --- no full count ---------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    "query",
    [
        "",
        "category=health",
        "category=health&topic=component_health",
        "node=web1@a",
        "severity=30",
        "payload_type=LogEntry",
        "within=1h",
        "q=web1@a",
        "o=-1",
    ],
)
def test_changelist_counts_only_over_a_limited_subquery(
    admin_client: Client, messages: dict[str, Message], query: str
) -> None:
    with CaptureQueriesContext(connection) as captured:
        response = admin_client.get(f"{MESSAGES}?{query}")

    assert response.status_code == 200
    counts = _count_queries(captured)
    assert len(counts) == 1
    match = CAPPED_COUNT.match(counts[0])
    assert match is not None, counts[0]
    assert int(match.group(1)) == opsadmin.COUNT_CAP + 1


@pytest.mark.django_db
def test_changelist_ignores_the_facet_counts_switch(
    admin_client: Client, messages: dict[str, Message]
) -> None:
    with CaptureQueriesContext(connection) as captured:
        response = admin_client.get(f"{MESSAGES}?severity=30&_facets=1")

    counts = _count_queries(captured)
    assert response.status_code == 200
    assert len(counts) == 1
    assert CAPPED_COUNT.match(counts[0]) is not None, counts[0]
    content = response.content.decode()
    assert "Show counts" not in content
    assert "Hide counts" not in content


@pytest.mark.django_db
def test_changelist_count_is_capped_above_count_cap(
    admin_client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(opsadmin, "COUNT_CAP", 5)
    monkeypatch.setattr(MessageAdmin, "list_per_page", 2)
    for n in range(7):
        pubsub.broadcast_log_entry("info", f"line {n}", "app", node="web1@a")
    newest = list(Message.objects.order_by("-id").values_list("pk", flat=True)[:2])

    with CaptureQueriesContext(connection) as captured:
        response = admin_client.get(MESSAGES)

    cl = response.context["cl"]
    counts = _count_queries(captured)
    assert (cl.result_count, cl.paginator.count, cl.paginator.num_pages) == (6, 6, 3)
    assert [m.pk for m in cl.result_list] == newest
    assert len(counts) == 1
    assert "LIMIT 6) subquery" in counts[0]


@pytest.mark.django_db
@pytest.mark.parametrize(("rows", "counted"), [(0, 0), (4, 4), (5, 5), (6, 6), (9, 6)])
def test_capped_count_paginator_counts_at_most_count_cap_plus_one(
    monkeypatch: pytest.MonkeyPatch, rows: int, counted: int
) -> None:
    monkeypatch.setattr(opsadmin, "COUNT_CAP", 5)
    for n in range(rows):
        pubsub.broadcast_log_entry("info", f"line {n}", "app", node="web1@a")

    assert CappedCountPaginator(Message.objects.all(), 2).count == counted


# --- indexes at scale (PostgreSQL) --------------------------------------------------------

SCALE_ROWS = 300_000
# Skewed like a real store: logging, metrics and health dominate, security is 0.1 %, and
# critical messages are 1 %; so rare values need their index and common ones may not.
BULK_INSERT = """
INSERT INTO opsmessaging_message (
    message_id, category, topic, tag, payload_type, version,
    node, source_node, originating_node, timestamp, severity, sequence, payload
)
SELECT
    'bulk-' || g,
    (%(categories)s::text[])[c + 1],
    'topic_' || ((g / 1000) %% 20),
    'bulk',
    (%(types)s::text[])[c * 4 + (g / 1000) %% 4 + 1],
    1,
    'node' || (g %% 50) || '@host',
    'node' || (g %% 50) || '@host',
    'node' || (g %% 50) || '@host',
    now() - (%(rows)s - g) * interval '1 second',
    CASE WHEN s < 30 THEN NULL WHEN s < 50 THEN 10 WHEN s < 85 THEN 20
         WHEN s < 95 THEN 30 WHEN s < 99 THEN 40 ELSE 50 END,
    g,
    jsonb_build_object('n', g)
FROM (
    SELECT
        g,
        (g / 7) %% 100 AS s,
        CASE WHEN g %% 1000 < 400 THEN 8 WHEN g %% 1000 < 650 THEN 2
             WHEN g %% 1000 < 850 THEN 1 WHEN g %% 1000 < 930 THEN 0
             WHEN g %% 1000 < 970 THEN 7 WHEN g %% 1000 < 990 THEN 6
             WHEN g %% 1000 < 996 THEN 5 WHEN g %% 1000 < 999 THEN 4 ELSE 3 END AS c
    FROM generate_series(1, %(rows)s) AS g
) AS bulk
"""
SCALE_QUERIES = [
    "",
    "category=logging",
    "category=security",
    "node=node7@host",
    "severity=30",
    "severity=50",
    "payload_type=LogEntry",
    "payload_type=AuthEvent",
    "category=logging&topic=topic_3",
    "category=security&topic=topic_3",
    "within=1h",
    "q=bulk-77",
    "q=topic_3",
    "q=node7@host",
    "o=2",  # time (column 0 is the action checkbox)
    "o=-2",
    "o=1",  # sequence, not sortable: ignored
    "o=-4",  # topic, not sortable: ignored
    "p=200",
]


def _scans(plan: dict[str, Any]) -> list[tuple[str, str | None]]:
    """Return (node type, index name) of every scan of the message table in a plan."""
    found = []
    if plan.get("Relation Name") == "opsmessaging_message" or (
        plan["Node Type"] == "Bitmap Index Scan"
    ):
        found.append((plan["Node Type"], plan.get("Index Name")))
    for child in plan.get("Plans", []):
        found.extend(_scans(child))
    return found


@pytest.mark.postgres
@pytest.mark.django_db
def test_changelist_queries_use_indexes_at_scale(admin_client: Client) -> None:
    types = [t.name for t in all_types()]  # four per category, in category order
    assert len(types) == 4 * len(Category.values)
    with connection.cursor() as cursor:
        cursor.execute(
            BULK_INSERT,
            {"categories": Category.values, "types": types, "rows": SCALE_ROWS},
        )
        assert cursor.rowcount == SCALE_ROWS
        cursor.execute("ANALYZE opsmessaging_message")

    unindexed = {}
    explained = 0
    for query in SCALE_QUERIES:
        with CaptureQueriesContext(connection) as captured:
            response = admin_client.get(f"{MESSAGES}?{query}")
        assert response.status_code == 200, query
        assert response.context["cl"].result_list, query
        for sql in (q["sql"] for q in captured.captured_queries):
            if "opsmessaging_message" not in sql:
                continue
            with connection.cursor() as cursor:
                cursor.execute(f"EXPLAIN (FORMAT JSON) {sql}")
                (document,) = cursor.fetchone()
            plan = json.loads(document) if isinstance(document, str) else document
            scans = _scans(plan[0]["Plan"])
            explained += 1
            if not any(index for _, index in scans) or any(
                kind == "Seq Scan" for kind, _ in scans
            ):
                unindexed[f"{query or '(default)'}: {sql}"] = scans

    assert explained >= 3 * len(SCALE_QUERIES)
    assert unindexed == {}


# --- nodes -------------------------------------------------------------------------------


@pytest.fixture
def nodes(db: None) -> list[Node]:
    return [
        Node.heartbeat("worker1@b", role="worker"),
        Node.heartbeat("web1@a", role="web"),
    ]


@pytest.mark.django_db
def test_node_changelist_lists_nodes_by_name(
    admin_client: Client, nodes: list[Node]
) -> None:
    response = admin_client.get(NODES)

    rows = [{k: row[k] for k in ("name", "role", "status")} for row in _rows(response)]
    assert response.status_code == 200
    assert rows == [
        {"name": "web1@a", "role": "web", "status": "Healthy"},
        {"name": "worker1@b", "role": "worker", "status": "Healthy"},
    ]


@pytest.mark.django_db
def test_node_add_page_is_forbidden(admin_client: Client) -> None:
    assert admin_client.get(f"{NODES}add/").status_code == 403


@pytest.mark.django_db
def test_node_change_page_has_no_save_button(
    admin_client: Client, nodes: list[Node]
) -> None:
    response = admin_client.get(f"{NODES}{nodes[1].pk}/change/")

    assert response.status_code == 200
    assert 'name="_save"' not in response.content.decode()


@pytest.mark.django_db
def test_node_change_post_is_forbidden_and_changes_nothing(
    admin_client: Client, nodes: list[Node]
) -> None:
    node = nodes[1]

    response = admin_client.post(
        f"{NODES}{node.pk}/change/",
        {"name": "evil@x", "role": "beat", "status": "failed", "metadata": "{}"},
    )

    assert response.status_code == 403
    stored = Node.objects.get(pk=node.pk)
    assert (stored.name, stored.role, stored.status) == ("web1@a", "web", "healthy")


@pytest.mark.django_db
def test_node_delete_is_forbidden(admin_client: Client, nodes: list[Node]) -> None:
    node = nodes[1]

    get = admin_client.get(f"{NODES}{node.pk}/delete/")
    post = admin_client.post(f"{NODES}{node.pk}/delete/", {"post": "yes"})

    assert (get.status_code, post.status_code) == (403, 403)
    assert Node.objects.filter(pk=node.pk).exists()


@pytest.mark.django_db
def test_node_changelist_shows_alive_who_reported_a_failure_and_links(
    admin_client: Client, settings: Any
) -> None:
    failure, _ = declare_failed(settings)

    response = admin_client.get(NODES)

    rows = {row["name"]: row for row in _rows(response)}
    assert rows["worker1@b"]["status"] == "Failed"
    assert rows["worker1@b"]["failure_reported_by"] == (
        f"web1@a at {failure.to_wire()['timestamp']}"
    )
    assert rows["web1@a"]["failure_reported_by"] == "-"
    html = response.content.decode()
    assert '<img src="/static/admin/img/icon-yes.svg" alt="True">' in html
    assert '<img src="/static/admin/img/icon-no.svg" alt="False">' in html
    assert '<a href="/admin/opsmessaging/message/?node=worker1%40b">stored</a>' in html
    assert '<a href="/opsmessaging/?node=worker1%40b">live</a>' in html


# --- links to and from the live operations page ------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("changelist", [MESSAGES, NODES])
def test_changelists_link_the_live_operations_page(
    admin_client: Client, changelist: str
) -> None:
    html = admin_client.get(changelist).content.decode()

    assert '<li><a href="/opsmessaging/">Live operations page</a></li>' in html


@pytest.mark.django_db
def test_message_changelist_links_the_compatibility_status(
    admin_client: Client,
) -> None:
    html = admin_client.get(MESSAGES).content.decode()

    assert (
        '<li><a href="/admin/opsmessaging/message/compatibility/">Compatibility '
        "status</a></li>"
    ) in html


@pytest.mark.django_db
def test_app_index_links_the_live_page_and_the_compatibility_status(
    admin_client: Client,
) -> None:
    html = admin_client.get("/admin/opsmessaging/").content.decode()

    assert '<a href="/opsmessaging/">Live operations page</a>' in html
    assert (
        '<a href="/admin/opsmessaging/message/compatibility/">Compatibility status</a>'
    ) in html


# --- the compatibility status view --------------------------------------------------------

COMPATIBILITY = "/admin/opsmessaging/message/compatibility/"


@pytest.mark.django_db
def test_compatibility_view_shows_the_verdict_the_checks_and_each_report_section(
    admin_client: Client,
) -> None:
    response = admin_client.get(COMPATIBILITY)

    html = response.content.decode()
    assert response.status_code == 200
    assert response.context["status"]["compatible"] is True
    assert '<li class="success" id="compatibility-verdict">Compatible:' in html
    assert '<p id="compatibility-checks">No check reports anything.</p>' in html
    sections = [name for name, _ in response.context["sections"]]
    assert sections == [
        "operational_helpers",
        "gater_integration",
        "node_consistency",
        "timestamp_precision",
        "delivery",
        "signing",
        "encryption",
        "schemas",
    ]
    for name in sections:
        assert f'id="section-{name}"' in html


@pytest.mark.django_db
def test_compatibility_view_says_not_compatible_and_lists_the_failing_check(
    admin_client: Client, settings: Any
) -> None:
    settings.OPSMESSAGING = {**settings.OPSMESSAGING, "OPEN_ALERTS_SCAN": -1}

    html = admin_client.get(COMPATIBILITY).content.decode()

    assert '<li class="error" id="compatibility-verdict">Not compatible:' in html
    assert "<td>opsmessaging.E601</td><td>error</td>" in html


@pytest.mark.django_db
def test_compatibility_view_is_forbidden_to_staff_who_may_see_no_category() -> None:
    assert _staff_client().get(COMPATIBILITY).status_code == 403


@pytest.mark.django_db
def test_compatibility_view_sends_anonymous_users_to_the_login() -> None:
    response = Client().get(COMPATIBILITY)

    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")


# --- acknowledging alerts -------------------------------------------------------------------


def _alert(severity: str = "critical", title: str = "Disk full") -> Message:
    result = pubsub.broadcast_alert("disk_full", severity, title)
    assert result.message is not None
    return result.message


def _acks() -> list[tuple[str, str, str | None]]:
    return [
        (p["alert_id"], p["ack_by"], p["ack_note"])
        for p in (
            m.to_wire()["payload"]
            for m in Message.objects.filter(payload_type="AlertAck").order_by("id")
        )
    ]


def _act(client: Client, selected: list[Message], **data: str) -> Any:
    return client.post(
        MESSAGES,
        {
            "action": "acknowledge_alerts",
            "_selected_action": [m.pk for m in selected],
            **data,
        },
        follow=True,
    )


def _alert_id(message: Message) -> str:
    return str(message.to_wire()["payload"]["alert_id"])


@pytest.mark.django_db
def test_message_changelist_offers_the_acknowledge_action_to_who_may_acknowledge(
    messages: dict[str, Message],
) -> None:
    response = _staff_client("view_message", "add_message").get(MESSAGES)

    choices = [
        name for name, _ in response.context["action_form"].fields["action"].choices
    ]
    assert choices == ["", "acknowledge_alerts"]


@pytest.mark.django_db
def test_acknowledge_action_first_asks_for_a_note_and_lists_the_alerts(
    admin_client: Client,
) -> None:
    alert = _alert()
    other = pubsub.broadcast_log_entry("error", "disk full").message

    response = _act(admin_client, [alert, other])

    html = response.content.decode()
    assert response.templates[0].name == (
        "admin/opsmessaging/message/acknowledge_alerts.html"
    )
    assert f"<td><code>{_alert_id(alert)}</code></td>" in html
    assert "1 selected message(s) that are not alerts will be left alone." in html
    assert '<textarea id="id_ack_note" name="ack_note"' in html
    assert _acks() == []


@pytest.mark.django_db
def test_acknowledge_action_acknowledges_each_selected_alert_with_the_note(
    admin_client: Client,
) -> None:
    first, second = _alert(), _alert("error")

    response = _act(admin_client, [first, second], confirm="yes", ack_note="on it")

    assert [str(m) for m in response.context["messages"]] == [
        "Acknowledged 2 alert(s)."
    ]
    assert sorted(_acks()) == sorted(
        [(_alert_id(first), "admin", "on it"), (_alert_id(second), "admin", "on it")]
    )
    assert alerting.alert_board().open == []


@pytest.mark.django_db
def test_acknowledge_action_reports_the_alerts_it_could_not_acknowledge(
    admin_client: Client,
) -> None:
    done, warning = _alert(), _alert("warning")
    admin = User.objects.get(username="admin")
    earlier = alerting.acknowledge(done, admin).message

    response = _act(admin_client, [done, warning], confirm="yes")

    # Newest first, as the changelist lists them.
    assert [str(m) for m in response.context["messages"]] == [
        f"Not acknowledged: alert '{_alert_id(warning)}' does not require an "
        "acknowledgement",
        f"Not acknowledged: alert '{_alert_id(done)}' was acknowledged by 'admin' at "
        f"{earlier.to_wire()['timestamp']}",
    ]
    assert len(_acks()) == 1


@pytest.mark.django_db
def test_acknowledge_action_without_alerts_says_so(admin_client: Client) -> None:
    other = pubsub.broadcast_log_entry("error", "disk full").message

    response = _act(admin_client, [other], confirm="yes")

    assert [str(m) for m in response.context["messages"]] == [
        "No alert was selected (only SystemAlerts)."
    ]
    assert _acks() == []


@pytest.mark.django_db
def test_acknowledge_action_is_refused_to_readers() -> None:
    alert = _alert()

    response = _act(_staff_client("view_message"), [alert], confirm="yes")

    assert response.status_code == 200
    assert _acks() == []


@pytest.mark.django_db
def test_monitor_admin_shows_a_monitor_and_its_check_ins(admin_client):
    from opsmessaging import checkins
    from opsmessaging.models import Monitor

    checkins.run_checked(checkins.MonitorSpec("backup", interval_ms=1000), lambda: 1)
    monitor = Monitor.objects.get()
    listing = admin_client.get("/admin/opsmessaging/monitor/")
    page = admin_client.get(f"/admin/opsmessaging/monitor/{monitor.pk}/change/")
    assert (listing.status_code, page.status_code) == (200, 200)
    assert b"backup" in listing.content
    assert page.content.count(b'<td class="field-status">') == 1


# --- what a restricted reader learns, and which lookups are offered (issue 15) ------


@pytest.fixture
def hidden_audit(messages: dict[str, Message]) -> Message:
    """An audit message (hidden from readers without view_audit_messages) of its own
    topic and node."""
    result = pubsub.broadcast_audit_event(
        "secret_export", "u1", "payroll", "read", node="hidden9@z"
    )
    assert result.message is not None
    return result.message


@pytest.mark.django_db
def test_a_restricted_reader_s_filters_name_no_hidden_category_topic_or_node(
    hidden_audit: Message,
) -> None:
    reader = _staff_client("view_message")
    listed = reader.get(MESSAGES)
    hidden_topics = reader.get(f"{MESSAGES}?category=audit")

    assert [
        c for c, _ in _filter_spec(listed, opsadmin.CategoryFilter).lookup_choices
    ] == [
        "system",
        "health",
        "metrics",
        "alerts",
        "diagnostics",
        "lifecycle",
        "logging",
    ]
    assert _filter_spec(listed, opsadmin.NodeFilter).lookup_choices == [
        ("web1@a", "web1@a"),
        ("web2@b", "web2@b"),
        ("web3@c", "web3@c"),
    ]
    assert _filter_spec(hidden_topics, opsadmin.TopicFilter) is None


@pytest.mark.django_db
def test_a_reader_of_every_category_is_offered_every_category_and_node(
    admin_client: Client, hidden_audit: Message
) -> None:
    response = admin_client.get(f"{MESSAGES}?category=audit")

    assert len(_filter_spec(response, opsadmin.CategoryFilter).lookup_choices) == 9
    assert ("hidden9@z", "hidden9@z") in _filter_spec(
        response, opsadmin.NodeFilter
    ).lookup_choices
    assert _filter_spec(response, opsadmin.TopicFilter).lookup_choices == [
        ("secret_export", "secret_export")
    ]


@pytest.mark.django_db
@pytest.mark.parametrize(
    "query",
    [
        "payload__title=disk",
        "topic__icontains=store",
        "node__startswith=web",
        "id__gt=1",
    ],
)
def test_changelist_refuses_lookups_it_does_not_offer(
    admin_client: Client, messages: dict[str, Message], query: str
) -> None:
    assert admin_client.get(f"{MESSAGES}?{query}").status_code == 400


@pytest.mark.django_db
def test_the_compatibility_page_of_a_restricted_reader_names_no_hidden_message(
    admin_client: Client, hidden_audit: Message
) -> None:
    set_stored_version(hidden_audit, 99)  # its signature no longer verifies
    reader = _staff_client("view_message")
    restricted = reader.get("/admin/opsmessaging/message/compatibility/")
    full = admin_client.get("/admin/opsmessaging/message/compatibility/")

    assert restricted.status_code == full.status_code == 200
    assert hidden_audit.message_id in full.content.decode()
    assert hidden_audit.message_id not in restricted.content.decode()
    assert restricted.context["status"]["report"]["signing"]["stored"]["checked"] == 6
