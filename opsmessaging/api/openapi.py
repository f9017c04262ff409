"""OpenAPI details drf-spectacular cannot infer from the views alone."""

from __future__ import annotations

from typing import Any, Literal

from drf_spectacular.openapi import AutoSchema
from rest_framework.serializers import ListSerializer

from opsmessaging import cloudevents


class MessageAutoSchema(AutoSchema):
    """Documents the CloudEvents export of the history as the bare array it is.

    drf-spectacular wraps every response of a paginated list in the pagination envelope;
    a CloudEvents batch is a JSON array, with the links in the ``Link`` header.
    """

    def _get_response_for_code(
        self,
        serializer: Any,
        status_code: str,
        media_types: tuple[str, ...] | None = None,
        direction: Literal["request", "response"] = "response",
    ) -> Any:
        if list(media_types or ()) == [cloudevents.BATCH_MEDIA_TYPE] and isinstance(
            serializer, ListSerializer
        ):
            event = self.resolve_serializer(serializer.child, direction)  # type: ignore[arg-type]
            return {
                "description": "",
                "content": {
                    cloudevents.BATCH_MEDIA_TYPE: {
                        "schema": {"type": "array", "items": event.ref}
                    }
                },
            }
        return super()._get_response_for_code(  # type: ignore[no-untyped-call]
            serializer, status_code, media_types, direction
        )
