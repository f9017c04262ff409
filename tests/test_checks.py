"""System checks of the OPSMESSAGING settings."""

from __future__ import annotations

import warnings

import pytest
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from django.test import override_settings

from opsmessaging.checks import check_deployment, check_settings


def ids(settings_value: object) -> list[str]:
    with override_settings(OPSMESSAGING=settings_value):
        return [message.id for message in check_settings()]


def test_defaults_are_clean():
    assert ids({}) == []


def test_demo_settings_are_clean():
    call_command("check", "--fail-level", "WARNING")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("yes", ["opsmessaging.E001"]),
        ({"PUBSUB_INTEGRATION": "true"}, ["opsmessaging.E002"]),
        ({"HEALTH_BROADCAST_INTERVAL": 0}, ["opsmessaging.E003"]),
        ({"METRICS_BROADCAST_INTERVAL": "60000"}, ["opsmessaging.E003"]),
        ({"HEALTH_BROADCAST_INTERVAL": True}, ["opsmessaging.E003"]),
        ({"NODE_NAME": "my node"}, ["opsmessaging.E004"]),
        ({"NODE_NAME": ""}, ["opsmessaging.E004"]),
        ({"MAX_PAYLOAD_BYTES": -1}, ["opsmessaging.E005"]),
        ({"NODE_TYPE": ""}, ["opsmessaging.E006"]),
        ({"HEALTH_INTERVAL": 5}, ["opsmessaging.W001"]),
    ],
)
def test_bad_values_are_reported_with_ids(value, expected):
    assert ids(value) == expected


def test_unknown_key_hint_suggests_the_close_match():
    with override_settings(OPSMESSAGING={"NODE_NAM": "x"}):
        [warning] = check_settings()
    assert warning.hint == "Did you mean 'NODE_NAME'?"


def test_bad_interval_hint_gives_the_default():
    with override_settings(OPSMESSAGING={"HEALTH_BROADCAST_INTERVAL": -5}):
        [error] = check_settings()
    assert error.hint == "The default is 30000 (30 seconds)."


def test_manage_py_check_fails_on_a_bad_value():
    with (
        override_settings(OPSMESSAGING={"NODE_NAME": "bad name"}),
        pytest.raises(SystemCheckError) as error,
    ):
        call_command("check")
    assert "opsmessaging.E004" in str(error.value)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ({"FANOUT_TIMEOUT": 0}, ["opsmessaging.E007"]),
        ({"WS_BUFFER_SIZE": "10"}, ["opsmessaging.E007"]),
        ({"WS_POLL_INTERVAL": -1}, ["opsmessaging.E008"]),
        ({"WS_POLL_INTERVAL": 0}, []),
        ({"WS_POLL_INTERVAL": True}, ["opsmessaging.E008"]),
    ],
)
def test_delivery_settings_are_checked(value, expected):
    assert ids(value) == expected


# --- automatic capture settings (opsmessaging.E101-E106) ------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ({"CAPTURE_AUTH": "yes"}, ["opsmessaging.E101"]),
        ({"CAPTURE_LOGGING": 1}, ["opsmessaging.E101"]),
        ({"CAPTURE_FAILURES": None}, ["opsmessaging.E101"]),
        ({"BRUTE_FORCE_THRESHOLD": 0}, ["opsmessaging.E102"]),
        ({"BRUTE_FORCE_WINDOW": "300000"}, ["opsmessaging.E102"]),
        ({"LOG_RATE_LIMIT": True}, ["opsmessaging.E102"]),
        ({"ERROR_AGGREGATION_WINDOW": -1}, ["opsmessaging.E102"]),
        ({"ERROR_ALERT_THRESHOLD": 2.5}, ["opsmessaging.E102"]),
        ({"LOG_CAPTURE_LEVEL": "LOUD"}, ["opsmessaging.E103"]),
        ({"LOG_CAPTURE_LEVEL": -10}, ["opsmessaging.E103"]),
        ({"SYSTEM_NAME": "my shop"}, ["opsmessaging.E104"]),
        ({"SYSTEM_NAME": "shop@host"}, ["opsmessaging.E104"]),
        ({"SYSTEM_VERSION": ""}, ["opsmessaging.E105"]),
        ({"SYSTEM_VERSION": 2}, ["opsmessaging.E105"]),
        ({"ACCESS_VIOLATION_WINDOW": -1}, ["opsmessaging.E106"]),
        ({"ACCESS_VIOLATION_WINDOW": "60000"}, ["opsmessaging.E106"]),
        ({"ACCESS_VIOLATION_WINDOW": 0}, []),
        ({"CAPTURE_ADMIN": False, "LOG_CAPTURE_LEVEL": "error"}, []),
        ({"LOG_CAPTURE_LEVEL": 25, "SYSTEM_NAME": "shop", "SYSTEM_VERSION": "1.2"}, []),
    ],
)
def test_bad_capture_values_are_reported_with_ids(value, expected):
    assert ids(value) == expected


