"""The load soak (``bench/soak.py``), short and at low rates: nothing lost, no 5xx.

``make soak`` runs it for minutes at the full rates; here it runs for 10 s on the test
database and the test Redis, with a real uvicorn server, loaders, subscribers and readers.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests import celery_live

pytestmark = [pytest.mark.postgres, pytest.mark.redis]


@pytest.mark.django_db(transaction=True)
def test_a_short_soak_loses_nothing_and_never_answers_5xx(tmp_path: Path):
    report_path = tmp_path / "soak.json"
    done = subprocess.run(
        [
            sys.executable,
            "bench/soak.py",
            "--duration=10",
            "--rate=50",
            "--subscribers=18",
            "--readers=4",
            "--read-rate=2",
            "--settle=60",
            f"--json={report_path}",
            f"--work={tmp_path / 'work'}",
        ],
        cwd=celery_live.ROOT,
        env={
            **os.environ,
            "SOAK_DATABASE_URL": celery_live.database_url(),
            "SOAK_REDIS_URL": celery_live.redis_url(),
        },
        capture_output=True,
        text=True,
        timeout=180,
    )
    print(done.stdout, done.stderr)
    assert done.returncode == 0
    report = json.loads(report_path.read_text())
    loaders, store = report["loaders"], report["store"]
    assert (loaders["sent"], loaders["acknowledged"], loaders["failures"]) == (
        500,
        500,
        {},
    )
    assert (store["acknowledged_not_stored"], store["gaps"]) == (0, {})
    clients = report["subscribers"]["clients"]
    assert len(clients) == 18
    for client in clients:
        last = store["last_sequences"][client["category"]]
        assert (client["missing"], client["duplicates"], client["matches_store"]) == (
            0,
            0,
            True,
        )
        assert client["received"] >= last >= 500 // 9
    readers = report["readers"]
    assert readers["requests"] > 0
    assert set(readers["statuses"]) == {"200"}
