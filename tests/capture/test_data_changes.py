"""Opt-in model audit (DataChange) and data-deletion compliance events."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ImproperlyConfigured
from django.db import DatabaseError, transaction

from opsmessaging import audit_trail
from opsmessaging.exceptions import InvalidMessage
from opsmessaging.models import Message
from tests.capture.support import stored, without_time

pytestmark = pytest.mark.django_db
User = get_user_model()


@pytest.fixture
def audited_users():
    audit_trail.register(User, fields=["email", "is_active"])
    yield
    audit_trail.unregister(User)


@pytest.fixture
def audited_permissions():
    audit_trail.register(Permission, fields=["codename", "content_type"])
    yield
    audit_trail.unregister(Permission)


def test_create_records_the_chosen_fields_after(audited_users):
    user = User.objects.create_user(
        "ann", email="ann@example.com", password="x-Secret-1"
    )
    [message] = stored("DataChange")
    assert (message["category"], message["topic"], message["tag"]) == (
        "audit",
        "data_changes",
        "data_change",
    )
    assert without_time(message["payload"], "node") == {
        "user_id": "system",
        "resource_type": "auth.user",
        "resource_id": str(user.pk),
        "action": "create",
        "changes": {
            "email": {"before": None, "after": "ann@example.com"},
            "is_active": {"before": None, "after": True},
        },
        "metadata": {},
        "source_ip": None,
        "event_type": None,
    }
    assert "x-Secret-1" not in str(message) and "password" not in str(message)


def test_update_records_only_the_changed_chosen_fields(audited_users):
    user = User.objects.create_user("ann", email="ann@example.com")
    user.email = "ann@example.org"
    user.first_name = "Ann"  # not audited
    user.save()
    create, update = stored("DataChange")
    assert update["payload"]["action"] == "update"
    assert update["payload"]["changes"] == {
        "email": {"before": "ann@example.com", "after": "ann@example.org"}
    }


def test_update_of_unaudited_fields_records_nothing(audited_users):
    user = User.objects.create_user("ann", email="ann@example.com")
    user.first_name = "Ann"
    user.save()
    assert [m["payload"]["action"] for m in stored("DataChange")] == ["create"]


def test_delete_records_the_values_before(audited_users):
    user = User.objects.create_user("ann", email="ann@example.com")
    pk = user.pk
    user.delete()
    delete = stored("DataChange")[-1]["payload"]
    assert (delete["action"], delete["resource_id"]) == ("delete", str(pk))
    assert delete["changes"] == {
        "email": {"before": "ann@example.com", "after": None},
        "is_active": {"before": True, "after": None},
    }


def test_foreign_keys_are_recorded_by_id(audited_permissions):
    content_type = ContentType.objects.get_for_model(Group)
    permission = Permission.objects.create(
        codename="audit_group", name="Can audit groups", content_type=content_type
    )
    [message] = stored("DataChange")
    assert message["payload"]["changes"] == {
        "codename": {"before": None, "after": "audit_group"},
        "content_type_id": {"before": None, "after": content_type.pk},
    }
    assert message["payload"]["resource_type"] == "auth.permission"
    assert message["payload"]["resource_id"] == str(permission.pk)


def test_a_change_made_in_an_admin_request_names_the_user_and_source(
    client, audited_users, settings
):
    settings.ROOT_URLCONF = "tests.capture.urls"
    boss = User.objects.create_superuser("boss", "boss@example.com", "pw")
    bob = User.objects.create_user("bob", email="bob@example.com")
    client.force_login(boss)
    response = client.post(
        f"/admin/auth/user/{bob.pk}/change/",
        {
            "username": "bob",
            "email": "robert@example.com",
            "is_active": "on",
            "date_joined_0": bob.date_joined.strftime("%Y-%m-%d"),
            "date_joined_1": bob.date_joined.strftime("%H:%M:%S"),
        },
    )
    assert response.status_code == 302
    update = stored("DataChange", action="update")[-1]["payload"]
    assert update["user_id"] == str(boss.pk)
    assert update["source_ip"] == "127.0.0.1"
    assert update["resource_id"] == str(bob.pk)


def test_a_rolled_back_change_leaves_no_data_change(audited_users):
    with pytest.raises(RuntimeError), transaction.atomic():
        User.objects.create_user("ghost", email="ghost@example.com")
        raise RuntimeError("abort")
    assert stored("DataChange") == []


def test_raw_saves_are_not_recorded(audited_users):
    user = User(username="fixture", email="f@example.com")
    user.save_base(raw=True)
    assert stored("DataChange") == []


def test_capture_data_changes_off_records_nothing(audited_users, settings):
    settings.OPSMESSAGING = {"CAPTURE_DATA_CHANGES": False}
    User.objects.create_user("ann", email="ann@example.com").delete()
    assert Message.objects.count() == 0


def test_unregistered_models_are_not_recorded(audited_users):
    Group.objects.create(name="ops")
    assert stored("DataChange") == []


def test_a_store_failure_never_breaks_the_save(audited_users, monkeypatch):
    def broken(*args, **kwargs):
        raise DatabaseError("the store is down")

    monkeypatch.setattr(Message.objects, "append", broken)
    user = User.objects.create_user("ann", email="ann@example.com")
    assert User.objects.filter(pk=user.pk).exists()


@pytest.mark.parametrize(
    ("fields", "error"),
    [
        (["nope"], "auth.User has no field 'nope'"),
        (["groups"], "auth.User.groups is not a column"),
        ([], "register(auth.User) needs at least one field"),
        ("email", "fields must be a list of field names, not a string"),
    ],
)
def test_register_refuses_bad_fields(fields, error):
    with pytest.raises(ImproperlyConfigured) as raised:
        audit_trail.register(User, fields=fields)
    assert str(raised.value).startswith(error)
    assert audit_trail.registered_fields(User) is None


def test_register_twice_is_refused(audited_users):
    with pytest.raises(ImproperlyConfigured, match="already registered"):
        audit_trail.register(User, fields=["email"])
    assert audit_trail.registered_fields(User) == ("email", "is_active")


def test_unregister_stops_recording(audited_users):
    audit_trail.unregister(User)
    User.objects.create_user("ann")
    assert stored("DataChange") == []
    audit_trail.unregister(User)  # a second time does nothing
    audit_trail.register(
        User, fields=["email"]
    )  # so that the fixture can unregister it


def test_record_data_deletion_stores_a_compliance_event():
    result = audit_trail.record_data_deletion(
        "retention:90d",
        {"category": "metrics", "messages": 1200},
        metadata={"cutoff": "2026-01-01T00:00:00.000Z"},
    )
    assert result.status == "ok"
    [message] = stored("ComplianceEvent")
    assert (message["category"], message["topic"]) == ("audit", "compliance")
    assert without_time(message["payload"], "node") == {
        "event_type": "data_deletion",
        "compliance_rule": "retention:90d",
        "affected_data": {"category": "metrics", "messages": 1200},
        "action_taken": "deleted",
        "user_id": None,
        "automated": True,
        "metadata": {"cutoff": "2026-01-01T00:00:00.000Z"},
    }


def test_record_data_deletion_by_a_person_is_not_automated():
    audit_trail.record_data_deletion(
        "gdpr:erasure", {"user": "42"}, "erased", user_id="7", automated=False
    )
    [message] = stored("ComplianceEvent")
    assert (message["payload"]["user_id"], message["payload"]["automated"]) == (
        "7",
        False,
    )


def test_record_data_deletion_refuses_bad_input_and_stores_nothing():
    with pytest.raises(InvalidMessage) as raised:
        audit_trail.record_data_deletion("", None)
    assert sorted(raised.value.errors) == ["affected_data", "compliance_rule"]
    assert Message.objects.count() == 0
