"""The WebSocket protocol's names: its path, the frame types, the actions and close codes.

The one place they are spelled: the consumer, the page, the clients and the docs use
these. Frames are JSON text; see the consumer (``opsmessaging.consumers``) for the flow.
"""

from __future__ import annotations

#: Where the WebSocket endpoint is mounted (``opsmessaging.routing``).
WEBSOCKET_PATH = "/ws/opsmessaging/"

#: What a client sends, in ``{"action": ...}``.
SUBSCRIBE = "subscribe"
UNSUBSCRIBE = "unsubscribe"
PING = "ping"
ACTIONS = (SUBSCRIBE, UNSUBSCRIBE, PING)

#: What the server sends, in ``{"type": ...}``.
SUBSCRIBED = "subscribed"
UNSUBSCRIBED = "unsubscribed"
MESSAGE = "message"
PONG = "pong"
#: A slow client: resubscribe with ``since`` = the frame's ``last_sequence``.
BEHIND = "behind"
#: Live delivery was interrupted: resubscribe with ``since`` = its ``last_sequence``.
RESUME = "resume"
ERROR = "error"
FRAME_TYPES = (SUBSCRIBED, UNSUBSCRIBED, MESSAGE, PONG, BEHIND, RESUME, ERROR)

#: Close codes: not authenticated (or no longer: session ended, token deleted, user
#: deactivated); no longer allowed to view a subscribed category; too many connections
#: of the user; the channel layer failed (reconnect later and resubscribe with ``since``).
CLOSE_NOT_AUTHENTICATED = 4401
CLOSE_FORBIDDEN = 4403
CLOSE_TOO_MANY_CONNECTIONS = 4429
CLOSE_LAYER_UNAVAILABLE = 4503
