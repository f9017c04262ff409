"""The API's throttles: on broadcasts (``API_WRITE_THROTTLE_RATE``) and on the anonymous
compatibility endpoint (``COMPATIBILITY_THROTTLE_RATE``)."""

from __future__ import annotations

from rest_framework.throttling import UserRateThrottle

from opsmessaging.conf import conf


class BroadcastRateThrottle(UserRateThrottle):
    """Limits broadcasts per user (per address when anonymous); None turns it off.

    The counts live in Django's default cache: use a shared cache (Redis, Memcached) for one
    limit across processes and nodes.
    """

    scope = "opsmessaging_broadcast"

    def get_rate(self) -> str | None:
        return conf.API_WRITE_THROTTLE_RATE


class CompatibilityRateThrottle(UserRateThrottle):
    """Limits compatibility requests per user, or per address when anonymous (the
    endpoint needs no login); None turns it off. Counted in Django's default cache."""

    scope = "opsmessaging_compatibility"

    def get_rate(self) -> str | None:
        return conf.COMPATIBILITY_THROTTLE_RATE
