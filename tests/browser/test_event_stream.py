"""The Server-Sent Events stream in Chromium's own ``EventSource``, against a server process."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from opsmessaging import pubsub
from opsmessaging.catalogue import alerts
from tests.browser.support import ServerProcess, log_in, make_staff

pytestmark = pytest.mark.browser

#: Opens an EventSource and records every event, reconnection and error on ``window``.
OPEN_STREAM = """
(url) => {
  window.received = [];
  window.opened = 0;
  const source = new EventSource(url);
  window.source = source;
  source.onopen = () => { window.opened += 1; };
  source.addEventListener("SystemAlert", (event) => {
    const message = JSON.parse(event.data);
    window.received.push([event.lastEventId, message.sequence, message.message_id]);
  });
}
"""


def _alert(title: str) -> Any:
    result = pubsub.broadcast(
        alerts.system_alert("warning", "system", title, None, "t")
    )
    assert result.ok and result.message is not None
    result.wait_for_sequence()  # the stream serves numbered messages
    return result.message


def _wait_for(page: Any, count: int) -> list[list[Any]]:
    page.wait_for_function(f"window.received.length >= {count}", timeout=15_000)
    return page.evaluate("window.received")  # type: ignore[no-any-return]


def test_event_source_resumes_with_last_event_id_after_each_reconnect(
    start_server: Callable[..., ServerProcess], page: Any
) -> None:
    # Each response lasts 1.5 s, so the browser reconnects (after 200 ms) several times.
    server = start_server(
        OPSMESSAGING_SSE_MAX_DURATION="1500",
        OPSMESSAGING_SSE_RETRY="200",
        OPSMESSAGING_SSE_POLL_INTERVAL="100",
    )
    log_in(page, server, make_staff("reader", "opsmessaging.view_message"))
    before = [_alert(f"before{i}") for i in range(3)]
    page.evaluate(
        OPEN_STREAM,
        f"/opsmessaging/stream/?category=alerts&last_event_id={before[0].sequence}",
    )
    _wait_for(page, 2)
    after = []
    for i in range(3):
        page.wait_for_function(f"window.opened >= {i + 2}", timeout=15_000)
        after.append(_alert(f"after{i}"))
        _wait_for(page, 3 + i)
    received = _wait_for(page, 5)
    page.evaluate("window.source.close()")
    expected = before[1:] + after
    assert received == [[str(m.sequence), m.sequence, m.message_id] for m in expected]
    assert page.evaluate("window.opened") >= 4


def test_event_source_gets_only_the_categories_it_may_view(
    start_server: Callable[..., ServerProcess], page: Any
) -> None:
    server = start_server()
    log_in(page, server, make_staff("reader", "opsmessaging.view_message"))
    status = page.evaluate(
        """async () => (await fetch("/opsmessaging/stream/?category=security")).status"""
    )
    assert status == 403
