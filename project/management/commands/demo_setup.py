"""Create the demo's admin user, printing its password."""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from rest_framework.authtoken.models import Token

PASSWORD_FILE = Path(settings.BASE_DIR) / ".demo-admin-password"


class Command(BaseCommand):
    help = (
        "Create the demo admin user. The password comes from DEMO_ADMIN_PASSWORD, else it is "
        "generated once, kept in .demo-admin-password and printed."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        username = os.environ.get("DEMO_ADMIN_USER", "admin")
        password = os.environ.get("DEMO_ADMIN_PASSWORD")
        if not password:
            if PASSWORD_FILE.exists():
                password = PASSWORD_FILE.read_text().strip()
            else:
                password = secrets.token_urlsafe(12)
                PASSWORD_FILE.write_text(password + "\n")
                PASSWORD_FILE.chmod(0o600)
        user, created = get_user_model().objects.get_or_create(
            username=username, defaults={"is_staff": True, "is_superuser": True}
        )
        user.is_staff = user.is_superuser = True
        user.set_password(password)
        user.save()
        verb = "Created" if created else "Updated"
        self.stdout.write(
            self.style.SUCCESS(
                f"{verb} demo admin user: log in at http://127.0.0.1:8000/admin/ as "
                f"{username!r} with password {password!r}"
            )
        )
        token, _ = Token.objects.get_or_create(user=user)
        self.stdout.write(
            self.style.SUCCESS(
                f"API token of {username!r}: {token.key} (curl -H 'Authorization: Token "
                f"{token.key}' http://127.0.0.1:8000/api/opsmessaging/messages/; "
                "docs at http://127.0.0.1:8000/api/docs/)"
            )
        )
