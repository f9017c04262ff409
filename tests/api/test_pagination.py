"""Keyset pagination: pages, links, stability under new messages, bad cursors."""

from __future__ import annotations

import base64
from urllib.parse import quote, unquote

import pytest
from django.db import connection
from django.test import override_settings
from rest_framework.request import Request
from rest_framework.test import APIRequestFactory

from opsmessaging.api.pagination import MessageCursorPagination
from opsmessaging.models import Message
from tests.api.conftest import URL, alert

pytestmark = pytest.mark.django_db


def page(client, url: str) -> tuple[list[int], str | None, str | None]:
    response = client.get(url)
    assert response.status_code == 200, response.json()
    body = response.json()
    return [m["id"] for m in body["results"]], body["next"], body["previous"]


def cursor(position: int, reverse: bool = False) -> str:
    """The cursor of a link, as it appears in the URL."""
    token = f"r=1&p={position}" if reverse else f"p={position}"
    return quote(base64.b64encode(token.encode()).decode(), safe="")


def test_pages_walk_the_history_newest_first(reader):
    made = [alert(f"n{i}").id for i in range(5)]
    first, next_url, previous = page(reader, URL + "messages/?limit=2")
    assert (first, previous) == (made[4:2:-1], None)
    assert (
        next_url == f"http://testserver{URL}messages/?cursor={cursor(made[3])}&limit=2"
    )
    second, next_url, previous = page(reader, next_url)
    assert second == [made[2], made[1]]
    assert previous == (
        f"http://testserver{URL}messages/?cursor={cursor(made[2], reverse=True)}&limit=2"
    )
    third, last_next, _ = page(reader, next_url)
    assert (third, last_next) == ([made[0]], None)
    back, _, _ = page(reader, previous)
    assert back == first


def test_a_new_message_does_not_shift_the_pages_being_walked(reader):
    made = [alert(f"n{i}").id for i in range(4)]
    _, next_url, _ = page(reader, URL + "messages/?limit=2")
    alert("newer")
    second, _, _ = page(reader, next_url)
    assert second == [made[1], made[0]]


def test_oldest_first_walks_forwards(reader):
    made = [alert(f"n{i}").id for i in range(3)]
    first, next_url, _ = page(reader, URL + "messages/?limit=2&order=oldest")
    assert first == made[:2]
    assert page(reader, next_url)[0] == [made[2]]


def test_links_are_also_in_the_link_header(reader):
    made = [alert(f"n{i}").id for i in range(3)]
    response = reader.get(URL + "messages/?limit=1&cursor=" + cursor(made[2]))
    base = f"http://testserver{URL}messages/?cursor="
    assert response["Link"] == (
        f'<{base}{cursor(made[1])}&limit=1>; rel="next", '
        f'<{base}{cursor(made[1], reverse=True)}&limit=1>; rel="prev"'
    )


def test_a_single_page_has_no_link_header(reader):
    alert("one")
    assert "Link" not in reader.get(URL + "messages/")


def test_the_default_page_size_comes_from_the_settings(reader):
    for i in range(3):
        alert(f"n{i}")
    with override_settings(OPSMESSAGING={"API_PAGE_SIZE": 2}):
        ids, next_url, _ = page(reader, URL + "messages/")
    assert len(ids) == 2
    assert next_url is not None


@pytest.mark.parametrize(
    "value",
    [
        "not base64!",
        base64.b64encode(b"p=abc").decode(),
        base64.b64encode(b"p=-1").decode(),
        base64.b64encode(b"p=99999999999999999999").decode(),
        base64.b64encode(b"o=x").decode(),
    ],
)
def test_a_bad_cursor_is_404(reader, value):
    response = reader.get(URL + "messages/", {"cursor": value})
    assert response.status_code == 404
    assert response.json() == {
        "detail": "Invalid cursor: use a `next` or `previous` link as given."
    }


def test_a_page_is_one_query_of_limit_plus_one_rows(django_assert_num_queries):
    made = [alert(f"n{i}").id for i in range(4)]
    paginator = MessageCursorPagination()
    with django_assert_num_queries(1) as captured:
        request = Request(
            APIRequestFactory().get(
                "/", {"limit": 2, "cursor": unquote(cursor(made[2]))}
            )
        )
        rows = paginator.paginate_queryset(Message.objects.all(), request)
    assert [m.id for m in rows] == [made[1], made[0]]
    sql = captured.captured_queries[0]["sql"]
    quoted = connection.ops.quote_name("id")
    assert f"{quoted} < {made[2]}" in sql.replace('"opsmessaging_message".', "")
    assert sql.endswith("LIMIT 3")


def test_a_category_is_paged_by_its_sequence(reader):
    made = [alert(f"n{i}") for i in range(3)]
    response = reader.get(URL + "messages/?category=alerts&limit=2")
    body = response.json()
    assert [m["sequence"] for m in body["results"]] == [3, 2]
    assert body["next"] == (
        f"http://testserver{URL}messages/?category=alerts&cursor={cursor(2)}&limit=2"
    )
    assert [m["id"] for m in reader.get(body["next"]).json()["results"]] == [made[0].id]


# --- the plans PostgreSQL chooses, on a table large enough for the planner to care -------


def explain(client, query: str) -> str:
    """Return PostgreSQL's plan of the history query that ``GET messages/?query`` runs."""
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as captured:
        assert client.get(f"{URL}messages/?{query}").status_code == 200
    sql = [
        q["sql"]
        for q in captured.captured_queries
        if "opsmessaging_message" in q["sql"]
    ]
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN " + sql[-1])
        return "\n".join(row[0] for row in cursor.fetchall())


@pytest.fixture
def large_history():
    from bench.history import fill

    fill(connection, 0, 100_000)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE opsmessaging_message")


@pytest.mark.postgres
@pytest.mark.parametrize(
    ("query", "index", "condition"),
    [
        ("", "opsmessaging_message_pkey", "(id < 99000)"),
        ("category=alerts", "opsmsg_category_sequence", "(sequence < 9000)"),
        (
            "category=alerts&topic=alerts_t3",
            "opsmsg_topic_seq",
            "(sequence < 9000)",
        ),
    ],
)
def test_a_deep_page_is_an_index_range_scan_without_a_sort(
    admin, large_history, query, index, condition
):
    plan = explain(
        admin, f"{query}&cursor={unquote(cursor(99000 if not query else 9000))}"
    )
    assert f"Index Scan Backward using {index}" in plan
    assert condition in plan
    assert "Sort" not in plan
    assert "Seq Scan" not in plan


@pytest.mark.postgres
def test_catching_up_after_a_sequence_is_an_index_range_scan(admin, large_history):
    plan = explain(admin, "category=alerts&after=5000&order=oldest")
    assert "Index Scan using opsmsg_category_sequence" in plan
    assert "(sequence > 5000)" in plan
    assert "Sort" not in plan
