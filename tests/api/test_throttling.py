"""The throttle on broadcasts (``OPSMESSAGING["API_WRITE_THROTTLE_RATE"]``)."""

from __future__ import annotations

import pytest
from django.test import override_settings

from tests.api.conftest import URL
from tests.api.test_views import ALERT_BODY

pytestmark = pytest.mark.django_db


def test_broadcasts_beyond_the_rate_are_429(writer):
    with override_settings(OPSMESSAGING={"API_WRITE_THROTTLE_RATE": "2/minute"}):
        codes = [
            writer.post(URL + "messages/", ALERT_BODY, format="json").status_code
            for _ in range(3)
        ]
        refused = writer.post(
            URL + "messages/batch/", {"events": [ALERT_BODY]}, format="json"
        )
    assert codes == [201, 201, 429]
    assert refused.status_code == 429
    assert refused.json()["detail"].startswith("Request was throttled.")
    assert int(refused["Retry-After"]) > 0


def test_reading_is_not_throttled_by_the_write_rate(reader):
    with override_settings(OPSMESSAGING={"API_WRITE_THROTTLE_RATE": "1/minute"}):
        codes = {reader.get(URL + "messages/").status_code for _ in range(3)}
    assert codes == {200}


def test_no_rate_means_no_limit(writer):
    with override_settings(OPSMESSAGING={"API_WRITE_THROTTLE_RATE": None}):
        codes = {
            writer.post(URL + "messages/", ALERT_BODY, format="json").status_code
            for _ in range(5)
        }
    assert codes == {201}
