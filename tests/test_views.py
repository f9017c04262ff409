from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import Permission, User
from django.contrib.staticfiles import finders
from django.test import Client

from opsmessaging import alerting, pubsub
from opsmessaging.catalogue import metrics, security
from opsmessaging.helpers import format_timestamp
from opsmessaging.models import Message, Node
from tests.cluster import declare_failed
from tests.tampering import set_stored_version

PAGE = "/opsmessaging/"
FEED = "/opsmessaging/feed/"


@pytest.fixture(autouse=True)
def _no_login_capture(settings: Any) -> None:
    """These tests count the messages they broadcast: keep the logins out."""
    settings.OPSMESSAGING = {**settings.OPSMESSAGING, "CAPTURE_AUTH": False}


def _user(*codenames: str, name: str = "operator", is_staff: bool = True) -> User:
    user = User.objects.create_user(name, is_staff=is_staff)
    user.user_permissions.set(
        Permission.objects.filter(
            content_type__app_label="opsmessaging", codename__in=codenames
        )
    )
    return user


def _client(user: User | None) -> Client:
    client = Client()
    if user is not None:
        client.force_login(user)
    return client


@pytest.fixture
def reader(db: None) -> Client:
    """Staff who may see every category but security and audit."""
    return _client(_user("view_message"))


@pytest.fixture
def operator(db: None) -> Client:
    """Staff who may also broadcast (so acknowledge alerts)."""
    return _client(_user("view_message", "add_message"))


def _config(response: Any) -> dict[str, Any]:
    return response.context["config"]


def _stored(result: pubsub.BroadcastResult) -> Message:
    assert result.ok and result.message is not None
    return result.message


# --- the page --------------------------------------------------------------------------


@pytest.mark.django_db
def test_page_sends_anonymous_users_to_the_admin_login() -> None:
    response = Client().get(PAGE)

    assert response.status_code == 302
    assert response["Location"] == "/admin/login/?next=/opsmessaging/"


@pytest.mark.django_db
def test_page_sends_users_who_are_not_staff_to_the_admin_login() -> None:
    response = _client(_user("view_message", is_staff=False)).get(PAGE)

    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")


@pytest.mark.django_db
def test_page_is_forbidden_to_staff_who_may_see_no_category() -> None:
    assert _client(_user()).get(PAGE).status_code == 403


@pytest.mark.django_db
def test_page_offers_only_the_categories_the_user_may_see(reader: Client) -> None:
    response = reader.get(PAGE)

    values = [c["value"] for c in _config(response)["categories"]]
    assert response.status_code == 200
    assert values == [
        "system",
        "health",
        "metrics",
        "alerts",
        "diagnostics",
        "lifecycle",
        "logging",
    ]
    assert '<option value="security"' not in response.content.decode()


@pytest.mark.django_db
def test_page_offers_every_category_to_a_superuser(admin_client: Client) -> None:
    values = [c["value"] for c in _config(admin_client.get(PAGE))["categories"]]

    assert "security" in values and "audit" in values and len(values) == 9


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("codenames", "expected"),
    [(("view_message",), False), (("view_message", "add_message"), True)],
)
def test_page_says_whether_the_user_may_acknowledge_alerts(
    codenames: tuple[str, ...], expected: bool
) -> None:
    response = _client(_user(*codenames)).get(PAGE)

    assert _config(response)["canAcknowledge"] is expected


@pytest.mark.django_db
def test_page_config_names_the_websocket_and_the_json_views(reader: Client) -> None:
    config = _config(reader.get(PAGE))

    assert config["websocket"] == "/ws/opsmessaging/"
    assert config["urls"] == {
        "feed": "/opsmessaging/feed/",
        "metrics": "/opsmessaging/metrics/",
        "alerts": "/opsmessaging/alerts/",
        "acknowledge": "/opsmessaging/alerts/acknowledge/",
        "nodes": "/opsmessaging/nodes/",
        "compatibility": "/opsmessaging/compatibility/",
        "adminMessage": "/admin/opsmessaging/message/0/change/",
        "adminCompatibility": "/admin/opsmessaging/message/compatibility/",
    }


