"""Every admin LogEntry becomes an AdminAction, through the real admin views."""

from __future__ import annotations

import json

import pytest
from django.contrib.admin.models import ADDITION, CHANGE, DELETION, LogEntry
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.contrib.contenttypes.models import ContentType

from opsmessaging.capture.admin import admin_action_type, changed_field_names
from opsmessaging.models import Message, Node
from tests.capture.support import stored, without_time

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.capture.urls")]
User = get_user_model()


@pytest.fixture
def boss(client):
    user = User.objects.create_superuser("boss", "boss@example.com", "boss-pw-123")
    client.force_login(user)
    Message.objects.all().delete()  # the login's own messages
    return user


def change_user(client, user, **changes):
    data = {
        "username": user.username,
        "first_name": user.first_name,
        "last_name": user.last_name,
        "email": user.email,
        "is_active": "on",
        "date_joined_0": user.date_joined.strftime("%Y-%m-%d"),
        "date_joined_1": user.date_joined.strftime("%H:%M:%S"),
        "initial-date_joined_0": user.date_joined.strftime("%Y-%m-%d"),
        "initial-date_joined_1": user.date_joined.strftime("%H:%M:%S"),
        "last_login_0": "",
        "last_login_1": "",
        **changes,
    }
    data = {k: v for k, v in data.items() if v is not None}
    response = client.post(f"/admin/auth/user/{user.pk}/change/", data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    return response


def test_admin_edit_of_a_user_stores_an_admin_action_with_the_changed_fields(
    client, boss
):
    bob = User.objects.create_user("bob")
    change_user(client, bob, first_name="Robert", email="bob@example.com")
    [message] = stored("AdminAction")
    assert (message["category"], message["topic"], message["tag"]) == (
        "audit",
        "admin_actions",
        "admin_action",
    )
    entry = LogEntry.objects.get()
    assert without_time(message["payload"], "node") == {
        "admin_user_id": str(boss.pk),
        "action_type": "object_updated",
        "target_resource": f"auth.user:{bob.pk}",
        "details": {
            "action": "change",
            "object_type": "auth.user",
            "object_id": str(bob.pk),
            "object_repr": "bob",
            "changed_fields": ["first_name", "email"],
            "change_message": "Changed First name and Email address.",
            "log_entry_id": entry.pk,
        },
        "justification": None,
        "source_ip": "127.0.0.1",
    }


def test_admin_giving_staff_status_is_permissions_changed(client, boss):
    bob = User.objects.create_user("bob")
    change_user(client, bob, is_staff="on")
    [message] = stored("AdminAction")
    assert message["payload"]["action_type"] == "permissions_changed"
    assert message["payload"]["details"]["changed_fields"] == ["is_staff"]


def test_admin_adding_a_user_is_user_created_without_the_password(client, boss):
    response = client.post(
        "/admin/auth/user/add/",
        {
            "username": "carol",
            "usable_password": "true",
            "password1": "Carol-initial-pw-77",
            "password2": "Carol-initial-pw-77",
        },
    )
    assert response.status_code == 302
    carol = User.objects.get(username="carol")
    [message] = stored("AdminAction")
    assert message["payload"]["action_type"] == "user_created"
    assert message["payload"]["target_resource"] == f"auth.user:{carol.pk}"
    assert message["payload"]["details"]["action"] == "add"
    assert "Carol-initial-pw-77" not in json.dumps(message)


def test_admin_deleting_a_user_is_user_deleted(client, boss):
    bob = User.objects.create_user("bob")
    response = client.post(f"/admin/auth/user/{bob.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302
    [message] = stored("AdminAction")
    assert message["payload"]["action_type"] == "user_deleted"
    assert message["payload"]["details"]["object_repr"] == "bob"
    assert message["payload"]["details"]["action"] == "delete"


def test_admin_adding_a_group_is_permissions_changed(client, boss):
    response = client.post("/admin/auth/group/add/", {"name": "operators"})
    assert response.status_code == 302
    group = Group.objects.get(name="operators")
    [message] = stored("AdminAction")
    assert message["payload"]["action_type"] == "permissions_changed"
    assert message["payload"]["target_resource"] == f"auth.group:{group.pk}"
    assert message["payload"]["details"]["changed_fields"] == []


def test_log_entry_of_any_other_object_is_an_object_action(boss):
    node = Node.objects.create(name="web9@host")
    for flag in (ADDITION, CHANGE, DELETION):
        LogEntry.objects.log_actions(
            boss.pk,
            [node],
            flag,
            change_message=[{"changed": {"fields": ["Status"]}}]
            if flag == CHANGE
            else "",
            single_object=True,
        )
    messages = stored("AdminAction")
    assert [m["payload"]["action_type"] for m in messages] == [
        "object_created",
        "object_updated",
        "object_deleted",
    ]
    assert messages[1]["payload"]["details"]["changed_fields"] == ["status"]
    assert {m["payload"]["target_resource"] for m in messages} == {
        f"opsmessaging.node:{node.pk}"
    }
    assert {m["payload"]["source_ip"] for m in messages} == {None}  # no request


def test_capture_admin_off_stores_nothing(client, boss, settings):
    settings.OPSMESSAGING = {"CAPTURE_ADMIN": False}
    client.post("/admin/auth/group/add/", {"name": "operators"})
    assert LogEntry.objects.count() == 1
    assert Message.objects.count() == 0


def test_changed_field_names_maps_labels_and_skips_inlines():
    message = json.dumps(
        [
            {"changed": {"fields": ["First name", "Unknown label"]}},
            {"changed": {"name": "choice", "object": "x", "fields": ["Votes"]}},
            {"added": {}},
        ]
    )
    assert changed_field_names(User, message) == ["first_name", "Unknown label"]
    assert changed_field_names(User, "Changed something.") == []
    assert changed_field_names(None, message) == ["First name", "Unknown label"]


@pytest.mark.parametrize(
    ("model", "action", "fields", "expected"),
    [
        ("user", "add", [], "user_created"),
        ("user", "delete", [], "user_deleted"),
        ("user", "change", ["groups"], "permissions_changed"),
        ("user", "change", ["user_permissions"], "permissions_changed"),
        ("user", "change", ["is_superuser"], "permissions_changed"),
        ("user", "change", ["email"], "object_updated"),
        ("group", "change", ["name"], "permissions_changed"),
        ("permission", "delete", [], "permissions_changed"),
        ("node", "add", [], "object_created"),
        (None, "delete", [], "object_deleted"),
    ],
)
def test_admin_action_type(model, action, fields, expected):
    models = {"user": User, "group": Group, "permission": Permission, "node": Node}
    assert admin_action_type(models.get(model), action, fields) == expected


def test_log_entry_of_a_stale_content_type_is_still_recorded(boss):
    stale = ContentType.objects.create(app_label="gone", model="thing")
    LogEntry.objects.create(
        user=boss,
        content_type=stale,
        object_id="7",
        object_repr="thing 7",
        action_flag=DELETION,
    )
    [message] = stored("AdminAction")
    assert message["payload"]["action_type"] == "object_deleted"
    assert message["payload"]["target_resource"] == "gone.thing:7"
