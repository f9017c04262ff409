"""The live operations page in a real browser, against a real server process."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.db import connection
from django.utils import timezone

from opsmessaging import pubsub, relay
from opsmessaging.catalogue import diagnostics, security
from opsmessaging.helpers import parse_timestamp
from opsmessaging.models import Message, Node
from tests.browser.support import (
    ROOT,
    SERVER_NODE,
    ServerProcess,
    feed_sequences,
    log_in,
    make_staff,
    page_stats,
    wait_for_row,
    wait_live,
)

pytestmark = pytest.mark.browser

#: Where the screenshot of the page with live data is written (docs/screenshot.png is a
#: copy of one, linked from the README).
SCREENSHOTS = ROOT / "build" / "screenshots"
READER = ("opsmessaging.view_message",)
ACKNOWLEDGER = ("opsmessaging.view_message", "opsmessaging.add_message")


def _diagnostic(number: int) -> str:
    result = pubsub.broadcast(diagnostics.debug_trace("probe", f"step_{number}", {}))
    assert result.ok and result.message is not None
    return result.message.message_id


def test_staff_user_logs_in_and_sees_the_page_live(
    server: ServerProcess, page: Any
) -> None:
    user = make_staff("operator", *READER)
    log_in(page, server, user)
    assert page.url == server.url("/opsmessaging/")
    assert page.inner_text("#ops-connection") == "live"
    page.wait_for_selector("#ops-compatibility[data-state=ok]")
    assert page.inner_text("#ops-compatibility") == "compatible"
    card = page.wait_for_selector(f'#ops-nodes li[data-node="{SERVER_NODE}"]')
    assert card.get_attribute("data-status") == "healthy"


@pytest.mark.redis
def test_message_broadcast_from_another_process_appears_within_a_second(
    server: ServerProcess, page: Any
) -> None:
    """Measured from just before the broadcast (in the pytest process) to the row's
    insertion into the page of the browser (served by the server process)."""
    log_in(page, server, make_staff("operator", *READER))
    delays = []
    for number in range(5):
        sent_at = time.time()
        message_id = _diagnostic(number)
        row = wait_for_row(page, message_id)
        delays.append(int(row.get_attribute("data-arrived-at")) / 1000 - sent_at)
    print(
        f"broadcast -> row in the page: median {statistics.median(delays) * 1000:.1f} ms, "
        f"max {max(delays) * 1000:.1f} ms, in order: "
        + ", ".join(f"{delay * 1000:.1f}" for delay in delays)
    )
    assert max(delays) < 1.0, delays


def test_category_filter_shows_only_that_category(
    server: ServerProcess, page: Any
) -> None:
    pubsub.broadcast_alert("disk_full", "warning", "Disk /var is 81% full")
    _diagnostic(1)
    pubsub.broadcast_health_update("store_worker", "healthy")
    log_in(page, server, make_staff("operator", *READER))
    page.wait_for_selector('#ops-feed tr.ops-row[data-category="health"]')
    page.select_option("#ops-filters select[name=category]", "alerts")
    page.wait_for_function(
        "() => [...document.querySelectorAll('#ops-feed tr.ops-row')]"
        ".every(row => row.dataset.category === 'alerts')"
    )
    assert page.url == server.url("/opsmessaging/?category=alerts")
    live_alert = pubsub.broadcast_alert("disk_full", "error", "Disk /var is 91% full")
    live_other = _diagnostic(2)
    wait_for_row(page, live_alert.message.message_id)
    rows = page.eval_on_selector_all(
        "#ops-feed tr.ops-row", "rows => rows.map(row => row.dataset.messageId)"
    )
    alerts = Message.objects.filter(category="alerts").order_by("-id")
    assert rows == [m.message_id for m in alerts]
    assert live_other not in rows
    page.select_option("#ops-filters select[name=category]", "")
    wait_for_row(page, live_other)


def test_acknowledging_an_alert_stores_an_alert_ack_and_moves_it_to_acknowledged(
    server: ServerProcess, page: Any
) -> None:
    alert = pubsub.broadcast_alert(
        "disk_full", "critical", "Disk /var is full", {"disk": "/var"}
    ).message
    alert_id = alert.to_wire()["payload"]["alert_id"]
    user = make_staff("operator", *ACKNOWLEDGER)
    log_in(page, server, user)
    item = page.wait_for_selector(f'#ops-open-alerts li[data-alert-id="{alert_id}"]')
    assert page.inner_text("#ops-open-count") == "1"
    item.query_selector("button.ops-ack").click()
    item.query_selector("input[name=ack_note]").fill("replacing the disk")
    before = datetime.now(UTC).replace(microsecond=0)
    item.query_selector("button[type=submit]").click()
    done = page.wait_for_selector(
        f'#ops-acknowledged-alerts li[data-alert-id="{alert_id}"]'
    )
    after = datetime.now(UTC)
    assert "acknowledged by operator at" in done.inner_text()
    assert done.inner_text().endswith(": replacing the disk")
    page.wait_for_selector(
        f'#ops-open-alerts li[data-alert-id="{alert_id}"]', state="detached"
    )
    assert page.inner_text("#ops-open-count") == "0"
    acks = list(Message.objects.filter(payload_type="AlertAck"))
    assert len(acks) == 1
    wire = acks[0].to_wire()
    assert (wire["category"], wire["topic"], wire["tag"]) == (
        "alerts",
        "acknowledgements",
        "alert_acknowledged",
    )
    assert (wire["node"], wire["originating_node"]) == (SERVER_NODE, SERVER_NODE)
    payload = wire["payload"]
    assert set(payload) == {
        "alert_id",
        "ack_by",
        "ack_note",
        "resolution",
        "ack_timestamp",
        "timestamp",
    }
    assert payload["alert_id"] == alert_id
    assert payload["ack_by"] == "operator"
    assert payload["ack_note"] == "replacing the disk"
    assert payload["resolution"] is None
    assert before <= parse_timestamp(payload["ack_timestamp"]) <= after
    assert before <= parse_timestamp(payload["timestamp"]) <= after


def test_feed_resumes_without_duplicates_after_the_server_is_killed_and_restarted(
    server: ServerProcess, page: Any
) -> None:
    for number in range(1, 6):
        _diagnostic(number)
    log_in(
        page,
        server,
        make_staff("operator", *READER),
        "/opsmessaging/?category=diagnostics",
    )
    page.wait_for_function(
        "() => document.querySelectorAll('#ops-feed tr.ops-row').length === 5"
    )
    for number in range(6, 9):
        last = _diagnostic(number)
    wait_for_row(page, last)
    server.kill()
    page.wait_for_selector("#ops-connection[data-state=reconnecting]")
    assert page.inner_text("#ops-connection") == "reconnecting…"
    for number in range(9, 13):
        _diagnostic(number)  # stored while the server is down
    server.start()
    wait_live(page)
    for number in range(13, 15):
        last = _diagnostic(number)
    wait_for_row(page, last)
    assert feed_sequences(page, "diagnostics") == list(range(14, 0, -1))
    stats = page_stats(page)
    assert stats["duplicates"] == 0
    assert stats["gaps"] == 0
    assert stats["reconnects"] >= 1


def test_user_without_the_security_permission_never_sees_a_security_message(
    server: ServerProcess, page: Any
) -> None:
    pubsub.broadcast(security.auth_event("mallory", "login_failure", "password"))
    user = make_staff("auditor", *READER)
    log_in(page, server, user)  # the login itself is a security message too
    pubsub.broadcast(security.auth_event("mallory", "login_failure", "password"))
    marker = _diagnostic(1)  # broadcast after the security ones: delivered after them
    wait_for_row(page, marker)
    assert Message.objects.filter(category="security").count() >= 3
    assert (
        page.query_selector_all('#ops-feed tr.ops-row[data-category="security"]') == []
    )
    options = page.eval_on_selector_all(
        "#ops-filters select[name=category] option",
        "options => options.map(o => o.value)",
    )
    assert "security" not in options
    assert "security" not in page.evaluate(
        "Object.keys(window.opsmessagingPage.reached)"
    )
    # Not by asking for it either: the feed, the filters in the address, the WebSocket.
    answer = page.evaluate(
        "fetch('/opsmessaging/feed/?category=security').then(r => r.json())"
    )
    assert answer["messages"] == []
    assert "security" not in answer["last_sequences"]
    refusal = page.evaluate(
        """() => new Promise(resolve => {
            const ws = new WebSocket(`ws://${location.host}/ws/opsmessaging/`);
            ws.onopen = () => ws.send(JSON.stringify(
                {action: "subscribe", category: "security", since: 0}));
            ws.onmessage = event => { resolve(JSON.parse(event.data)); ws.close(); };
        })"""
    )
    assert (refusal["type"], refusal["code"]) == ("error", "forbidden")
    page.goto(server.url("/opsmessaging/?category=security"))
    wait_live(page)
    pubsub.broadcast(security.auth_event("mallory", "login_failure", "password"))
    marker = _diagnostic(2)
    page.select_option("#ops-filters select[name=category]", "")
    wait_for_row(page, marker)
    assert (
        page.query_selector_all('#ops-feed tr.ops-row[data-category="security"]') == []
    )


def test_embedded_default_feeds_the_charts_and_the_cluster_strip_live(
    start_server: Callable[..., ServerProcess], page: Any, monkeypatch
) -> None:
    """The server runs as ``make run`` does by default: its heartbeat, and a Celery worker
    and beat in its own process over the in-memory broker, here every second. The page
    charts the metrics they measure and shows the node the server declares failed, with
    who reported it. Leaves a screenshot of the page in ``build/screenshots/``.

    The server's relay leads, as it would on a node of its own: the delivery latency it
    charts is that of the relay's deliveries, measured where they are made."""
    relay.relay.stop()
    monkeypatch.setattr(relay.relay, "ensure_running", lambda **kwargs: None)
    server = start_server(
        DEMO_BACKGROUND_THREADS="1",
        CELERY_BROKER_URL="memory://",
        OPSMESSAGING_METRICS_BROADCAST_INTERVAL="1000",
        OPSMESSAGING_HEALTH_BROADCAST_INTERVAL="1000",
        OPSMESSAGING_HEARTBEAT_INTERVAL="1000",
    )
    Node.heartbeat("worker1@app-3", role="worker")
    Node.objects.filter(name="worker1@app-3").update(
        last_heartbeat_at=timezone.now() - timedelta(minutes=1)
    )
    pubsub.broadcast_alert(
        "disk_full",
        "critical",
        "Disk /var is 97% full",
        {"disk": "/var"},
        node="db1@store-2",
    )
    slow = pubsub.broadcast_alert(
        "slow_queries", "error", "Queries above 2 s on the store", {"p95_ms": 2300}
    ).message.to_wire()["payload"]["alert_id"]
    log_in(page, server, make_staff("operator", *ACKNOWLEDGER))
    item = page.wait_for_selector(f'#ops-open-alerts li[data-alert-id="{slow}"]')
    item.query_selector("button.ops-ack").click()
    item.query_selector("input[name=ack_note]").fill("index added")
    item.query_selector("button[type=submit]").click()
    failed = page.wait_for_selector(
        '#ops-nodes li[data-node="worker1@app-3"][data-status="failed"]'
    )
    assert f"reported failed by {SERVER_NODE} at" in failed.inner_text()
    page.wait_for_selector("#ops-open-alerts li .ops-alert-meta >> text=node_failure")
    page.wait_for_function(
        "() => [...document.querySelectorAll('.ops-chart')]"
        ".every(chart => Number(chart.dataset.points) >= 4)",
        timeout=45_000,
    )
    nodes = page.eval_on_selector_all(
        ".ops-chart polyline", "lines => lines.map(line => line.dataset.node)"
    )
    assert nodes == [SERVER_NODE] * 4
    assert page_stats(page)["duplicates"] == 0
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"operations-{connection.vendor}.png"
    page.screenshot(path=str(path))
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