@pytest.mark.django_db
def test_page_keeps_the_filters_of_its_address(reader: Client) -> None:
    response = reader.get(PAGE, {"category": "alerts", "min_severity": "error"})

    html = response.content.decode()
    assert _config(response)["filters"] == {
        "category": "alerts",
        "node": "",
        "min_severity": "error",
    }
    assert '<option value="alerts" selected>' in html
    assert '<option value="error" selected>' in html


@pytest.mark.django_db
def test_page_config_carries_each_payload_type_s_field_order(reader: Client) -> None:
    order = _config(reader.get(PAGE))["fieldOrder"]

    assert len(order) == 36
    assert order["AlertAck"] == [
        "alert_id",
        "ack_by",
        "ack_note",
        "resolution",
        "ack_timestamp",
        "timestamp",
    ]


@pytest.mark.django_db
def test_page_links_the_admin_and_loads_its_own_script_and_style(
    reader: Client,
) -> None:
    html = reader.get(PAGE).content.decode()

    for link in (
        'href="/admin/opsmessaging/message/"',
        'href="/admin/opsmessaging/node/"',
        'href="/admin/opsmessaging/message/compatibility/"',
        'src="/static/opsmessaging/operations.js"',
        'href="/static/opsmessaging/operations.css"',
    ):
        assert link in html
    assert '<script id="opsmessaging-config" type="application/json">' in html


def test_page_static_files_are_shipped_by_the_app() -> None:
    for name in ("operations.js", "operations.css", "icon.svg"):
        found = finders.find(f"opsmessaging/{name}")
        assert found is not None and "/opsmessaging/static/" in str(found)


# --- JSON views ------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    "path",
    [
        "feed/",
        "metrics/",
        "alerts/",
        "nodes/",
        "compatibility/",
    ],
)
def test_json_views_are_forbidden_to_anonymous_users(path: str) -> None:
    response = Client().get(f"{PAGE}{path}")

    assert response.status_code == 403
    assert response.json() == {"detail": "Log in as staff to see the operations page."}


@pytest.mark.django_db
def test_json_views_are_forbidden_to_staff_who_may_see_no_category() -> None:
    response = _client(_user()).get(FEED)

    assert response.status_code == 403
    assert response.json() == {
        "detail": "You may not see any category of operational messages."
    }


@pytest.mark.django_db
def test_feed_returns_the_newest_messages_newest_first_and_the_last_sequences(
    reader: Client,
) -> None:
    first = _stored(pubsub.broadcast_health_update("db", "healthy"))
    second = _stored(pubsub.broadcast_alert("disk_full", "warning", "Disk 81%"))
    third = _stored(pubsub.broadcast_health_update("db", "degraded"))

    body = reader.get(FEED).json()

    assert [m["id"] for m in body["messages"]] == [third.pk, second.pk, first.pk]
    assert body["messages"][0] == third.to_wire()
    assert body["last_sequences"] == {
        "system": 0,
        "health": 2,
        "metrics": 0,
        "alerts": 1,
        "diagnostics": 0,
        "lifecycle": 0,
        "logging": 0,
    }


@pytest.mark.django_db
def test_feed_returns_at_most_feed_size_messages(reader: Client) -> None:
    pubsub.broadcast_batch([("log_entry", "info", f"line {n}") for n in range(105)])

    assert len(reader.get(FEED).json()["messages"]) == 100


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"category": "alerts"}, ["alert"]),
        ({"node": "web2@b"}, ["web2"]),
        ({"min_severity": "error"}, ["alert"]),
        ({"min_severity": "warning"}, ["alert", "warning"]),
        ({"category": "logging", "node": "web2@b"}, []),
    ],
)
def test_feed_filters_by_category_node_and_minimum_severity(
    reader: Client, query: dict[str, str], expected: list[str]
) -> None:
    stored = {
        "web2": _stored(pubsub.broadcast_health_update("db", "healthy", node="web2@b")),
        "warning": _stored(pubsub.broadcast_log_entry("warning", "slow")),
        "alert": _stored(pubsub.broadcast_alert("disk_full", "critical", "Disk full")),
    }
    names = {m.pk: name for name, m in stored.items()}

    body = reader.get(FEED, query).json()

    assert [names[m["id"]] for m in body["messages"]] == expected


