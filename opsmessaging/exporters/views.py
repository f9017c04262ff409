"""HTTP endpoints of the exporters: the Prometheus/OpenMetrics scrape."""

from __future__ import annotations

import hmac

from django.http import HttpRequest, HttpResponse
from django.views.decorators.http import require_GET
from prometheus_client.exposition import choose_encoder

from opsmessaging.conf import conf
from opsmessaging.exporters.prometheus import registry
from opsmessaging.permissions import VIEW_PERMISSION


def _refused(status: int, detail: str, challenge: str | None = None) -> HttpResponse:
    response = HttpResponse(
        detail + "\n", status=status, content_type="text/plain; charset=utf-8"
    )
    if challenge is not None:
        response["WWW-Authenticate"] = challenge
    return response


def _authorize(request: HttpRequest) -> HttpResponse | None:
    """Return None if the request may scrape, else the 401 or 403 to answer.

    A scraper sends ``Authorization: Bearer <METRICS_TOKEN>``; a person signed in needs
    ``opsmessaging.view_message``.
    """
    scheme, _, credentials = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() == "bearer":
        token = conf.METRICS_TOKEN
        if token is not None and hmac.compare_digest(
            credentials.strip().encode(), token.encode()
        ):
            return None
        return _refused(
            401,
            "The bearer token is not OPSMESSAGING['METRICS_TOKEN'].",
            'Bearer realm="opsmessaging", error="invalid_token"',
        )
    user = request.user
    if not user.is_authenticated:
        return _refused(
            401,
            "Send Authorization: Bearer <OPSMESSAGING['METRICS_TOKEN']>, or sign in.",
            'Bearer realm="opsmessaging"',
        )
    if user.is_active and user.has_perm(VIEW_PERMISSION):
        return None
    return _refused(
        403, f"Scraping the metrics needs the {VIEW_PERMISSION} permission."
    )


@require_GET
def prometheus_metrics(request: HttpRequest) -> HttpResponse:
    """The exposition, in the format the ``Accept`` header asks for (OpenMetrics or the
    Prometheus text format), read from the store at each scrape."""
    refused = _authorize(request)
    if refused is not None:
        return refused
    encode, content_type = choose_encoder(request.headers.get("Accept", ""))
    response = HttpResponse(encode(registry()), content_type=content_type)
    response["Vary"] = "Accept, Authorization, Cookie"
    response["Cache-Control"] = "no-store"
    return response
