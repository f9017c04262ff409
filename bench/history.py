"""History benchmark: the API's message list at 10,000 and at 1,000,000 stored messages.

    python bench/history.py            # or: make bench-history

Fills PostgreSQL (``BENCH_DATABASE_URL``, default
``postgres://postgres@127.0.0.1:5432/opsmessaging_bench``; the database is created and
emptied, never one you use) with ``INSERT ... SELECT generate_series``, then times
``GET messages/`` through the API's own view, filter, paginator and serializer (no HTTP):
the first page of several filters and the 100th page, at 10,000 messages and again at
1,000,000. It reports p50/p95 and the ratio of the two p50s: the target is under 1.5,
i.e. a page costs the same however large the table.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/opsmessaging_bench"
PAGE = 100

#: (name, query string, which pages to time).
SCENARIOS = [
    ("all messages", "", (1, PAGE)),
    ("category=alerts", "category=alerts", (1,)),
    ("category=alerts&topic=alerts_t3", "category=alerts&topic=alerts_t3", (1,)),
    ("min_severity=warning", "min_severity=warning", (1, PAGE)),
    ("node=web1@bench (any node field)", "node=web1@bench", (1, PAGE)),
    ("payload_type=SystemAlert", "payload_type=SystemAlert", (1,)),
    (
        "category=alerts&order=oldest&after=500",
        "category=alerts&order=oldest&after=500",
        (1,),
    ),
    ("since (the newest 99.5%)", "since=2026-01-01T00:00:05Z", (1, PAGE)),
    ("until (the oldest 5,000)", "until=2026-01-01T00:00:05Z", (1,)),
]


def fill(connection: Any, start: int, stop: int) -> None:
    """Store messages ``start`` to ``stop - 1`` with one ``INSERT ... SELECT``.

    Message ``i`` is in category ``i % 9`` with sequence ``i // 9 + 1``, so filling from 0
    upwards in any steps keeps every category's sequences contiguous. The payload is about
    290 bytes of JSON, as in the machine's baseline measurements.
    """
    from opsmessaging.catalogue import types_in
    from opsmessaging.categories import Category
    from opsmessaging.models import CategorySequence, Message
    from opsmessaging.store import NEW_EPOCH_SQL

    categories = [c.value for c in Category]
    types = [types_in(c)[0] for c in Category]
    table = Message._meta.db_table
    counters = CategorySequence._meta.db_table
    sql = f"""
        INSERT INTO {table} (message_id, category, topic, tag, payload_type, version,
                             node, source_node, originating_node, timestamp, severity,
                             sequence, payload)
        SELECT 'bench_' || i,
               (%(categories)s::text[])[i %% 9 + 1],
               (%(categories)s::text[])[i %% 9 + 1] || '_t' || ((i / 9) %% 10),
               (%(tags)s::text[])[i %% 9 + 1],
               (%(types)s::text[])[i %% 9 + 1],
               1,
               n, n, n,
               TIMESTAMPTZ '2026-01-01 00:00:00+00' + i * INTERVAL '1 millisecond',
               (ARRAY[20, 20, 20, 30, 30, 40, 50])[(i / 9) %% 7 + 1],
               i / 9 + 1,
               jsonb_build_object(
                   'alert_id', 'a' || i, 'severity', 'warning', 'category', 'system',
                   'title', 'benchmark message ' || i, 'description', repeat('x', 120),
                   'source', 'bench', 'node', n, 'metadata', '{{}}'::jsonb,
                   'timestamp', '2026-01-01T00:00:00.000Z')
        FROM generate_series(%(start)s, %(stop)s - 1) AS i,
             LATERAL (SELECT CASE WHEN i %% 3 = 2 THEN 'worker1@bench'
                                  ELSE 'web1@bench' END AS n) AS node_name
    """
    with connection.cursor() as cursor:
        cursor.execute(
            sql,
            {
                "categories": categories,
                "tags": [t.tag for t in types],
                "types": [t.name for t in types],
                "start": start,
                "stop": stop,
            },
        )
        cursor.execute(
            f"INSERT INTO {counters} (category, last_sequence, delivered_sequence, epoch) "
            f"SELECT category, max(sequence), max(sequence), {NEW_EPOCH_SQL} "
            f"FROM {table} GROUP BY category ON CONFLICT (category) DO UPDATE "
            f"SET last_sequence = EXCLUDED.last_sequence, "
            f"delivered_sequence = EXCLUDED.delivered_sequence"
        )


def _vacuum(connection: Any) -> None:
    from opsmessaging.models import Message

    with connection.cursor() as cursor:
        cursor.execute(f"VACUUM ANALYZE {Message._meta.db_table}")


class Client:
    """Calls the list view in-process, as an authenticated superuser."""

    def __init__(self) -> None:
        from django.contrib.auth.models import User
        from rest_framework.test import APIRequestFactory

        from opsmessaging.api.views import MessageViewSet

        self.user, _ = User.objects.get_or_create(
            username="bench", defaults={"is_superuser": True, "is_active": True}
        )
        self.factory = APIRequestFactory()
        self.view = MessageViewSet.as_view({"get": "list"})

    def get(self, params: dict[str, str]) -> dict[str, Any]:
        from rest_framework.test import force_authenticate

        request = self.factory.get(
            "/api/opsmessaging/messages/", params, HTTP_HOST="127.0.0.1"
        )
        force_authenticate(request, user=self.user)
        response = self.view(request)
        response.render()
        assert response.status_code == 200, response.content[:300]
        return json.loads(response.content)


def _params(query: str) -> dict[str, str]:
    return {key: values[-1] for key, values in parse_qs(query).items()}


def _cursor_of_page(client: Client, query: str, page: int) -> dict[str, str] | None:
    params = _params(query)
    for _ in range(page - 1):
        next_url = client.get(params)["next"]
        if next_url is None:
            return None
        params = _params(urlparse(next_url).query)
    return params


def _time(client: Client, params: dict[str, str], repeat: int) -> dict[str, float]:
    for _ in range(max(5, repeat // 10)):
        client.get(params)
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        client.get(params)
        samples.append((time.perf_counter() - started) * 1000)
    cuts = statistics.quantiles(samples, n=100)
    return {"p50_ms": statistics.median(samples), "p95_ms": cuts[94]}


def measure(repeat: int) -> dict[str, dict[str, float]]:
    client = Client()
    results = {}
    for name, query, pages in SCENARIOS:
        for page in pages:
            params = _cursor_of_page(client, query, page)
            if params is None:
                continue
            results[f"{name} | page {page}"] = _time(client, params, repeat)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--small", type=int, default=10_000, help="first table size")
    parser.add_argument("--large", type=int, default=1_000_000, help="second size")
    parser.add_argument("--repeat", type=int, default=200, help="timed calls per query")
    parser.add_argument(
        "--quick", action="store_true", help="100 timed calls per query (bench-quick)"
    )
    parser.add_argument("--json", metavar="FILE", help="also write the figures here")
    args = parser.parse_args()
    if args.quick:
        args.repeat = min(args.repeat, 100)
    url = os.environ.get("BENCH_DATABASE_URL", DEFAULT_URL)
    sys.path.insert(0, str(ROOT))
    from bench import database

    database.setup(url)
    from django.db import connection

    database.reset(connection)
    sizes: dict[int, dict[str, dict[str, float]]] = {}
    filled = 0
    for size in (args.small, args.large):
        started = time.perf_counter()
        fill(connection, filled, size)
        filled = size
        _vacuum(connection)
        print(
            f"filled to {size:,} messages in {time.perf_counter() - started:.1f} s",
            file=sys.stderr,
        )
        sizes[size] = measure(args.repeat)
    small, large = sizes[args.small], sizes[args.large]
    width = max(len(name) for name in large)
    print(
        f"{'query':<{width}}  {'p50 small':>9}  {'p95 small':>9}  "
        f"{'p50 large':>9}  {'p95 large':>9}  {'ratio':>5}"
    )
    report = {}
    for name, figures in large.items():
        if name not in small:
            continue
        ratio = figures["p50_ms"] / small[name]["p50_ms"]
        report[name] = {"small": small[name], "large": figures, "ratio": ratio}
        print(
            f"{name:<{width}}  {small[name]['p50_ms']:>7.2f}ms  "
            f"{small[name]['p95_ms']:>7.2f}ms  {figures['p50_ms']:>7.2f}ms  "
            f"{figures['p95_ms']:>7.2f}ms  {ratio:>5.2f}"
        )
    print(
        f"(small = {args.small:,} messages, large = {args.large:,}; target ratio < 1.5)"
    )
    if args.json:
        figures = headline(report, args.small, args.large)
        Path(args.json).write_text(json.dumps(figures, indent=2) + "\n")
    database.reset(connection)


def _size(count: int) -> str:
    return f"{count // 1_000_000}m" if count % 1_000_000 == 0 else f"{count // 1000}k"


def headline(
    report: dict[str, dict[str, Any]], small: int, large: int
) -> dict[str, Any]:
    """The figures of ``bench/run.py``: the worst filtered first page at both sizes.

    "Filtered first page" is page 1 of every scenario but the unfiltered one; the headline
    takes the highest p95 at each size and the highest p95 ratio of any one scenario, so
    no query shape can hide behind an average.
    """
    from bench.run import figure

    pages = {
        name: item
        for name, item in report.items()
        if name.endswith("| page 1") and not name.startswith("all messages")
    }
    worst_small = max(item["small"]["p95_ms"] for item in pages.values())
    worst_large = max(item["large"]["p95_ms"] for item in pages.values())
    ratios = {
        name: item["large"]["p95_ms"] / item["small"]["p95_ms"]
        for name, item in pages.items()
    }
    worst = max(ratios, key=lambda name: ratios[name])
    s, l_ = _size(small), _size(large)
    return {
        f"history_first_page_p95_ms_{l_}": figure(
            round(worst_large, 2),
            "ms",
            (f"history_first_page_p95_ms_{s}", round(worst_small, 2)),
            detail=f"the slowest of {len(pages)} filtered first pages at {large:,}",
        ),
        f"history_p95_ratio_{l_}_vs_{s}": figure(
            round(ratios[worst], 2),
            "x",
            target="<= 1.5",
            detail=f"the highest of {len(pages)} per-filter ratios: {worst.split(' |')[0]}",
        ),
        "_history_scenarios": {
            "small": small,
            "large": large,
            "p50_ms_and_p95_ms": report,
        },
    }


if __name__ == "__main__":
    main()