@pytest.mark.django_db
def test_feed_never_returns_a_category_the_user_may_not_see(reader: Client) -> None:
    pubsub.broadcast(security.auth_event("mallory", "login_failure", "password"))
    visible = _stored(pubsub.broadcast_log_entry("warning", "slow"))

    everything = reader.get(FEED).json()
    asked = reader.get(FEED, {"category": "security"}).json()

    assert [m["id"] for m in everything["messages"]] == [visible.pk]
    assert asked["messages"] == []
    assert "security" not in asked["last_sequences"]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("query", "errors"),
    [
        (
            {"category": "events"},
            {
                "category": [
                    "'events' is refused: application domain events are out of "
                    "scope for opsmessaging: it carries operational messages only; "
                    "publish domain events through your event store"
                ]
            },
        ),
        ({"node": "no spaces"}, {"node": ["'no spaces' is not a node name"]}),
        (
            {"min_severity": "fatal"},
            {
                "min_severity": [
                    "'fatal' is not a severity; choose one of: debug, info, warning, "
                    "error, critical"
                ]
            },
        ),
    ],
)
def test_feed_refuses_a_bad_filter_naming_it(
    reader: Client, query: dict[str, str], errors: dict[str, list[str]]
) -> None:
    response = reader.get(FEED, query)

    assert response.status_code == 400
    assert response.json() == errors


@pytest.mark.django_db
def test_metrics_returns_the_charted_metric_types_oldest_first(reader: Client) -> None:
    pubsub.broadcast_batch(
        [
            metrics.resource_usage("cpu", 12.5, 2, 0.25),
            metrics.performance_metric("store_size", 10, "messages"),
            metrics.latency_metric("broadcast_delivery", 1.5, "p95", 10),
            metrics.throughput_metric("messages_stored.health", 6, 1000),
        ]
    )
    pubsub.broadcast_health_update("db", "healthy")

    body = reader.get("/opsmessaging/metrics/").json()

    assert [m["payload_type"] for m in body["messages"]] == [
        "ResourceUsage",
        "LatencyMetric",
        "ThroughputMetric",
    ]


@pytest.mark.django_db
def test_alerts_view_returns_open_and_acknowledged_alerts(operator: Client) -> None:
    user = User.objects.get(username="operator")
    closed = _stored(pubsub.broadcast_alert("disk_full", "critical", "Disk full"))
    still_open = _stored(pubsub.broadcast_alert("cpu_hot", "error", "CPU hot"))
    ack = alerting.acknowledge(closed, user, "done").message

    body = operator.get("/opsmessaging/alerts/").json()

    assert body == {
        "open": [still_open.to_wire()],
        "acknowledged": [{"alert": closed.to_wire(), "ack": ack.to_wire()}],
    }


@pytest.mark.django_db
def test_acknowledge_view_broadcasts_an_alert_ack(operator: Client) -> None:
    alert = _stored(pubsub.broadcast_alert("disk_full", "critical", "Disk full"))
    alert_id = alert.to_wire()["payload"]["alert_id"]

    response = operator.post(
        "/opsmessaging/alerts/acknowledge/", {"alert_id": alert_id, "ack_note": "on it"}
    )

    stored = Message.objects.get(payload_type="AlertAck")
    assert response.status_code == 200
    assert response.json() == {"ack": stored.to_wire()}
    payload = stored.to_wire()["payload"]
    assert (payload["alert_id"], payload["ack_by"], payload["ack_note"]) == (
        alert_id,
        "operator",
        "on it",
    )


@pytest.mark.django_db
def test_acknowledge_view_refuses_an_unknown_alert_naming_alert_id(
    operator: Client,
) -> None:
    response = operator.post("/opsmessaging/alerts/acknowledge/", {"alert_id": "nope"})

    assert response.status_code == 400
    assert response.json() == {
        "alert_id": ["no alert 'nope' among the newest 1000 alerts"]
    }
    assert not Message.objects.filter(payload_type="AlertAck").exists()


@pytest.mark.django_db
def test_acknowledge_view_is_forbidden_without_the_permission_to_broadcast(
    reader: Client,
) -> None:
    alert = _stored(pubsub.broadcast_alert("disk_full", "critical", "Disk full"))

    response = reader.post(
        "/opsmessaging/alerts/acknowledge/",
        {"alert_id": alert.to_wire()["payload"]["alert_id"]},
    )

    assert response.status_code == 403
    assert response.json() == {
        "detail": "Acknowledging alerts needs the permissions to view and to "
        "broadcast alerts."
    }
    assert not Message.objects.filter(payload_type="AlertAck").exists()


