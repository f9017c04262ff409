from __future__ import annotations

import time

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from opsmessaging.catalogue import all_types
from opsmessaging.categories import Category

ROWS = 300_000
BULK = """
INSERT INTO opsmessaging_message (message_id, category, topic, tag, payload_type, version,
  node, source_node, originating_node, timestamp, severity, sequence, payload)
SELECT 'bulk-' || g, (%(categories)s::text[])[g %% 9 + 1], 'topic_' || ((g / 9) %% 20), 'bulk',
  (%(types)s::text[])[(g %% 9) * 4 + (g / 9) %% 4 + 1], 1,
  'node' || (g %% 50) || '@host', 'node' || (g %% 50) || '@host', 'node' || (g %% 50) || '@host',
  now() - (%(rows)s - g) * interval '1 second',
  (ARRAY[NULL, 10, 20, 30, 40, 50]::smallint[])[(g / 7) %% 6 + 1],
  g / 9 + 1, jsonb_build_object('n', g)
FROM generate_series(1, %(rows)s) AS g
"""


@pytest.mark.postgres
@pytest.mark.django_db
def test_explore(admin_client):
    cats = list(Category.values)
    types = [t.name for c in Category for t in all_types() if t.category == c]
    t0 = time.monotonic()
    with connection.cursor() as cursor:
        cursor.execute(BULK, {"categories": cats, "types": types, "rows": ROWS})
        cursor.execute("ANALYZE opsmessaging_message")
    print("insert", time.monotonic() - t0)
    for qs in [
        "",
        "category=health",
        "node=node7@host",
        "severity=30",
        "payload_type=ComponentHealth",
        "category=health&topic=topic_3",
        "topic=topic_3",
        "within=1h",
        "q=topic_3",
        "q=node7@host",
        "q=bulk-77",
        "o=0",
        "o=1",
        "o=2",
        "o=3",
        "o=-1",
        "o=5",
        "o=6",
        "category=health&severity=40",
        "node=node7@host&severity=50",
    ]:
        t0 = time.monotonic()
        with CaptureQueriesContext(connection) as ctx:
            r = admin_client.get("/admin/opsmessaging/message/?" + qs)
        el = time.monotonic() - t0
        print("=====", qs, r.status_code, f"{el * 1000:.0f}ms")
        for q in ctx.captured_queries:
            if "opsmessaging_message" not in q["sql"]:
                continue
            with connection.cursor() as cursor:
                cursor.execute("EXPLAIN (ANALYZE, COSTS OFF) " + q["sql"])
                print("  ", q["sql"][:60], "...", q["sql"][-150:])
                for (line,) in cursor.fetchall():
                    print("      ", line)
