"""A user's Celery task monitored with ``opsmessaging.monitor``: it always fails."""

from __future__ import annotations

from celery import shared_task

import opsmessaging


@shared_task(name="tests.nightly_backup")
@opsmessaging.monitor("nightly-backup", every=86400, margin=600)
def nightly_backup() -> str:
    raise RuntimeError("backup target unreachable")