@pytest.mark.django_db
def test_acknowledge_view_answers_503_when_broadcasting_is_disabled(
    operator: Client,
) -> None:
    alert = _stored(pubsub.broadcast_alert("disk_full", "critical", "Disk full"))
    pubsub.disable()

    response = operator.post(
        "/opsmessaging/alerts/acknowledge/",
        {"alert_id": alert.to_wire()["payload"]["alert_id"]},
    )

    assert response.status_code == 503
    assert response.json() == {
        "status": "disabled",
        "detail": "Broadcasting is disabled on this server.",
    }


@pytest.mark.django_db
def test_acknowledge_view_accepts_only_post(operator: Client) -> None:
    assert operator.get("/opsmessaging/alerts/acknowledge/").status_code == 405


@pytest.mark.django_db
def test_acknowledge_view_needs_the_csrf_token() -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(_user("view_message", "add_message"))
    alert = _stored(pubsub.broadcast_alert("disk_full", "critical", "Disk full"))

    response = client.post(
        "/opsmessaging/alerts/acknowledge/",
        {"alert_id": alert.to_wire()["payload"]["alert_id"]},
    )

    assert response.status_code == 403
    assert not Message.objects.filter(payload_type="AlertAck").exists()


@pytest.mark.django_db
def test_nodes_view_describes_each_node_and_who_declared_a_failure(
    reader: Client, settings: Any
) -> None:
    failure, silent_since = declare_failed(settings)
    web, worker = Node.objects.order_by("name")

    body = reader.get("/opsmessaging/nodes/").json()

    assert body["this_node"] == "web1@a"
    assert body["nodes"] == [
        {
            "name": "web1@a",
            "role": "web",
            "status": "healthy",
            "alive": True,
            "last_heartbeat_at": format_timestamp(web.last_heartbeat_at),
            "status_changed_at": None,
            "started_at": format_timestamp(web.started_at),
            "failure": None,
        },
        {
            "name": "worker1@b",
            "role": "worker",
            "status": "failed",
            "alive": False,
            "last_heartbeat_at": format_timestamp(silent_since),
            "status_changed_at": format_timestamp(worker.status_changed_at),
            "started_at": format_timestamp(worker.started_at),
            "failure": {
                "reported_by": "web1@a",
                "reported_at": failure.to_wire()["timestamp"],
                "alert_id": failure.to_wire()["payload"]["alert_id"],
            },
        },
    ]


@pytest.mark.django_db
def test_compatibility_view_says_compatible(reader: Client) -> None:
    response = reader.get("/opsmessaging/compatibility/")

    assert response.status_code == 200
    assert response.json() == {"compatible": True, "problems": []}


@pytest.mark.django_db
def test_compatibility_view_names_the_failing_checks(
    reader: Client, settings: Any
) -> None:
    settings.OPSMESSAGING = {**settings.OPSMESSAGING, "OPEN_ALERTS_SCAN": 0}

    body = reader.get("/opsmessaging/compatibility/").json()

    assert body == {
        "compatible": False,
        "problems": [
            "opsmessaging.E601: OPSMESSAGING['OPEN_ALERTS_SCAN'] must be a positive "
            "integer, not 0."
        ],
    }


@pytest.mark.django_db
def test_page_drops_the_filters_of_its_address_that_it_cannot_apply(
    reader: Client,
) -> None:
    response = reader.get(
        PAGE, {"category": "security", "node": "web1@a", "min_severity": "fatal"}
    )

    assert response.status_code == 200
    assert _config(response)["filters"] == {
        "category": "",
        "node": "web1@a",
        "min_severity": "",
    }


@pytest.mark.django_db
def test_feed_lists_a_row_in_an_unknown_payload_version_with_a_null_payload(
    reader: Client,
) -> None:
    message = _stored(pubsub.broadcast_alert("disk_full", "warning", "Disk 81%"))
    set_stored_version(message, 99)
    response = reader.get(FEED)
    assert response.status_code == 200
    assert [(m["id"], m["payload"]) for m in response.json()["messages"]] == [
        (message.pk, None)
    ]
