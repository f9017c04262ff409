"""Each filter of ``GET messages/``, and the 400 of each bad value."""

from __future__ import annotations

import pytest

from opsmessaging import pubsub
from tests.api.conftest import NODE, URL, alert, health, minutes

pytestmark = pytest.mark.django_db


def ids(client, query: str) -> list[int]:
    response = client.get(f"{URL}messages/?{query}")
    assert response.status_code == 200, response.json()
    return [message["id"] for message in response.json()["results"]]


def test_category_filter(reader):
    one = alert("one")
    health()
    assert ids(reader, "category=alerts") == [one.id]


def test_topic_filter_is_exact(reader):
    alert("one", alert_type="node_failure")
    disk = alert("two", alert_type="disk_full")
    assert ids(reader, "topic=disk_full") == [disk.id]
    assert ids(reader, "topic=disk") == []


def test_tag_filter(reader):
    one = alert("one")
    health()
    assert ids(reader, "tag=system_alert") == [one.id]


def test_payload_type_filter(reader):
    alert("one")
    status = health()
    assert ids(reader, "payload_type=ComponentHealth") == [status.id]


def test_node_filter_matches_any_of_the_three_node_fields(reader):
    by_node = alert("one", node="db1@app-2")
    from_elsewhere = pubsub.broadcast_health_update(
        "x", "healthy", source_node="db1@app-2", node=NODE
    ).message
    about_other = pubsub.broadcast_health_update(
        "y", "healthy", originating_node="db1@app-2", node=NODE
    ).message
    alert("two")
    assert ids(reader, "node=db1@app-2") == [
        about_other.id,
        from_elsewhere.id,
        by_node.id,
    ]


def test_node_filter_on_one_named_field(reader):
    alert("one", node="db1@app-2")
    from_elsewhere = pubsub.broadcast_health_update(
        "x", "healthy", source_node="db1@app-2", node=NODE
    ).message
    assert ids(reader, "node=db1@app-2&node_field=source_node") == [from_elsewhere.id]


def test_severity_filter_is_exact(reader):
    alert("one", severity="critical")
    warning = alert("two", severity="warning")
    health()
    assert ids(reader, "severity=warning") == [warning.id]


def test_min_severity_filter_includes_higher_ones(reader):
    alert("info", severity="info")
    warning = alert("warning", severity="warning")
    critical = alert("critical", severity="critical")
    health()  # no severity: never matches
    assert ids(reader, "min_severity=warning") == [critical.id, warning.id]


def test_since_is_inclusive_and_until_exclusive(reader):
    early = alert("early", at=minutes(0))
    middle = alert("middle", at=minutes(5))
    alert("late", at=minutes(10))
    assert ids(reader, "since=2026-01-02T03:09:05.678Z") == [
        ids(reader, "")[0],
        middle.id,
    ]
    assert ids(reader, "until=2026-01-02T03:09:05.678Z") == [early.id]
    assert ids(
        reader, "since=2026-01-02T03:04:05.678Z&until=2026-01-02T03:14:05.678Z"
    ) == [middle.id, early.id]


def test_since_accepts_an_offset(reader):
    alert("early", at=minutes(0))
    late = alert("late", at=minutes(10))
    assert ids(reader, "since=2026-01-02T04:10:00%2B01:00") == [late.id]


def test_after_catches_up_in_a_category_oldest_first(reader):
    messages = [alert(f"n{i}") for i in range(5)]
    health()
    assert ids(reader, "category=alerts&after=2&order=oldest") == [
        m.id for m in messages[2:]
    ]


def test_filters_combine(reader):
    alert("one", severity="critical", node="db1@app-2")
    match = alert("two", severity="critical")
    alert("three", severity="info")
    query = f"category=alerts&min_severity=error&node={NODE}&node_field=node"
    assert ids(reader, query) == [match.id]


@pytest.mark.parametrize(
    ("query", "errors"),
    [
        ("category=events", {"category": ['"events" is not a valid choice.']}),
        ("tag=nope", {"tag": ['"nope" is not a valid choice.']}),
        ("payload_type=Nope", {"payload_type": ['"Nope" is not a valid choice.']}),
        ("severity=fatal", {"severity": ['"fatal" is not a valid choice.']}),
        ("min_severity=5", {"min_severity": ['"5" is not a valid choice.']}),
        ("node_field=host", {"node_field": ['"host" is not a valid choice.']}),
        ("order=random", {"order": ['"random" is not a valid choice.']}),
        (
            "since=yesterday",
            {
                "since": [
                    "Datetime has wrong format. Use one of these formats instead: "
                    "YYYY-MM-DDThh:mm[:ss[.uuuuuu]][+HH:MM|-HH:MM|Z]."
                ]
            },
        ),
        ("after=-1", {"after": ["Ensure this value is greater than or equal to 0."]}),
        (
            "after=3",
            {"after": ["Give a category too: sequences number each category."]},
        ),
        ("limit=0", {"limit": ["Ensure this value is greater than or equal to 1."]}),
        ("limit=1001", {"limit": ["Ensure this value is less than or equal to 1000."]}),
        ("limit=ten", {"limit": ["A valid integer is required."]}),
        (
            "topic=" + "t" * 201,
            {"topic": ["Ensure this field has no more than 200 characters."]},
        ),
    ],
)
def test_a_bad_filter_value_is_a_400_naming_it(reader, query, errors):
    response = reader.get(f"{URL}messages/?{query}")
    assert response.status_code == 400
    assert response.json() == errors


def test_unknown_parameters_are_ignored(reader):
    one = alert("one")
    assert ids(reader, "colour=red") == [one.id]


def test_a_blank_parameter_is_a_400_not_an_absent_one(reader):
    response = reader.get(URL + "messages/?until=&topic=")
    assert response.status_code == 400
    assert response.json() == {
        "topic": ["May not be blank: leave the parameter out instead."],
        "until": ["May not be blank: leave the parameter out instead."],
    }


def test_a_topic_or_node_no_message_can_have_is_a_400(reader):
    response = reader.get(URL + "messages/", {"topic": "a b", "node": "x\x00"})
    assert response.status_code == 400
    assert response.json() == {
        "topic": ["Not a topic: no message has it."],
        "node": [
            "Not a node name: no message has it.",
            "Null characters are not allowed.",
        ],
    }
