"""The category permission policy shared by the admin, the API and the WebSocket."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import AnonymousUser, Permission, User

from opsmessaging import permissions, pubsub
from opsmessaging.categories import Category

pytestmark = pytest.mark.django_db

NOT_RESTRICTED = [c for c in Category if c not in (Category.SECURITY, Category.AUDIT)]


def user_with(*codenames: str, staff: bool = False) -> User:
    user = User.objects.create_user(
        f"u{User.objects.count()}", password="pw", is_staff=staff
    )
    user.user_permissions.set(
        Permission.objects.filter(
            content_type__app_label="opsmessaging", codename__in=codenames
        )
    )
    return User.objects.get(pk=user.pk)  # fresh permission cache


def test_anonymous_sees_nothing():
    assert permissions.viewable_categories(AnonymousUser()) == []
    assert permissions.viewable_categories(None) == []
    assert not permissions.can_add_category(AnonymousUser(), "health")


def test_view_message_shows_all_but_security_and_audit():
    user = user_with("view_message")
    assert permissions.viewable_categories(user) == NOT_RESTRICTED


def test_security_needs_its_own_permission_on_top():
    assert permissions.can_view_category(
        user_with("view_message", "view_security_messages"), "security"
    )
    assert not permissions.can_view_category(
        user_with("view_security_messages"), "security"
    )
    assert not permissions.can_view_category(
        user_with("view_message", "view_audit_messages"), "security"
    )


def test_audit_needs_its_own_permission_on_top():
    assert permissions.can_view_category(
        user_with("view_message", "view_audit_messages"), "audit"
    )
    assert not permissions.can_view_category(user_with("view_message"), "audit")


def test_add_permissions_follow_the_same_shape():
    user = user_with("add_message")
    assert permissions.can_add_category(user, "alerts")
    assert not permissions.can_add_category(user, "security")
    assert permissions.can_add_category(
        user_with("add_message", "add_security_messages"), "security"
    )
    assert not permissions.can_view_category(user, "alerts")


def test_superuser_has_every_category():
    admin = User.objects.create_superuser("root", password="pw")
    assert permissions.viewable_categories(admin) == list(Category)
    assert all(permissions.can_add_category(admin, c) for c in Category)


def test_inactive_user_has_nothing():
    user = user_with("view_message")
    user.is_active = False
    assert permissions.viewable_categories(user) == []


def test_filter_viewable_drops_restricted_categories():
    pubsub.broadcast_health_update("c", "healthy")
    pubsub.broadcast_security_event(
        "auth_event", user_id="a", event_type="logout", auth_method="password"
    )
    pubsub.broadcast_audit_event("data_change", "a", "r", "read")
    from opsmessaging.models import Message

    rows = permissions.filter_viewable(Message.objects.all(), user_with("view_message"))
    assert sorted(rows.values_list("category", flat=True)) == ["health"]


def test_admin_never_shows_security_messages_without_the_permission(client):
    pubsub.broadcast_health_update("c", "healthy")
    secret = pubsub.broadcast_security_event(
        "auth_event",
        user_id="alice",
        event_type="login_failure",
        auth_method="password",
    ).message
    client.force_login(user_with("view_message", staff=True))
    listing = client.get("/admin/opsmessaging/message/")
    assert listing.status_code == 200
    assert "component_health" in listing.content.decode()
    assert "auth_events" not in listing.content.decode()
    assert (
        client.get("/admin/opsmessaging/message/?category=security")
        .context["cl"]
        .result_count
        == 0
    )
    assert (
        client.get(f"/admin/opsmessaging/message/{secret.pk}/change/").status_code
        == 302
    )
