"""Request bodies of the API: JSON, bounded in size and in depth.

The size bound is Django's own ``DATA_UPLOAD_MAX_MEMORY_SIZE`` (2.5 MB by default), which
Django enforces when the body is read; the API answers it with a 413 in JSON rather than
Django's HTML 400. The depth bound keeps a body like ``[[[[...]]]]`` (a few kilobytes)
from exhausting Python's recursion limit in the parser or in the code that walks it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.conf import settings
from rest_framework import status
from rest_framework.exceptions import APIException, ParseError
from rest_framework.parsers import JSONParser

#: The deepest nesting of arrays and objects accepted in a body.
MAX_JSON_DEPTH = 64


class RequestTooLarge(APIException):
    """Raised when a request body is over ``DATA_UPLOAD_MAX_MEMORY_SIZE``."""

    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "The request body is too large."
    default_code = "request_too_large"

    @classmethod
    def over_limit(cls, length: str | None) -> RequestTooLarge:
        """Return the error for a body of ``length`` bytes (None: chunked, unknown)."""
        size = f"{length} bytes" if length and length.isdigit() else "The request body"
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        return cls(
            f"{size} is over the limit of {limit} bytes (DATA_UPLOAD_MAX_MEMORY_SIZE): "
            "send fewer or smaller events."
        )


def nesting_depth(value: Any, limit: int = MAX_JSON_DEPTH) -> int:
    """Return how deeply ``value``'s arrays and objects nest (stops counting past
    ``limit``); without recursion, so any depth can be measured."""
    deepest = 0
    pending = [(value, 1)]
    while pending:
        item, depth = pending.pop()
        if isinstance(item, Mapping):
            children = list(item.values())
        elif isinstance(item, list):
            children = item
        else:
            continue
        deepest = max(deepest, depth)
        if deepest > limit:
            break
        pending.extend((child, depth + 1) for child in children)
    return deepest


class BoundedJSONParser(JSONParser):
    """``JSONParser`` that refuses bodies nested more than ``MAX_JSON_DEPTH`` deep."""

    def parse(
        self,
        stream: Any,
        media_type: str | None = None,
        parser_context: Mapping[str, Any] | None = None,
    ) -> Any:
        too_deep = ParseError(
            f"JSON parse error - nested more than {MAX_JSON_DEPTH} levels deep."
        )
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise too_deep from None
        if nesting_depth(data) > MAX_JSON_DEPTH:
            raise too_deep
        return data