def test_bad_capture_count_hint_gives_the_default():
    with override_settings(OPSMESSAGING={"BRUTE_FORCE_WINDOW": 0}):
        [error] = check_settings()
    assert error.msg == (
        "OPSMESSAGING['BRUTE_FORCE_WINDOW'] must be a positive integer (milliseconds), not 0."
    )
    assert error.hint == "The default is 300000."


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ({"SIGNING_KEYS": [{"id": "k1", "secret": "s"}]}, []),
        ({"SIGNING_KEYS": [{"id": "k1"}]}, ["opsmessaging.E009"]),
        ({"SIGNING_KEYS": "secret"}, ["opsmessaging.E009"]),
        (
            {"SIGNING_KEYS": [{"id": "k1", "secret": "s", "verify_only": True}]},
            ["opsmessaging.E009"],
        ),
        (
            {"SIGNING_KEYS": [{"id": "k1", "secret": "s", "verify_only": "yes"}]},
            ["opsmessaging.E009"],
        ),
        (
            {
                "SIGNING_KEYS": [
                    {"id": "k2", "secret": "s2", "verify_only": True},
                    {"id": "k1", "secret": "s1"},
                ]
            },
            [],
        ),
        ({"ENCRYPTION_KEYS": ["not a fernet key"]}, ["opsmessaging.E010"]),
        ({"ENCRYPTION_KEYS": "x"}, ["opsmessaging.E010"]),
        ({"ENCRYPTED_CATEGORIES": ["security", "events"]}, ["opsmessaging.E011"]),
        ({"COMPRESS_MIN_BYTES": -1}, ["opsmessaging.E012"]),
        ({"COMPRESS_MIN_BYTES": 0}, []),
    ],
)
def test_integrity_settings_are_checked(value, expected):
    assert ids(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ({"HEARTBEAT_INTERVAL": 0}, ["opsmessaging.E201"]),
        ({"NODE_FAILURE_THRESHOLD": "3"}, ["opsmessaging.E201"]),
        ({"HEALTH_PROBE_TIMEOUT": -1}, ["opsmessaging.E201"]),
        ({"RETENTION_BATCH_SIZE": 0}, ["opsmessaging.E201"]),
        ({"RETENTION_DAYS": [7]}, ["opsmessaging.E202"]),
        ({"RETENTION_DAYS": {"events": 7}}, ["opsmessaging.E202"]),
        ({"RETENTION_DAYS": {"metrics": 0}}, ["opsmessaging.E202"]),
        ({"RETENTION_DAYS": {"metrics": True}}, ["opsmessaging.E202"]),
        ({"RETENTION_DAYS": {"metrics": 0.5, "audit": None}}, []),
    ],
)
def test_bad_schedule_values_are_reported_with_ids(value, expected):
    assert ids(value) == [] and [m.id for m in _schedule_checks(value)] == expected


