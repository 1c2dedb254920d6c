"""Every page that takes a POST, as a Security Admin, with missing, oversized and malformed values: a clear answer
(a form with its errors, or a redirect with a message), never a server error. Each field's own validation is reached
by sending it wrong with the others plausible; what each form says is checked in the features' own tests."""

from __future__ import annotations

from typing import Any

import pytest
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from tests.security.test_object_access import ROUTES, objects  # noqa: F401 - the fixture

pytestmark = pytest.mark.django_db

HUGE = "x" * 200_000
MALFORMED = {
    "status": "Exploded",
    "to": "Nowhere",
    "classification": "Maybe",
    "assignee": "user:abc",
    "ids": ["1;DROP"],
    "body": "",
    "name": "<>" * 100,
    "url": "gopher://x",
    "events": ["nope"],
    "days": "-3",
    "confirm": "NaN",
    "emails": "not-an-address",
    "minimal_severity": "Catastrophic",
    "role": "god",
    "user": "nobody",
    "useful": "perhaps",
    "reason": "because",
    "tier": "Platinum",
    "alert_type": "",
    "conditions": "{",
    "expiration_date": "yesterday",
    "query": "severity=Nope",
    "q": HUGE[:5000],
    "timezone": "Mars/Olympus",
    "theme": "neon",
    "mode": "loud",
    "subscription": "-1",
    "state": "Maybe",
    "comment": HUGE,
}


VALID = {
    "status": "InProgress",
    "to": "InProgress",
    "classification": "TruePositive",
    "assignee": "me",
    "body": "ok",
    "name": "valid-name",
    "url": "https://ok.example.com/hook",
    "events": ["alert.created"],
    "days": "30",
    "confirm": "0",
    "emails": "soc@contoso.com",
    "minimal_severity": "Medium",
    "role": "reader",
    "user": "reader",
    "useful": "no",
    "reason": "NotRelevant",
    "tier": "Standard",
    "alert_type": "KV_TORAccess",
    "conditions": "[]",
    "expiration_date": "",
    "query": "severity=High",
    "q": "tor",
    "timezone": "Europe/Paris",
    "theme": "dark",
    "mode": "immediate",
    "state": "Disabled",
    "comment": "ok",
}


def _post_routes() -> list[tuple[str, str]]:
    found = []

    def walk(patterns: list[Any], ns: str = "") -> None:
        for p in patterns:
            if isinstance(p, URLResolver):
                if str(p.pattern).startswith(("admin/", "api/v1")):
                    continue
                walk(p.url_patterns, f"{ns}:{p.namespace}".strip(":") if p.namespace else ns)
            elif isinstance(p, URLPattern) and p.name:
                found.append((f"{ns}:{p.name}".strip(":"), str(p.pattern)))

    walk(get_resolver().url_patterns)
    return found


def test_every_form_answers_bad_input_clearly(client, personas, objects, django_capture_on_commit_callbacks):  # noqa: F811
    client.force_login(personas.owner)
    problems = []
    seen = 0
    with django_capture_on_commit_callbacks(execute=False):
        for name, route in _post_routes():
            if name in ("logout", "web:healthz", "web:pending") or name.startswith("api:"):  # GET-only
                continue
            if "<" in route:
                key = ROUTES[name][0]
                kwargs = dict(objects[key])
                if name == "feedback:panel":
                    kwargs = {"alert_pk": kwargs["pk"]}
                url = reverse(name, kwargs=kwargs)
            else:
                url = reverse(name)
            valid = {**VALID, "ids": [str(objects["alert"]["pk"])], "subscription": str(personas.sub.pk)}
            cases = [("missing", {}), ("oversized", dict.fromkeys(MALFORMED, HUGE)), ("malformed", MALFORMED)]
            # one field wrong at a time, the others plausible: each field's own validation is reached
            cases += [
                (f"{key}={str(value)[:20]!r}", {**valid, key: value}) for key, value in MALFORMED.items()
            ]
            for label, data in cases:
                for htmx in (False, True) if label in ("missing", "malformed") else (False,):
                    headers = {"HX-Request": "true"} if htmx else {}
                    response = client.post(url, data, headers=headers)
                    seen += 1
                    if response.status_code >= 500:
                        problems.append(
                            f"{label} POST {url}{' (htmx)' if htmx else ''}: {response.status_code}"
                        )
    assert seen > 100
    assert not problems, "\n".join(problems)
