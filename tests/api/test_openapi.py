"""The published OpenAPI document: every route described, every error answer with its schema.

What each route answers is checked against a live api by ``test_openapi_fuzz.py``; this checks
the document's shape, so a new route that skips ``api.openapi.responses`` fails here at once."""

from __future__ import annotations

from typing import Any

import pytest

from api.main import create_app


@pytest.fixture(scope="module")
def spec() -> dict[str, Any]:
    return create_app(reconcile=False).openapi()


def operations(spec: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method.upper(), path, op)
        for path, ops in spec["paths"].items()
        for method, op in ops.items()
    ]


def ref(response: dict[str, Any]) -> str:
    return response["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[-1]


def test_every_route_has_a_summary_and_a_description(spec: dict[str, Any]) -> None:
    for method, path, op in operations(spec):
        assert op.get("summary") and op.get("description"), (method, path)


def test_routes_with_parameters_document_422_with_the_field(spec: dict[str, Any]) -> None:
    item = spec["components"]["schemas"]["FieldErrorItem"]
    assert set(item["required"]) == {"loc", "field", "msg", "type"}
    assert "HTTPValidationError" not in spec["components"]["schemas"]
    for method, path, op in operations(spec):
        if op.get("parameters") or op.get("requestBody"):
            assert ref(op["responses"]["422"]) == "ValidationErrorBody", (method, path)


def test_ids_in_the_path_are_bounded_and_document_404(spec: dict[str, Any]) -> None:
    for method, path, op in operations(spec):
        for p in op.get("parameters", []):
            if p["in"] == "path" and p["name"].endswith("_id"):
                assert p["schema"]["maximum"] == 2**31 - 1, (method, path)
                assert "404" in op["responses"], (method, path)


def test_conflicts_and_uploads_document_their_bodies(spec: dict[str, Any]) -> None:
    conflict = spec["components"]["schemas"]["ConflictDetail"]
    assert set(conflict["required"]) == {"detail", "field"}
    with_409 = [(m, p) for m, p, op in operations(spec) if "409" in op["responses"]]
    assert ("POST", "/api/trials/{trial_id}/tell") in with_409
    for method, path, op in operations(spec):
        if "409" in op["responses"]:
            assert ref(op["responses"]["409"]) == "ConflictDetail", (method, path)
    upload = spec["paths"]["/api/datasets"]["post"]["responses"]
    assert {"200", "201", "413", "422"} <= set(upload)


def test_the_schema_states_the_bounds(spec: dict[str, Any]) -> None:
    schemas = spec["components"]["schemas"]
    assert schemas["StudyCreate"]["properties"]["parallelism"]["maximum"] == 256
    assert schemas["AskRequest"]["properties"]["count"]["maximum"] == 256
    assert schemas["FloatParam"]["properties"]["low"]["maximum"] == 1e300
    assert schemas["CategoricalParam"]["properties"]["choices"]["maxItems"] == 256
    metrics = schemas["ReportCreate"]["properties"]["metrics"]
    assert metrics["maxProperties"] == 32 and metrics["propertyNames"]["maxLength"] == 64
    assert "patternProperties" not in metrics
    space = schemas["StudyCreate"]["properties"]["space"]
    assert space["propertyNames"]["pattern"] and "patternProperties" not in space
