"""``manage.py opsmessaging_tail``: recent operational messages, then new ones as they come."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import DatabaseError, connection
from django.db.models import Q

from opsmessaging.catalogue import get_type
from opsmessaging.categories import Category
from opsmessaging.exceptions import InvalidMessage
from opsmessaging.models import CategorySequence, Message
from opsmessaging.severity import Severity
from opsmessaging.store import MessageQuerySet
from opsmessaging.timestamps import current_timestamp, parse_timestamp

_DURATION_RE = re.compile(r"^([0-9]+)([smhd]?)$")
_UNITS = {"": "seconds", "s": "seconds", "m": "minutes", "h": "hours", "d": "days"}
#: Payload fields left out of the readable line (the line shows them already).
_SHOWN_ELSEWHERE = ("timestamp", "node")
SUMMARY_LENGTH = 240
#: What a terminal would obey rather than show: C0 and C1 control characters (ESC, CSI,
#: newlines), bidirectional overrides, and lone surrogates (which cannot be printed).
_CONTROLS_RE = re.compile(
    "[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\ud800-\udfff]"
)


def escape_controls(text: str) -> str:
    """Return ``text`` with every control character written as its ``\\uXXXX`` escape,
    so that a message (a username chosen at a failed login, say) cannot move the cursor,
    recolour or rewrite the operator's terminal. The escape is JSON's too."""
    return _CONTROLS_RE.sub(lambda match: f"\\u{ord(match.group()):04x}", text)


def parse_since(value: str) -> datetime:
    """Return the time meant by ``--since``: ``90`` (seconds), ``15m``, ``2h``, ``1d`` ago,
    or an RFC 3339 timestamp."""
    match = _DURATION_RE.match(value.strip())
    if match:
        amount, unit = match.groups()
        return current_timestamp() - timedelta(**{_UNITS[unit]: int(amount)})
    try:
        return parse_timestamp(value, "--since")
    except InvalidMessage:
        raise CommandError(
            f"--since {value!r} is neither a duration (90, 15m, 2h, 1d) nor an RFC 3339 "
            "time (2026-01-02T03:04:05Z)"
        ) from None


class Command(BaseCommand):
    help = (
        "Show recent operational messages, oldest first, one line each; with --follow, keep "
        "showing new ones as they are stored, from any process or node (it polls the "
        "database, so no channel layer is needed). Filters combine."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--category",
            action="append",
            choices=Category.values,
            help="Only this category; repeat for several.",
        )
        parser.add_argument("--topic", help="Only this topic, e.g. node_failure.")
        parser.add_argument(
            "--node",
            help="Only messages of this node (in node, source_node or originating_node).",
        )
        parser.add_argument(
            "--severity",
            choices=[s.label for s in Severity],
            help="Only this severity or higher (messages without one are left out).",
        )
        parser.add_argument(
            "--since",
            help="Only messages since then: 90 (seconds), 15m, 2h, 1d, or an RFC 3339 "
            "time. Shows all of them unless -n is given.",
        )
        parser.add_argument(
            "-n",
            "--lines",
            type=int,
            help="How many recent messages to show first (default 20; 0 for none).",
        )
        parser.add_argument(
            "-f",
            "--follow",
            action="store_true",
            help="Keep running and show new messages as they arrive (Ctrl-C to stop).",
        )
        parser.add_argument(
            "--json",
            action="store_true",
            help="One JSON object per line (the wire form) instead of readable lines.",
        )
        parser.add_argument(
            "--interval",
            type=float,
            default=0.25,
            help="Seconds between two looks at the database with --follow (default 0.25).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["interval"] <= 0:
            raise CommandError("--interval must be a positive number of seconds")
        if options["lines"] is not None and options["lines"] < 0:
            raise CommandError("-n/--lines must be 0 or more")
        self.as_json = options["json"]
        categories = [Category(c) for c in options["category"] or Category.values]
        since = parse_since(options["since"]) if options["since"] else None
        lines = options["lines"]
        if lines is None:
            lines = None if since else 20

        def matching(rows: MessageQuerySet) -> MessageQuerySet:
            return rows.filter(category__in=[c.value for c in categories]).matching(
                topic=options["topic"],
                node=options["node"],
                min_severity=Severity[options["severity"].upper()]
                if options["severity"]
                else None,
                since=since,
            )

        # Everything up to these sequences is history; anything after, live. A category's
        # sequence N+1 is never visible before N, so nothing falls between the two.
        seen = self._last_sequences(categories)
        up_to_now = Q()
        for category, last in seen.items():
            up_to_now |= Q(category=category, sequence__lte=last)
        history = (
            matching(Message.objects.get_queryset()).filter(up_to_now).order_by("-id")
        )
        if lines is not None:
            history = history[:lines]
        self._show(reversed(list(history)))
        if options["follow"]:
            self._follow(categories, seen, matching, options["interval"])

    def _last_sequences(self, categories: list[Category]) -> dict[str, int]:
        counters = dict(
            CategorySequence.objects.filter(
                category__in=[c.value for c in categories]
            ).values_list("category", "last_sequence")
        )
        return {c.value: counters.get(c.value, 0) for c in categories}

    def _follow(
        self,
        categories: list[Category],
        seen: dict[str, int],
        matching: Callable[[MessageQuerySet], MessageQuerySet],
        interval: float,
    ) -> None:
        self.stderr.write("-- following new messages; Ctrl-C to stop --")
        self.stderr.flush()
        try:
            while True:
                time.sleep(interval)
                try:
                    seen = self._show_new(categories, seen, matching)
                except DatabaseError as exc:
                    self.stderr.write(f"database unavailable, retrying: {exc}")
                    connection.close()
        except KeyboardInterrupt:
            return

    def _show_new(
        self,
        categories: list[Category],
        seen: dict[str, int],
        matching: Callable[[MessageQuerySet], MessageQuerySet],
    ) -> dict[str, int]:
        latest = self._last_sequences(categories)
        new: list[Message] = []
        for category, last in latest.items():
            if last > seen[category]:
                new += matching(Message.objects.get_queryset()).filter(
                    category=category,
                    sequence__gt=seen[category],
                    sequence__lte=last,
                )
        self._show(sorted(new, key=lambda message: message.id))
        return latest

    def _show(self, messages: Iterable[Message]) -> None:
        for message in messages:
            wire = message.to_wire()
            if self.as_json:
                self.stdout.write(escape_controls(json.dumps(wire, ensure_ascii=False)))
            else:
                self.stdout.write(
                    escape_controls(self._line(wire)), self._style(message.severity)
                )
        self.stdout.flush()

    def _line(self, wire: dict[str, Any]) -> str:
        severity = wire["severity"] or "-"
        payload = wire["payload"]
        if payload is None:  # stored encrypted with a key this node does not have
            fields = "(payload unreadable)"
        else:
            # In the type's declared order: the database may keep JSON keys in another.
            names = [*get_type(wire["payload_type"]).field_names, *payload]
            fields = " ".join(
                f"{name}={value if isinstance(value, str) else json.dumps(value)}"
                for name in dict.fromkeys(names)
                if (value := payload.get(name)) is not None
                and name not in _SHOWN_ELSEWHERE
            )
        if len(fields) > SUMMARY_LENGTH:
            fields = fields[: SUMMARY_LENGTH - 1] + "…"
        return (
            f"{wire['timestamp']} {wire['category']}#{wire['sequence']} "
            f"{wire['topic']} {severity.upper()} {wire['payload_type']} "
            f"{wire['node']}: {fields}"
        )

    def _style(self, severity: int | None) -> Callable[[str], str] | None:
        if severity is None:
            return None
        if severity >= Severity.ERROR:
            return self.style.ERROR
        if severity >= Severity.WARNING:
            return self.style.WARNING
        if severity >= Severity.INFO:
            return self.style.SUCCESS
        return None
