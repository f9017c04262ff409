"""The HTTP API's history and broadcast, over ``httpx``."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx

from opsmessaging.client.messages import ClientError, WireMessage

#: Where the demo mounts the API (``api/opsmessaging/``); a bare host gets it.
API_PATH = "/api/opsmessaging/"


class ApiError(ClientError):
    """Raised when the API answers with an error status; ``body`` is its JSON."""

    def __init__(self, status: int, body: Any) -> None:
        super().__init__(f"{status}: {body}")
        self.status = status
        self.body = body


class Client:
    """The API at ``url`` (``http://host`` or the API's own URL), with a DRF token."""

    def __init__(
        self,
        url: str,
        token: str | None = None,
        *,
        timeout: float = 10.0,
        http: httpx.Client | None = None,
    ) -> None:
        base = url.rstrip("/") + "/"
        if httpx.URL(base).path == "/":
            base = base.rstrip("/") + API_PATH
        headers = {"Authorization": f"Token {token}"} if token else {}
        self.base = base
        self.http = http or httpx.Client(timeout=timeout)
        self.http.headers.update(headers)

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.http.close()

    def _request(self, method: str, url: str, **kwargs: Any) -> Any:
        response = self.http.request(method, url, **kwargs)
        try:
            body = response.json()
        except ValueError:
            body = response.text
        if response.is_error:
            raise ApiError(response.status_code, body)
        return body

    def history(
        self,
        category: str,
        *,
        after: int = 0,
        topic: str | None = None,
        limit: int = 500,
        **filters: Any,
    ) -> Iterator[WireMessage]:
        """Yield the stored messages of ``category`` after sequence ``after``, oldest
        first, page by page; other filters are the API's (``node``, ``min_severity``, ...).

        The last one yielded says where a live subscription continues:
        ``subscribe(..., since=message.sequence)``.
        """
        params: dict[str, Any] = {
            "category": category,
            "after": after,
            "order": "oldest",
            "limit": limit,
            **filters,
        }
        if topic is not None:
            params["topic"] = topic
        page = self._request("GET", self.base + "messages/", params=params)
        while True:
            for wire in page["results"]:
                yield WireMessage.from_wire(wire)
            if page["next"] is None:
                return
            page = self._request("GET", page["next"])  # it carries the filters

    def last_sequence(self, category: str) -> int:
        """Return the category's last sequence now (0 when it has none)."""
        for row in self._request("GET", self.base + "categories/"):
            if row["category"] == category:
                return int(row["last_sequence"] or 0)
        raise ApiError(404, {"detail": f"no category {category!r} you may see"})

    def broadcast(
        self, type: str, payload: dict[str, Any], **options: Any
    ) -> WireMessage:
        """Broadcast one message of payload type ``type``; return it as stored.

        ``options`` are the envelope's: ``topic``, ``node``, ``source_node``,
        ``originating_node``.
        """
        body = {"type": type, "payload": payload, **options}
        return WireMessage.from_wire(
            self._request("POST", self.base + "messages/", json=body)
        )
