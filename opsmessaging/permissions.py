"""Who may see and broadcast which category: the one policy for admin, API and WebSocket.

Seeing a category needs ``opsmessaging.view_message``; ``security`` and ``audit`` also need
their own permission. Broadcasting needs ``opsmessaging.add_message``, plus the category's
own permission for ``security`` and ``audit``. Superusers have every permission.
"""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from opsmessaging.categories import Category, parse_category

VIEW_PERMISSION = "opsmessaging.view_message"
ADD_PERMISSION = "opsmessaging.add_message"

#: Categories that need a permission of their own, on top of the general one.
EXTRA_VIEW_PERMISSIONS = {
    Category.SECURITY: "opsmessaging.view_security_messages",
    Category.AUDIT: "opsmessaging.view_audit_messages",
}
EXTRA_ADD_PERMISSIONS = {
    Category.SECURITY: "opsmessaging.add_security_messages",
    Category.AUDIT: "opsmessaging.add_audit_messages",
}


def _allowed(
    user: Any, general: str, extra: dict[Category, str], category: Category
) -> bool:
    if user is None or not getattr(user, "is_authenticated", False):
        return False
    if not getattr(user, "is_active", False) or not user.has_perm(general):
        return False
    needed = extra.get(category)
    return needed is None or bool(user.has_perm(needed))


def can_view_category(user: Any, category: Category | str) -> bool:
    """Tell whether ``user`` may see messages of ``category``."""
    return _allowed(
        user, VIEW_PERMISSION, EXTRA_VIEW_PERMISSIONS, parse_category(category)
    )


def can_add_category(user: Any, category: Category | str) -> bool:
    """Tell whether ``user`` may broadcast messages of ``category``."""
    return _allowed(
        user, ADD_PERMISSION, EXTRA_ADD_PERMISSIONS, parse_category(category)
    )


def viewable_categories(user: Any) -> list[Category]:
    """Return the categories ``user`` may see, in the categories' order."""
    return [category for category in Category if can_view_category(user, category)]


def filter_viewable(queryset: QuerySet[Any], user: Any) -> QuerySet[Any]:
    """Restrict a queryset of messages to the categories ``user`` may see."""
    allowed = viewable_categories(user)
    if len(allowed) == len(Category):
        return queryset
    return queryset.filter(category__in=[c.value for c in allowed])
