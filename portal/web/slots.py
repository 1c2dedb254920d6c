"""Places on a page that apps above its owner fill (STYLE rule 6a): the alert page's owner box, discussion and
feedback, the alert list's commands, the overview's panels.

A page's template names a slot, `{% load slots %}{% slot "alert.panels" alert %}`; each app registers, at start-up,
a `Panel` for it: a template, drawn with the page's context plus what `context(request, obj)` returns (None leaves
the panel out, e.g. for a role that may not see it). Panels draw in `order`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.http import HttpRequest


@dataclass(frozen=True)
class Panel:
    slot: str
    name: str
    template: str
    context: Callable[[HttpRequest, Any], dict[str, Any] | None] = lambda request, obj: {}
    order: int = 100


@dataclass
class _Registry:
    panels: dict[str, list[Panel]] = field(default_factory=dict)


REGISTRY = _Registry()


def register(panel: Panel) -> None:
    panels = [p for p in REGISTRY.panels.get(panel.slot, []) if p.name != panel.name] + [panel]
    REGISTRY.panels[panel.slot] = sorted(panels, key=lambda p: (p.order, p.name))


def panels(slot: str) -> list[Panel]:
    return list(REGISTRY.panels.get(slot, []))
