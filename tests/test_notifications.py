"""Alert notifications: routes, email, signed webhooks, idempotence, rate limits."""

from __future__ import annotations

import http.server
import json
import threading
from collections.abc import Iterator

import pytest
from django.core import mail
from django.core.checks import run_checks

from opsmessaging import notifications, pubsub
from opsmessaging.models import Notification

SECRET = "s3cret"


class Receiver(http.server.BaseHTTPRequestHandler):
    """A webhook on loopback that fails its first ``fail`` requests with a 500."""

    fail = 0
    received: list[tuple[object, bytes, int]] = []

    def do_POST(self) -> None:  # noqa: N802 (http.server's name)
        body = self.rfile.read(int(self.headers["Content-Length"]))
        code = 500 if Receiver.fail > 0 else 200
        Receiver.fail -= 1
        Receiver.received.append((self.headers, body, code))
        self.send_response(code)
        self.end_headers()
        self.wfile.write(b"ok" if code == 200 else b"down")

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def receiver() -> Iterator[str]:
    Receiver.fail, Receiver.received = 0, []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hook"
    server.shutdown()


@pytest.fixture
def sent_now(monkeypatch, django_capture_on_commit_callbacks):
    """Run each notification's delivery at once instead of sending its task."""
    monkeypatch.setattr(notifications, "_send_task", notifications.deliver)

    def dispatch() -> list[int]:
        with django_capture_on_commit_callbacks(execute=True):
            return notifications.dispatch()

    return dispatch


def _routes(settings, *routes, **extra):
    settings.OPSMESSAGING = {"NOTIFICATIONS": list(routes), **extra}
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"


@pytest.mark.django_db
def test_an_alert_at_the_route_severity_is_emailed_with_an_acknowledge_link(
    settings, sent_now
):
    _routes(
        settings,
        {"name": "ops", "min_severity": "error", "email": ["ops@example.com"]},
        NOTIFICATION_BASE_URL="https://ops.example.com",
    )
    pubsub.broadcast_alert("disk_full", "warning", "disk at 85%")
    pubsub.broadcast_alert("disk_full", "critical", "disk at 99%")
    [pk] = sent_now()
    [email] = mail.outbox
    assert email.to == ["ops@example.com"]
    assert email.subject == "[opsmessaging critical] disk at 99%"
    assert (
        "Acknowledge it: https://ops.example.com/admin/opsmessaging/message/"
        "?category=alerts" in email.body
    )
    row = Notification.objects.get(pk=pk)
    assert (row.route, row.kind, row.status, row.attempts, row.channel) == (
        "ops",
        "alert",
        "sent",
        1,
        "email",
    )
    assert sent_now() == []  # the cursor moved: nothing twice
    assert len(mail.outbox) == 1


@pytest.mark.django_db
def test_a_webhook_is_signed_with_a_timestamp(settings, sent_now, receiver):
    _routes(
        settings,
        {
            "name": "hook",
            "min_severity": "critical",
            "webhook": receiver,
            "secret": SECRET,
        },
    )
    pubsub.broadcast_alert("node_failure", "critical", "w1 is gone")
    sent_now()
    [(headers, body, code)] = Receiver.received
    stamp = headers[notifications.TIMESTAMP_HEADER]
    assert headers[notifications.SIGNATURE_HEADER] == notifications.signature(
        SECRET, stamp, body
    )
    assert json.loads(body)["title"] == "w1 is gone"
    assert code == 200


@pytest.mark.django_db
def test_a_failed_attempt_is_counted_and_a_retry_never_sends_twice(
    settings, sent_now, receiver
):
    _routes(
        settings,
        {
            "name": "hook",
            "min_severity": "error",
            "webhook": receiver,
            "secret": SECRET,
        },
    )
    Receiver.fail = 2
    pubsub.broadcast_alert("node_failure", "critical", "w1 is gone")
    with pytest.raises(notifications.TransientFailure):
        sent_now()
    [row] = Notification.objects.all()
    for expected in ("raise", "sent", "sent"):
        if expected == "raise":
            with pytest.raises(notifications.TransientFailure, match="HTTP 500"):
                notifications.deliver(row.pk)
        else:
            assert notifications.deliver(row.pk) == "sent"
    row.refresh_from_db()
    assert (row.status, row.attempts) == ("sent", 3)
    assert [code for _, _, code in Receiver.received] == [500, 500, 200]


@pytest.mark.django_db
def test_repeats_of_one_alert_are_rate_limited_within_the_window(settings, sent_now):
    _routes(settings, {"name": "ops", "email": ["ops@example.com"]})
    for _ in range(3):
        pubsub.broadcast_alert(
            "health_critical", "critical", "db down", {"node": "n1", "component": "db"}
        )
    sent_now()
    assert sorted(Notification.objects.values_list("status", flat=True)) == [
        "sent",
        "suppressed",
        "suppressed",
    ]
    assert len(mail.outbox) == 1


@pytest.mark.django_db
def test_acknowledgement_and_recovery_notices_follow_a_sent_alert(settings, sent_now):
    from opsmessaging import checkins

    _routes(settings, {"name": "ops", "email": ["ops@example.com"]})
    spec = checkins.MonitorSpec("backup", interval_ms=1000)

    def boom():
        raise RuntimeError("no disk")

    with pytest.raises(RuntimeError):
        checkins.run_checked(spec, boom)
    sent_now()
    checkins.run_checked(spec, lambda: "ok")
    sent_now()
    assert [(n.kind, n.status) for n in Notification.objects.order_by("id")] == [
        ("alert", "sent"),
        ("recovery", "sent"),
    ]
    assert mail.outbox[1].subject.startswith("[opsmessaging error] Resolved: backup")


def test_a_bad_route_is_a_system_check_error(settings):
    settings.OPSMESSAGING = {
        "NOTIFICATIONS": [
            {"webhook": "ftp://x", "format": "xml"},
            {"email": ["ops@example.com"], "min_severity": "loud"},
        ]
    }
    errors = [e for e in run_checks() if e.id == "opsmessaging.E014"]
    assert [e.msg for e in errors] == [
        "OPSMESSAGING['NOTIFICATIONS']: route 0: 'webhook' must be an http(s) URL.",
        "OPSMESSAGING['NOTIFICATIONS']: route 0: a webhook needs a 'secret' to sign "
        "with.",
        "OPSMESSAGING['NOTIFICATIONS']: route 0: 'format' must be one of "
        "('json', 'slack').",
        "OPSMESSAGING['NOTIFICATIONS']: route 1: unknown 'min_severity'.",
    ]


def test_webhook_secrets_are_masked_in_the_effective_settings(settings):
    from opsmessaging.conf import conf

    settings.OPSMESSAGING = {
        "NOTIFICATIONS": [{"webhook": "https://x", "secret": SECRET}]
    }
    assert conf.effective()["NOTIFICATIONS"] == [
        {"webhook": "https://x", "secret": "********"}
    ]
