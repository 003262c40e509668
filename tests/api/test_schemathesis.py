"""Property-based fuzzing of the whole API from its own OpenAPI document (schemathesis).

For every operation, bounded generated requests (valid and invalid) go over real HTTP with a valid
token; no answer may be a 5xx, use an undocumented status, or break its documented schema.
"""

from __future__ import annotations

import os

import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.api.helpers import add_account
from tests.fixtures.api import ApiServer

CHECKS = [
    schemathesis.checks.not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
MAX_EXAMPLES = int(os.environ.get("MULTIPUBLISH_FUZZ_EXAMPLES", "15"))


def test_openapi_fuzz_finds_no_server_error(api_server: ApiServer) -> None:
    with api_server.client() as client:
        add_account(client, "acme", "tiktok")
    headers = {"Authorization": f"Bearer {api_server.token}"}
    # the schema is behind the token by default (MULTIPUBLISH_API_DOCS=token)
    schema = schemathesis.openapi.from_url(f"{api_server.url}/openapi.json", headers=headers)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 15
    for operation in operations:

        @settings(
            max_examples=MAX_EXAMPLES,
            deadline=None,
            derandomize=True,
            database=None,
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        @given(
            case=st.one_of(
                operation.as_strategy(GenerationMode.POSITIVE),
                operation.as_strategy(GenerationMode.NEGATIVE),
            )
        )
        def check(case: schemathesis.Case) -> None:
            case.call_and_validate(base_url=api_server.url, headers=headers, checks=CHECKS)

        check()
