"""``manage.py opsmessaging_broadcast``: broadcast one operational message from the shell."""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from opsmessaging import pubsub
from opsmessaging.catalogue import get_type
from opsmessaging.categories import Category
from opsmessaging.exceptions import InvalidMessage


def parse_fields(pairs: list[str]) -> dict[str, Any]:
    """Turn ``key=text`` and ``key:=<JSON>`` arguments into payload fields."""
    fields: dict[str, Any] = {}
    for pair in pairs:
        name, is_json, value = _split(pair)
        if name in fields:
            raise CommandError(f"{name!r} is given twice")
        if is_json:
            try:
                fields[name] = json.loads(value)
            except json.JSONDecodeError as exc:
                raise CommandError(f"{name}:= is not JSON ({exc}): {value!r}") from None
        else:
            fields[name] = value
    return fields


def _split(pair: str) -> tuple[str, bool, str]:
    name, sep, value = pair.partition("=")
    is_json = name.endswith(":")
    name = name.removesuffix(":")
    if not sep or not name:
        raise CommandError(
            f"{pair!r} is not a field: write key=text or key:=<JSON>, e.g. "
            "title='disk full' or metadata:='{\"disk\": \"/\"}'"
        )
    return name, is_json, value


class Command(BaseCommand):
    help = (
        "Broadcast one operational message, validated and stored like any other. Give its "
        "category, its payload type and its fields: key=text for text, key:=<JSON> for "
        "anything else (numbers, true/false, lists, objects). Example: "
        "opsmessaging_broadcast alerts SystemAlert severity=critical category=system "
        "title='disk full' metadata:='{\"disk\": \"/\"}'. The payload types and their "
        "fields are listed at the API's types/ endpoint."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "category", choices=Category.values, help="The payload type's category."
        )
        parser.add_argument("payload_type", help="The payload type, e.g. SystemAlert.")
        parser.add_argument(
            "fields", nargs="*", metavar="key=value", help="The payload's fields."
        )
        parser.add_argument("--topic", help="Instead of the type's default topic.")
        parser.add_argument("--node", help="Instead of this node's name.")
        parser.add_argument("--source-node", help="Instead of this node's name.")
        parser.add_argument("--originating-node", help="Instead of this node's name.")
        parser.add_argument(
            "--json", action="store_true", help="Print the stored message as JSON."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        fields = parse_fields(options["fields"])
        envelope = {
            "category": options["category"],
            "topic": options["topic"],
            "node": options["node"],
            "source_node": options["source_node"],
            "originating_node": options["originating_node"],
        }
        try:
            get_type(options["payload_type"], "payload_type")
            result = pubsub.broadcast_typed(options["payload_type"], fields, **envelope)
        except InvalidMessage as exc:
            reasons = "\n".join(
                f"  {name}: {'; '.join(messages)}"
                for name, messages in exc.errors.items()
            )
            raise CommandError(f"nothing was broadcast:\n{reasons}") from None
        if result.status == "disabled":
            raise CommandError(
                "nothing was broadcast: broadcasting is disabled "
                "(OPSMESSAGING['PUBSUB_INTEGRATION'])"
            )
        if result.message is None:
            raise CommandError(
                f"nothing was broadcast: the store failed: {result.error}"
            )
        message = result.message
        if options["json"]:
            self.stdout.write(json.dumps(message.to_wire(), ensure_ascii=False))
        else:
            self.stdout.write(
                self.style.SUCCESS(
                    f"Broadcast {message.payload_type} as {message.category}"
                    f"#{message.sequence} on {message.topic} ({message.message_id})"
                )
            )
