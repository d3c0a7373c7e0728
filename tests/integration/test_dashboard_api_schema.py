"""Property-based test of the JSON API against its own OpenAPI document (schemathesis),
authenticated, on SQLite and PostgreSQL: whatever it sends, the API never answers 5xx,
and every answer matches the document (status codes, content types, schemas)."""

from __future__ import annotations

from typing import Any

import schemathesis
from hypothesis import HealthCheck, given, settings
from openapi_spec_validator import validate
from schemathesis.checks import ignored_auth, positive_data_acceptance

from tests.integration.test_dashboard import API_TOKEN, PROGRESS_KEY, Built
from tests.integration.test_dashboard import built as built

# Per operation: enough to reach every parameter's edges, small enough for CI.
EXAMPLES = 25
AUTH = {"Authorization": f"Bearer {API_TOKEN}", "X-API-Key": PROGRESS_KEY}


def test_the_api_conforms_to_its_document_and_never_fails(built: Built) -> None:
    # The document the running app serves, not the Python dict: what clients read.
    schema = schemathesis.openapi.from_asgi("/api/openapi.json", built.app)
    validate(schema.raw_schema)
    operations = [result.ok() for result in schema.get_all_operations()]
    described = {
        f"{method.upper()} {path}"
        for path, ops in schema.raw_schema["paths"].items()
        for method in ops
        if path != "/api/openapi.json"  # schemathesis leaves out the document itself
    }
    assert {operation.label for operation in operations} == described
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def check(case: Any) -> None:
            # Valid credentials are sent on every call, so the generated (random)
            # session cookie is not what authenticates; "ignored auth" would misread
            # that. Refusing missing or wrong credentials is tested in test_dashboard.
            excluded = [ignored_auth]
            if case.operation.label == "POST /api/program/preview":
                # Any string is a schema-valid program; most are not valid TOML, and a
                # 400 saying what is wrong is the right answer to those.
                excluded.append(positive_data_acceptance)
            case.call_and_validate(headers=AUTH, excluded_checks=excluded)

        check()
