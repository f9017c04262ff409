"""A Celery worker killed mid-run: every period of the schedule runs exactly once.

Real processes on the real Redis broker and PostgreSQL: a beat, workers, and one health
run made slow (``tests.slow_cache``) so that the process running it can be killed with
SIGKILL in the middle of it. The tasks sent are read from the beat's log (their ids) and
their outcomes from the workers' logs; the messages from the database.
"""

from __future__ import annotations

import os
import re
import signal
import time
from collections import Counter
from pathlib import Path

import pytest

from opsmessaging.models import Message
from tests import celery_live
from tests.celery_live import CeleryProcess, CeleryProcesses, wait_for

celery_processes = celery_live.celery_processes

HEALTH = re.escape("opsmessaging.broadcast_health")
INTERVAL = 4.0  # seconds between health runs
TIMING = {
    "HEALTH_BROADCAST_INTERVAL": int(INTERVAL * 1000),
    "METRICS_BROADCAST_INTERVAL": 600_000,
    "HEARTBEAT_INTERVAL": 1000,
    "HEALTH_PROBE_TIMEOUT": 300,
    "HEALTH_PROBE_SLOW": 5000,
}


def _sent_ids(beat: CeleryProcess) -> list[str]:
    return re.findall(rf"{HEALTH} sent\. id->(\S+)", beat.output())


def _outcomes(worker: CeleryProcess) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    pattern = rf"Task {HEALTH}\[(\S+)\] succeeded in \S+s: '(\w+)'"
    for task_id, outcome in re.findall(pattern, worker.output()):
        found.setdefault(task_id, []).append(outcome)
    return found


class Schedule:
    """A beat and workers whose next health run, once armed, stalls for 3 s."""

    def __init__(self, processes: CeleryProcesses, tmp_path: Path, *extra: str):
        self.tmp_path = tmp_path
        self.armed = tmp_path / "slow-cache"
        env = {
            "DJANGO_SETTINGS_MODULE": "tests.settings_worker_faults",
            "SLOW_CACHE_ARMED": str(self.armed),
            "SLOW_CACHE_SECONDS": "3",
        }
        self.workers = [
            processes.worker(name, *extra, env=env, **TIMING)
            for name in ("w1@faults", "w2@faults")
        ]
        self.beat = processes.beat("beat@faults", "--loglevel=DEBUG", env=env, **TIMING)

    def stall_next_health_run(self) -> int:
        """Arm the slow cache after a first health run; return the pid that stalls."""
        wait_for(
            lambda: Message.objects.filter(payload_type="NodeHealth").exists(),
            30,
            "a first health run",
        )
        self.armed.touch()
        [stalled] = wait_for(
            lambda: list(self.tmp_path.glob("slow-cache.*")),
            3 * INTERVAL,
            "a stalled health run",
        )
        return int(stalled.suffix[1:])

    def finish(self) -> list[str]:
        """Stop the beat, wait for every health task it sent to run; return their ids."""
        self.beat.stop()
        sent = _sent_ids(self.beat)
        wait_for(
            lambda: set(sent) <= {i for w in self.workers for i in _outcomes(w)},
            3 * INTERVAL,
            "an outcome for every health task sent",
        )
        for worker in self.workers:
            worker.stop()
        return sent

    def assert_each_period_ran_once(self, sent: list[str]) -> dict[str, list[str]]:
        outcomes: dict[str, list[str]] = {task_id: [] for task_id in sent}
        for worker in self.workers:
            for task_id, runs in _outcomes(worker).items():
                outcomes[task_id] += runs
        assert {i: runs.count("ran") for i, runs in outcomes.items()} == dict.fromkeys(
            sent, 1
        )
        ran_by = Counter(
            {
                w.name: sum(runs.count("ran") for runs in _outcomes(w).values())
                for w in self.workers
            }
        )
        node_health = Message.objects.filter(payload_type="NodeHealth")
        assert Counter(node_health.values_list("node", flat=True)) == ran_by
        assert node_health.count() == len(sent)
        components = Message.objects.filter(payload_type="ComponentHealth")
        assert components.count() == 5 * len(sent)
        return outcomes


@pytest.mark.postgres
@pytest.mark.redis
def test_a_worker_killed_mid_run_leaves_every_period_run_exactly_once(
    celery_processes: CeleryProcesses, tmp_path: Path
):
    schedule = Schedule(celery_processes, tmp_path)
    pid = schedule.stall_next_health_run()
    [victim] = [w for w in schedule.workers if w.popen and w.popen.pid == pid]
    [survivor] = [w for w in schedule.workers if w is not victim]
    time.sleep(0.3)
    victim.kill()
    killed_at = time.monotonic()
    [interrupted] = [
        task_id
        for task_id in re.findall(rf"Task {HEALTH}\[(\S+)\] received", victim.output())
        if task_id not in _outcomes(victim)
    ]
    wait_for(
        lambda: interrupted in _outcomes(survivor), INTERVAL, "the interrupted run"
    )
    print(f"interrupted run delivered again {time.monotonic() - killed_at:.2f} s after")
    time.sleep(INTERVAL)
    sent = schedule.finish()
    outcomes = schedule.assert_each_period_ran_once(sent)
    assert outcomes[interrupted] == ["ran"]
    assert _outcomes(survivor)[interrupted] == ["ran"]


@pytest.mark.postgres
@pytest.mark.redis
def test_a_pool_process_killed_mid_run_gives_its_period_back_to_run_once(
    celery_processes: CeleryProcesses, tmp_path: Path
):
    schedule = Schedule(celery_processes, tmp_path, "--pool=prefork")
    pid = schedule.stall_next_health_run()
    assert pid not in {w.popen.pid for w in schedule.workers if w.popen}
    time.sleep(0.3)
    os.kill(pid, signal.SIGKILL)
    time.sleep(INTERVAL)
    sent = schedule.finish()
    schedule.assert_each_period_ran_once(sent)
    lost = "".join(w.output() for w in schedule.workers)
    assert f"pid:{pid} exited with 'signal 9 (SIGKILL)'" in lost
