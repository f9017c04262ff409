"""Keyset (cursor) pagination of message history, fast and stable at millions of rows.

Pages are ordered by ``id``, which is unique and grows with every stored message, so the
keyset condition is the single-column ``id < <last id of the previous page>`` and every
page costs one index range scan of ``limit + 1`` rows, on page 1 as on page 10,000. New
messages never shift the pages a client is walking through.

Within one category the key is ``sequence`` instead: it is unique there and in the same
order as ``id`` (both follow commit order), and the ``(category, sequence)`` and
``(category, topic, sequence)`` indexes then serve the category, topic and ``after``
filters in page order. Ordered by ``id``, a topic or ``after`` filter would make
PostgreSQL collect and sort every matching row, or scan past the ones it skips.
"""

from __future__ import annotations

import re
from typing import Any

from django.db.models import QuerySet
from rest_framework.exceptions import NotFound
from rest_framework.pagination import Cursor, CursorPagination, _positive_int
from rest_framework.request import Request
from rest_framework.response import Response

from opsmessaging.conf import conf

#: ``order`` values and the direction each means.
ORDERS = {"newest": "-", "oldest": ""}
_POSITION_RE = re.compile(r"[0-9]{1,19}")
_MAX_ID = 2**63 - 1


class MessageCursorPagination(CursorPagination):
    """Newest first (``order=oldest`` to catch up forwards), ``limit`` messages a page.

    ``next`` and ``previous`` links are given in the body and in a ``Link`` header, so a
    CSV or CloudEvents export can be followed too.
    """

    ordering = "-id"
    page_size_query_param = "limit"
    page_size_query_description = "Messages per page."
    cursor_query_description = (
        "Where the page starts: copy it from a `next` or `previous` link."
    )
    invalid_cursor_message = "Invalid cursor: use a `next` or `previous` link as given."
    order_query_param = "order"
    template = None

    def get_page_size(self, request: Request) -> int:
        try:
            return int(
                _positive_int(
                    request.query_params[self.page_size_query_param],
                    strict=True,
                    cutoff=conf.API_MAX_PAGE_SIZE,
                )
            )
        except (KeyError, ValueError):
            return conf.API_PAGE_SIZE

    def get_ordering(
        self, request: Request, queryset: QuerySet[Any], view: Any
    ) -> tuple[str, ...]:
        direction = ORDERS.get(
            request.query_params.get(self.order_query_param, "newest"), "-"
        )
        key = "sequence" if request.query_params.get("category") else "id"
        return (f"{direction}{key}",)

    def decode_cursor(self, request: Request) -> Cursor | None:
        cursor: Cursor | None = super().decode_cursor(request)
        # The position goes into an id or sequence comparison: refuse anything else.
        if cursor is not None and cursor.position is not None:
            position = str(cursor.position)
            if not _POSITION_RE.fullmatch(position) or int(position) > _MAX_ID:
                raise NotFound(self.invalid_cursor_message)
        return cursor

    def get_paginated_response(self, data: Any) -> Response:
        response: Response = super().get_paginated_response(data)
        links = [
            f'<{url}>; rel="{rel}"'
            for rel, url in (
                ("next", response.data["next"]),
                ("prev", response.data["previous"]),
            )
            if url
        ]
        if links:
            response["Link"] = ", ".join(links)
        return response
