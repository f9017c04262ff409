"""Fan-out's event loop: one per process, also in processes forked from one that sent."""

from __future__ import annotations

import multiprocessing

from opsmessaging import fanout


async def _nothing() -> None:
    return None


def _send_from_child(results: multiprocessing.Queue) -> None:
    try:
        fanout.runner.run(_nothing(), 2)
    except TimeoutError as exc:
        results.put(f"TimeoutError: {exc}")
    else:
        results.put("ran")


def test_a_process_forked_after_sending_runs_coroutines_on_a_loop_of_its_own():
    fanout.runner.run(_nothing(), 2)  # the parent's background loop now exists
    context = multiprocessing.get_context("fork")  # as Celery's prefork pool does
    results = context.Queue()
    child = context.Process(target=_send_from_child, args=(results,))
    child.start()
    child.join(10)
    assert (child.exitcode, results.get(timeout=1)) == (0, "ran")
