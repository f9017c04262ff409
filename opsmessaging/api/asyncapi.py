"""The AsyncAPI document of the WebSocket protocol, served beside the API."""

from __future__ import annotations

from django.http import HttpRequest, JsonResponse
from django.views.decorators.http import require_GET

from opsmessaging.asyncapi import asyncapi_document


@require_GET
def asyncapi_schema(request: HttpRequest) -> JsonResponse:
    """The AsyncAPI 3 document, its server the host this request reached."""
    document = asyncapi_document(
        host=request.get_host(), protocol_name="wss" if request.is_secure() else "ws"
    )
    return JsonResponse(document, json_dumps_params={"ensure_ascii": False})
