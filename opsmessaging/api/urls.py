"""URLs of the API; include them under a prefix, e.g. ``path("api/opsmessaging/", ...)``."""

from __future__ import annotations

from django.urls import path
from rest_framework.routers import SimpleRouter

from opsmessaging.api import views
from opsmessaging.api.asyncapi import asyncapi_schema

app_name = "opsmessaging_api"

router = SimpleRouter()
router.register("messages", views.MessageViewSet, basename="message")

urlpatterns = [
    *router.urls,
    path("categories/", views.CategoryListView.as_view(), name="category-list"),
    path("nodes/", views.NodeListView.as_view(), name="node-list"),
    path("checkins/", views.MonitorListView.as_view(), name="checkin-list"),
    path("compatibility/", views.CompatibilityView.as_view(), name="compatibility"),
    path("asyncapi/", asyncapi_schema, name="asyncapi"),
    path("types/", views.PayloadTypeListView.as_view(), name="payload-type-list"),
    path(
        "types/<str:name>/",
        views.PayloadTypeDetailView.as_view(),
        name="payload-type-detail",
    ),
]
