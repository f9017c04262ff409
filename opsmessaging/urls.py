"""URLs of the live operations page; include them, e.g. ``path("opsmessaging/", ...)``."""

from __future__ import annotations

from importlib.util import find_spec

from django.urls import path

from opsmessaging import sse, views

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
]

# The exposition needs the "metrics" extra (prometheus-client); without it there is no
# route rather than an import error. "metrics/" above is the operations page's history.
if find_spec("prometheus_client") is not None:
    from opsmessaging.exporters import views as exporter_views

    urlpatterns.append(
        path(
            "prometheus/metrics",
            exporter_views.prometheus_metrics,
            name="prometheus-metrics",
        )
    )
