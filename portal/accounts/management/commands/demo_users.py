"""Create the demo sign-ins: an administrator and analysts with different roles on the demo subscriptions."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import Group, User
from django.core.management.base import BaseCommand

from portal.accounts.models import Role
from portal.accounts.services import role_grant
from portal.inventory.models import Subscription

DEMO_PASSWORD = "kv-demo-password"  # noqa: S105 - the demo's printed, documented sign-in

# username, e-mail, superuser, {subscription index or "*": role}
DEMO_USERS: list[tuple[str, str, bool, dict[str, str]]] = [
    ("admin", "admin@contoso.example", True, {}),
    ("owner", "olivia.owner@contoso.example", False, {"*": Role.OWNER}),
    ("secadmin", "sam.secadmin@contoso.example", False, {"0": Role.SECURITY_ADMIN, "1": Role.SECURITY_ADMIN}),
    ("analyst", "ana.analyst@contoso.example", False, {"*": Role.SECURITY_READER}),
    ("reader", "rey.reader@contoso.example", False, {"0": Role.READER}),
    ("outsider", "oscar.outsider@contoso.example", False, {}),
]


class Command(BaseCommand):
    help = "Create demo users (admin, owner, secadmin, analyst, reader, outsider) with roles on the subscriptions."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--password", default=DEMO_PASSWORD)
        parser.add_argument("--quiet", action="store_true")

    def handle(self, *args: Any, password: str, quiet: bool, **options: Any) -> None:
        subscriptions = list(Subscription.objects.order_by("subscription_id"))
        soc, _ = Group.objects.get_or_create(name="SOC analysts")
        for username, email, superuser, roles in DEMO_USERS:
            user, created = User.objects.get_or_create(username=username, defaults={"email": email})
            if created:
                user.set_password(password)
            user.is_staff = superuser or username in {"owner", "secadmin"}
            user.is_superuser = superuser
            user.save()
            if username == "analyst":
                user.groups.add(soc)
            for key, role in roles.items():
                targets = subscriptions if key == "*" else subscriptions[int(key) : int(key) + 1]
                for subscription in targets:
                    role_grant(actor=None, subscription=subscription, role=role, user=user)
        if not quiet:
            self.stdout.write(f"Demo sign-ins (password for all: {password}):")
            for username, _, superuser, roles in DEMO_USERS:
                what = (
                    "administrator (superuser)"
                    if superuser
                    else (
                        ", ".join(
                            f"{Role(r).label} on {'all subscriptions' if k == '*' else 'subscription ' + str(int(k) + 1)}"
                            for k, r in roles.items()
                        )
                        or "no role (sees nothing)"
                    )
                )
                self.stdout.write(f"  {username:<9} {what}")
