"""Schemathesis against the generated OpenAPI schema, authenticated, over every endpoint (in-process WSGI, the test
database): zero 5xx responses and zero responses that break the schema (bodies, status codes, content types,
headers). Then each endpoint once with real objects, validated the same way."""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from hypothesis import HealthCheck, given, settings

from portal.wsgi import application

pytestmark = pytest.mark.django_db

CHECKS = [
    schemathesis.checks.not_a_server_error,
    schemathesis.checks.status_code_conformance,
    schemathesis.checks.content_type_conformance,
    schemathesis.checks.response_schema_conformance,
    schemathesis.checks.response_headers_conformance,
]


@pytest.fixture
def api_schema(api_world: Any, settings: Any) -> Any:
    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "localhost"]
    # As Django's test client does: the WSGI handler must not close the test's connection after each request.
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield schemathesis.openapi.from_wsgi(
            "/api/schema/", application, headers={"Authorization": f"Bearer {api_world.tokens['secadmin']}"}
        )
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


EXAMPLES = 30


def test_fuzz_every_endpoint(api_schema: Any, api_world: Any, django_capture_on_commit_callbacks) -> None:
    """Hypothesis-generated requests per operation (schemathesis' strategies; its pytest plugin is not used)."""
    headers = {"Authorization": f"Bearer {api_world.tokens['secadmin']}"}
    failures: list[str] = []
    operations = 0
    for result in api_schema.get_all_operations():
        operation = result.ok()
        operations += 1

        @given(case=operation.as_strategy())
        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            derandomize=True,
            database=None,
        )
        def run(case: Any) -> None:
            case.call_and_validate(headers=headers, checks=CHECKS)

        try:
            with django_capture_on_commit_callbacks(execute=False):
                run()
        except Exception as exc:
            failures.append(f"{operation.method.upper()} {operation.path}: {exc}"[:2000])
    assert operations >= 40
    assert not failures, "\n\n".join(failures)


def test_every_endpoint_with_real_objects_conforms(
    api_schema: Any, api_world: Any, django_capture_on_commit_callbacks
):
    from portal.api.tests.test_api import matrix

    exercised: set[tuple[str, str]] = set()
    with django_capture_on_commit_callbacks(execute=False):
        for method, path, body, expected in matrix(api_world):
            template, params = _template(api_schema, path.removeprefix(""), method)
            operation = api_schema[template][method.upper()]
            kwargs: dict[str, Any] = {"path_parameters": params}
            if body is not None:
                kwargs["body"] = body
                kwargs["media_type"] = "application/json"
            case = operation.Case(**kwargs)
            response = case.call_and_validate(
                headers={"Authorization": f"Bearer {api_world.tokens['secadmin']}"}, checks=CHECKS
            )
            assert response.status_code == expected["secadmin"], (method, path, response.text[:300])
            exercised.add((template, method.upper()))
    # every operation of the generated schema was called with real objects (tokens are the pages' own)
    in_schema = {(r.ok().path, r.ok().method.upper()) for r in api_schema.get_all_operations()}
    assert in_schema - exercised <= {(p, m) for p, m in in_schema if "/tokens/" in p}, in_schema - exercised


def _template(api_schema: Any, path: str, method: str) -> tuple[str, dict[str, int]]:
    """The schema path for a concrete one: /api/v1/alerts/7/ -> (/api/v1/alerts/{id}/, {"id": 7})."""
    parts = path.strip("/").split("/")
    for template in api_schema.raw_schema["paths"]:
        tparts = template.strip("/").split("/")
        if len(tparts) != len(parts):
            continue
        params = {}
        for t, p in zip(tparts, parts, strict=True):
            if t.startswith("{"):
                if not p.isdigit():
                    break
                params[t.strip("{}")] = int(p)
            elif t != p:
                break
        else:
            if method in api_schema.raw_schema["paths"][template]:
                return template, params
    raise AssertionError(f"no schema path for {method} {path}")
