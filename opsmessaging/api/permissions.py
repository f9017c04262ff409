"""DRF permission classes over the category policy of ``opsmessaging.permissions``."""

from __future__ import annotations

from typing import Any

from rest_framework.permissions import SAFE_METHODS, BasePermission
from rest_framework.request import Request

from opsmessaging.categories import Category
from opsmessaging.permissions import can_add_category, viewable_categories


def can_add_any(user: Any) -> bool:
    """Tell whether ``user`` may broadcast messages of at least one category."""
    return any(can_add_category(user, category) for category in Category)


class MessagePermission(BasePermission):
    """Reading needs a category one may see; broadcasting one may add to.

    Which messages a reader sees, and which categories a writer may broadcast, is decided
    per message and per category by the views with the same policy.
    """

    message = "You do not have permission to see or broadcast operational messages."

    def has_permission(self, request: Request, view: Any) -> bool:
        if request.method in SAFE_METHODS:
            return bool(viewable_categories(request.user))
        return can_add_any(request.user)
