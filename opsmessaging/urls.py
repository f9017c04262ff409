"""URLs of the live operations page; include them, e.g. ``path("opsmessaging/", ...)``."""

from __future__ import annotations

from django.urls import path

from opsmessaging import sse, views
from opsmessaging.exporters import views as exporter_views

app_name = "opsmessaging"

urlpatterns = [
    path("", views.operations, name="operations"),
    path("feed/", views.feed, name="feed"),
    path("metrics/", views.metrics_history, name="metrics"),
    path("alerts/", views.alert_board, name="alerts"),
    path("alerts/acknowledge/", views.acknowledge, name="acknowledge"),
    path("nodes/", views.cluster, name="nodes"),
    path("compatibility/", views.compatibility, name="compatibility"),
    path("stream/", sse.stream, name="stream"),
    # Prometheus's conventional path; "metrics/" is the operations page's history.
    path(
        "prometheus/metrics",
        exporter_views.prometheus_metrics,
        name="prometheus-metrics",
    ),
]
