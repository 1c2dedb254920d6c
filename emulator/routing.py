"""The route table shared by the ARM modules and the handler context they receive."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from .identity import Principal
from .state import Subscription
from .web import Request, Response

if TYPE_CHECKING:
    from .server import Runtime

SUB = r"/subscriptions/(?P<sub>[^/]+)"
RG = r"/resourceGroups/(?P<rg>[^/]+)"
SEC = r"/providers/Microsoft\.Security"


@dataclass
class Ctx:
    rt: Runtime
    req: Request
    principal: Principal | None = None
    sub: Subscription | None = None
    loop_next: bool = False  # the `nextlink_loop` fault: make this page's nextLink point at itself
    relative_next: bool = False  # the `relative_nextlink` fault: this page's nextLink is path and query only
    result_truncated: bool = False  # `result_truncated` fault: Resource Graph says `resultTruncated: "true"`
    foreign_next: bool = False  # the `foreign_nextlink` fault: this page's nextLink names another host
    notes: dict[str, str] = field(default_factory=dict)


Handler = Callable[[Ctx, re.Match[str]], Response]


@dataclass(frozen=True)
class Route:
    method: str
    pattern: re.Pattern[str]
    op: str
    handler: Handler
    kind: str = "reads"  # reads | writes | deletes (rate-limit bucket)
    scope: str = "subscription"  # subscription | tenant | anonymous


ROUTES: list[Route] = []


def route(
    method: str, pattern: str, op: str, *, kind: str = "reads", scope: str = "subscription"
) -> Callable[[Handler], Handler]:
    compiled = re.compile(f"^{pattern}$", re.IGNORECASE)

    def register(fn: Handler) -> Handler:
        ROUTES.append(Route(method, compiled, op, fn, kind, scope))
        return fn

    return register


def resolve(method: str, path: str) -> tuple[Route | None, re.Match[str] | None, bool]:
    """(route, match, path_known): path_known is True when only the method was wrong."""
    path_known = False
    for r in ROUTES:
        m = r.pattern.match(path)
        if m is None:
            continue
        if r.method == method:
            return r, m, True
        path_known = True
    return None, None, path_known