def _schedule_checks(value: object) -> list:
    from opsmessaging.checks import check_schedule_settings

    with override_settings(OPSMESSAGING=value):
        return check_schedule_settings()


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ({"OPEN_ALERTS_SCAN": 0}, ["opsmessaging.E601"]),
        ({"OPEN_ALERTS_SCAN": "1000"}, ["opsmessaging.E601"]),
        ({"OPEN_ALERTS_SCAN": True}, ["opsmessaging.E601"]),
        ({"OPEN_ALERTS_SCAN": 50}, []),
    ],
)
def test_open_alerts_scan_must_be_a_positive_integer(value, expected):
    assert ids(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ({"WS_MAX_SUBSCRIPTIONS": 0}, ["opsmessaging.E711"]),
        ({"WS_MAX_CONNECTIONS_PER_USER": "20"}, ["opsmessaging.E711"]),
        ({"TIMESTAMP_MAX_AHEAD": -1}, ["opsmessaging.E711"]),
        ({"TIMESTAMP_MAX_AGE": 0}, ["opsmessaging.E711"]),
        ({"TIMESTAMP_MAX_AGE": None}, []),
        ({"WS_ACCESS_CHECK_INTERVAL": -5}, ["opsmessaging.E712"]),
        ({"WS_ACCESS_CHECK_INTERVAL": False}, ["opsmessaging.E712"]),
        ({"COMPATIBILITY_CACHE_TTL": 0}, []),
        ({"COMPATIBILITY_CACHE_TTL": 1.5}, ["opsmessaging.E712"]),
        ({"COMPATIBILITY_THROTTLE_RATE": "lots"}, ["opsmessaging.E713"]),
        ({"COMPATIBILITY_THROTTLE_RATE": None}, []),
        (
            {
                "WS_MAX_SUBSCRIPTIONS": 10,
                "WS_MAX_CONNECTIONS_PER_USER": 5,
                "WS_ACCESS_CHECK_INTERVAL": 0,
                "TIMESTAMP_MAX_AHEAD": 60_000,
                "COMPATIBILITY_THROTTLE_RATE": "10/second",
            },
            [],
        ),
    ],
)
def test_the_security_settings_are_checked(value, expected):
    assert ids(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ({"NODE_NAME": "{role}@{host}"}, []),
        ({"NODE_NAME": "{role}-{pid}@{host}"}, []),
        ({"NODE_NAME": "shop-{role}"}, []),
        ({"NODE_NAME": "{rol}@{host}"}, ["opsmessaging.E004"]),
        ({"NODE_NAME": "{role}@{"}, ["opsmessaging.E004"]),
        ({"NODE_NAME": 7}, ["opsmessaging.E004"]),
        ({"NODE_NAME": "web1@app-3"}, ["opsmessaging.W002"]),
    ],
)
def test_node_name_templates_are_checked(value, expected):
    assert ids(value) == expected


def deployment_ids(**overrides: object) -> list[str]:
    with warnings.catch_warnings(), override_settings(**overrides):
        warnings.simplefilter("ignore")  # overriding DATABASES: only read here
        return [message.id for message in check_deployment()]


SQLITE = {"ENGINE": "django.db.backends.sqlite3", "NAME": "db.sqlite3"}
IN_MEMORY = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
REDIS_LAYER = {"default": {"BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer"}}
BROKER = "redis://127.0.0.1:6379/0"


def test_channels_without_channel_layers_is_reported():
    assert deployment_ids(CHANNEL_LAYERS={}) == ["opsmessaging.W501"]


def test_the_in_memory_layer_with_a_worker_is_reported():
    assert deployment_ids(CHANNEL_LAYERS=IN_MEMORY, CELERY_BROKER_URL=BROKER) == [
        "opsmessaging.W502"
    ]


def test_the_in_memory_layer_of_one_process_is_fine():
    assert deployment_ids(CHANNEL_LAYERS=IN_MEMORY, CELERY_BROKER_URL="memory://") == []


def test_bare_sqlite_with_a_worker_is_reported():
    assert deployment_ids(
        CHANNEL_LAYERS=REDIS_LAYER,
        CELERY_BROKER_URL=BROKER,
        DATABASES={"default": SQLITE},
    ) == ["opsmessaging.W503"]


@pytest.mark.parametrize(
    "options",
    [
        {"transaction_mode": "IMMEDIATE", "timeout": 20},
        {"init_command": "PRAGMA journal_mode=WAL;", "timeout": 20},
    ],
)
def test_sqlite_that_queues_its_writers_is_fine_with_a_worker(options):
    assert (
        deployment_ids(
            CHANNEL_LAYERS=REDIS_LAYER,
            CELERY_BROKER_URL=BROKER,
            DATABASES={"default": {**SQLITE, "OPTIONS": options}},
        )
        == []
    )
