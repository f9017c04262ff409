"""Views that fail in the ways the capture observes, and the admin."""

from __future__ import annotations

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.urls import path
from rest_framework import exceptions, permissions, throttling
from rest_framework.authentication import BaseAuthentication, BasicAuthentication
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView


def denied(request: HttpRequest) -> HttpResponse:
    raise PermissionDenied("members only")


def boom(request: HttpRequest) -> HttpResponse:
    raise RuntimeError(f"boom {request.GET.get('n', '')}".strip())


def other_boom(request: HttpRequest) -> HttpResponse:
    raise RuntimeError("boom")


def fine(request: HttpRequest) -> HttpResponse:
    return HttpResponse("fine")


class TokenHeaderAuthentication(BaseAuthentication):
    """Accepts no token at all: every ``Authorization: Token ...`` is invalid."""

    def authenticate(self, request: Request) -> None:
        header = request.META.get("HTTP_AUTHORIZATION", "")
        if header.startswith("Token "):
            raise exceptions.AuthenticationFailed("Invalid token.")
        return None


class OncePerMinute(throttling.AnonRateThrottle):
    rate = "1/min"
    scope = "capture-tests"


class BasicView(APIView):
    authentication_classes = [BasicAuthentication]
    permission_classes = [permissions.IsAuthenticated]

    def get(self, request: Request) -> Response:
        return Response({"ok": True})


class TokenView(APIView):
    authentication_classes = [TokenHeaderAuthentication]
    permission_classes = [permissions.AllowAny]

    def get(self, request: Request) -> Response:
        return Response({"ok": True})


class ThrottledView(APIView):
    authentication_classes: list[type[BaseAuthentication]] = []
    permission_classes = [permissions.AllowAny]
    throttle_classes = [OncePerMinute]

    def get(self, request: Request) -> Response:
        return Response({"ok": True})


class StaffOnlyView(APIView):
    authentication_classes = [BasicAuthentication]
    permission_classes = [permissions.IsAdminUser]

    def get(self, request: Request) -> Response:
        return Response({"ok": True})


class MissingView(APIView):
    authentication_classes: list[type[BaseAuthentication]] = []
    permission_classes = [permissions.AllowAny]

    def get(self, request: Request) -> Response:
        raise exceptions.NotFound("no such thing")


urlpatterns = [
    path("denied/", denied, name="denied"),
    path("boom/", boom, name="boom"),
    path("other-boom/", other_boom, name="other_boom"),
    path("fine/", fine, name="fine"),
    path("api/basic/", BasicView.as_view(), name="api_basic"),
    path("api/token/", TokenView.as_view(), name="api_token"),
    path("api/throttled/", ThrottledView.as_view(), name="api_throttled"),
    path("api/staff/", StaffOnlyView.as_view(), name="api_staff"),
    path("api/missing/", MissingView.as_view(), name="api_missing"),
    path("admin/", admin.site.urls),
]
