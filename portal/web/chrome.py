"""The page chrome's extension points: the menu, the top bar's search, the indicators and the Preferences page.

The chrome sits in the foundation and imports no domain app (STYLE rule 6a): each app registers what it adds at
start-up (its AppConfig.ready). Registering again under the same key replaces (a test's reload).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from django import forms
from django.http import HttpRequest
from django.urls import NoReverseMatch, reverse

if TYPE_CHECKING:
    from django.contrib.auth.models import User

# The menu's sections, in order. An app adds items to one of them, or a section of its own items per request.
SECTIONS = ["Security Center", "Saved views", "Key Vault", "Settings"]


@dataclass(frozen=True)
class MenuItem:
    section: str
    label: str
    url_name: str  # left out when it does not reverse (a feature not installed)
    icon: str
    order: int = 100
    superuser_only: bool = False


@dataclass(frozen=True)
class SearchResult:
    kind: str  # "Alert" | "Key vault"
    title: str
    detail: str
    url: str


@dataclass(frozen=True)
class PreferenceSection:
    """Fields an app adds to the Preferences page: its form (field names unique across sections), what it holds
    now, and how it saves what the person chose."""

    name: str
    form: type[forms.Form]
    initial: Callable[[User], dict[str, Any]]  # (user) -> initial values
    save: Callable[[User, dict[str, Any]], None]  # (user, cleaned data)
    order: int = 100


@dataclass
class _Registry:
    menu: dict[tuple[str, str], MenuItem] = field(default_factory=dict)
    menu_sections: dict[str, Callable[[HttpRequest], list[dict[str, Any]]]] = field(default_factory=dict)
    search: dict[str, tuple[int, Callable[[User, str], list[SearchResult]]]] = field(default_factory=dict)
    indicators: dict[str, Callable[[User], Any]] = field(default_factory=dict)
    preferences: dict[str, PreferenceSection] = field(default_factory=dict)


REGISTRY = _Registry()


def menu_item(item: MenuItem) -> None:
    REGISTRY.menu[(item.section, item.url_name)] = item


def menu_section(section: str, items: Callable[[HttpRequest], list[dict[str, Any]]]) -> None:
    """A section whose items depend on the person (saved views): `items(request)` gives
    [{"label", "url", "icon", "active"}]."""
    REGISTRY.menu_sections[section] = items


def search_provider(name: str, fn: Callable[[User, str], list[SearchResult]], *, order: int = 100) -> None:
    REGISTRY.search[name] = (order, fn)


def indicator(name: str, fn: Callable[[User], Any]) -> None:
    """A value every signed-in page's chrome shows (`chrome.<name>` in templates): `fn(user)`."""
    REGISTRY.indicators[name] = fn


def preference_section(section: PreferenceSection) -> None:
    REGISTRY.preferences[section.name] = section


def menu_items(section: str, *, superuser: bool) -> list[MenuItem]:
    items = [
        i for i in REGISTRY.menu.values() if i.section == section and (superuser or not i.superuser_only)
    ]
    return sorted(items, key=lambda i: (i.superuser_only, i.order, i.label))


def home_url(*, superuser: bool) -> str | None:
    """The URL of the menu's first entry that exists."""
    for section in SECTIONS:
        for item in menu_items(section, superuser=superuser):
            try:
                return reverse(item.url_name)
            except NoReverseMatch:
                continue
    return None


def search(user: User, query: str) -> list[SearchResult]:
    results: list[SearchResult] = []
    for _order, fn in sorted(REGISTRY.search.values(), key=lambda p: p[0]):
        results.extend(fn(user, query))
    return results


def indicators(user: User) -> dict[str, Any]:
    return {name: fn(user) for name, fn in REGISTRY.indicators.items()}


def preference_sections() -> list[PreferenceSection]:
    return sorted(REGISTRY.preferences.values(), key=lambda s: (s.order, s.name))
