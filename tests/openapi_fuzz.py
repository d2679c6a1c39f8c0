"""Fuzz a live api from its own OpenAPI document with schemathesis; count what goes wrong.

Shared by ``tests/api/test_openapi_fuzz.py`` (a short run that must find nothing) and
``bench/bench_fuzz.py`` (a long run that prints the counts). For every operation, schemathesis
generates requests that fit the published schema (positive) and requests that break it
(negative), both with random ids and with the ids of stored objects (so conflicts and bodies are
reached, not only 404s). Each answer is classified:

- ``server_errors``: any 5xx.
- ``undocumented``: a status the operation's ``responses`` do not list.
- ``nonconforming``: a body (or content type) that does not match the documented schema.
- ``rejected_valid``: a positive request answered 4xx, except 404 and 409 (they depend on the
  stored state, and are documented) and a 422 whose every error has ``type`` ``value_error``
  on an operation whose 422 description states rules across fields (``api.openapi``): those
  rules (``low < high``, ...) cannot be written in JSON Schema. Such answers are counted apart,
  in ``cross_field_422``, so a run shows how many there were.
- ``invalid_accepted``: a negative request (one that breaks the published schema) answered
  below 400, as schemathesis's ``negative_data_rejection`` judges it (a mutation that only adds
  an unknown query parameter, or that serializes back into valid data, is not one).
- ``wrong_allow``: a method that a path does not serve, answered other than 405 with an
  ``Allow`` that lists exactly the path's methods.

After the per-operation phases, a stateful phase (``stateful_examples`` scenarios) chains
operations through the links that schemathesis infers from the document (a created study's
id into its ``ask``, a trial's id into its ``tell``...), and classifies every answer the same way.
"""

from __future__ import annotations

import contextlib
import json
import warnings
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import httpx
import hypothesis
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import FlakyStrategyDefinition, Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.generation.stateful import run_state_machine_as_test
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_schema_conformance,
)

from api.openapi import CROSS_FIELD_422

ID_PARAMS = {"study_id", "trial_id"}


@dataclass
class Finding:
    kind: str
    method: str
    path: str
    status: int
    request: str
    answer: str

    def __str__(self) -> str:
        head = f"{self.kind}: {self.method} {self.path} → {self.status}"
        return f"{head}\n  {self.request}\n  {self.answer}"


@dataclass
class FuzzReport:
    requests: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    cross_field_422: int = 0
    stateful: int = 0
    stateful_stopped: bool = False
    findings: list[Finding] = field(default_factory=list)

    def count(self, kind: str) -> int:
        return sum(f.kind == kind for f in self.findings)

    def summary(self) -> dict[str, Any]:
        return {
            "requests": self.requests,
            "server_errors": self.count("server_error"),
            "undocumented": self.count("undocumented"),
            "nonconforming": self.count("nonconforming"),
            "rejected_valid": self.count("rejected_valid"),
            "invalid_accepted": self.count("invalid_accepted"),
            "wrong_allow": self.count("wrong_allow"),
            "stateful": self.stateful,
            "stateful_stopped": self.stateful_stopped,
            "cross_field_422": self.cross_field_422,
            "statuses": dict(sorted(self.statuses.items())),
        }


def seed_objects(url: str) -> dict[str, int]:
    """Stored objects for the runs with real ids: an external study with a running trial."""
    with httpx.Client(base_url=url, timeout=30) as c:
        study = c.post(
            "/api/studies",
            json={
                "name": "fuzz",
                "objective": {"kind": "external"},
                "space": {"x": {"type": "float", "low": 0, "high": 1}},
                "max_trials": 1_000_000,
                "parallelism": 2,
            },
        )
        study.raise_for_status()
        study_id = study.json()["id"]
        trial = c.post(f"/api/studies/{study_id}/ask", json={"count": 1})
        trial.raise_for_status()
        return {"study_id": study_id, "trial_id": trial.json()["data"][0]["id"]}


def _documented(spec: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {
        (method.upper(), path): op["responses"]
        for path, ops in spec["paths"].items()
        for method, op in ops.items()
    }


def _short(value: Any, limit: int = 300) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    return text if len(text) <= limit else text[:limit] + "…"


def _only_cross_field(response: Any, responses: dict[str, Any]) -> bool:
    """A 422 of rules across fields: every error is value_error, and the route documents them."""
    if not responses.get("422", {}).get("description", "").startswith(CROSS_FIELD_422):
        return False
    try:
        detail = response.json()["detail"]
    except (ValueError, KeyError, TypeError):
        return False
    return bool(detail) and all(e.get("type") == "value_error" for e in detail)


def _classify(report: FuzzReport, case: Any, response: Any, responses: dict[str, Any]) -> None:
    status = response.status_code
    report.requests += 1
    report.statuses[status] += 1
    op = case.operation
    positive = case.meta is None or case.meta.generation.mode.is_positive

    def add(kind: str, answer: str) -> None:
        request = _short(
            {
                "path": case.path_parameters,
                "query": case.query,
                "body": case.body if case.body is not None else None,
            }
        )
        report.findings.append(Finding(kind, op.method.upper(), op.path, status, request, answer))

    if status >= 500:
        add("server_error", _short(response.text))
        return
    if str(status) not in responses:
        add("undocumented", _short(response.text))
        return
    for check in (response_schema_conformance, content_type_conformance):
        try:
            case.validate_response(response, checks=[check])
        except (Exception, BaseExceptionGroup) as exc:  # schemathesis raises its FailureGroup
            add("nonconforming", _short(str(exc), 600))
            return
    if not positive and status < 400:
        try:  # schemathesis's own judgement of what a negative case really breaks
            case.validate_response(response, checks=[negative_data_rejection])
        except (Exception, BaseExceptionGroup) as exc:
            add("invalid_accepted", _short(str(exc), 600))
            return
    if positive and 400 <= status < 500 and status not in (404, 409):
        if status == 422 and _only_cross_field(response, responses):
            report.cross_field_422 += 1
        else:
            add("rejected_valid", _short(response.text))


METHODS = ("GET", "PUT", "POST", "DELETE", "PATCH")


def check_allow(url: str, spec: dict[str, Any], report: FuzzReport) -> None:
    """Every method a path does not serve: 405 with ``Allow`` naming exactly its methods."""
    with httpx.Client(base_url=url, timeout=30) as c:
        for template, ops in spec["paths"].items():
            served = {m.upper() for m in ops}
            path = template.replace("{study_id}", "1").replace("{trial_id}", "1")
            path = path.replace("{ref}", "digits")
            for method in sorted(set(METHODS) - served):
                r = c.request(method, path)
                report.requests += 1
                report.statuses[r.status_code] += 1
                allow = {m.strip() for m in r.headers.get("allow", "").split(",") if m.strip()}
                if r.status_code != 405 or allow != served:
                    report.findings.append(
                        Finding(
                            "wrong_allow",
                            method,
                            template,
                            r.status_code,
                            f"Allow: {r.headers.get('allow')}",
                            f"expected 405 with Allow: {', '.join(sorted(served))}",
                        )
                    )


def fuzz_stateful(
    url: str, spec: dict[str, Any], report: FuzzReport, scenarios: int, seed: int | None = None
) -> None:
    """Scenarios that chain operations through the inferred links; every answer classified.
    The same scenarios every time without ``seed``; with one, a random run."""
    documented = _documented(spec)
    machine = schemathesis.openapi.from_dict(spec).as_state_machine()

    class Classified(machine):  # type: ignore[misc, valid-type]
        def get_call_kwargs(self, case: Any) -> dict[str, Any]:
            return {"base_url": url, "timeout": 30}

        def validate_response(self, response: Any, case: Any, **kwargs: Any) -> None:
            report.stateful += 1
            key = (case.operation.method.upper(), case.operation.path)
            _classify(report, case, response, documented[key])

    try:
        _run_machine(Classified, scenarios, seed)
    except FlakyStrategyDefinition:
        # The live api's answers made a scenario draw differently the second time hypothesis
        # looked at it: the phase stops there, and the requests sent until then count.
        report.stateful_stopped = True


def _run_machine(machine: Any, scenarios: int, seed: int | None) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        run_state_machine_as_test(
            machine,
            settings=settings(
                max_examples=scenarios,
                stateful_step_count=12,
                database=None,
                deadline=None,
                derandomize=seed is None,
                # Generate only: the answers (and so the bundles of ids) change from one run
                # of a scenario to the next, so hypothesis must not replay or shrink one.
                phases=[Phase.generate],
                suppress_health_check=list(HealthCheck),
            ),
        )


def fuzz(
    url: str,
    examples: int,
    *,
    stored_ids: dict[str, int] | None = None,
    seed: int | None = None,
    stateful_examples: int = 0,
) -> FuzzReport:
    """Send about ``examples`` requests per operation, generation mode and id kind to ``url``.

    Without ``seed`` the run is the same every time (derandomized); with one, another run."""
    spec = httpx.get(f"{url}/openapi.json", timeout=30).json()
    documented = _documented(spec)
    schema = schemathesis.openapi.from_dict(spec)
    report = FuzzReport()
    for result in schema.get_all_operations():
        op = result.ok()
        id_names = [p.name for p in op.path_parameters if p.name in ID_PARAMS]
        variants: list[dict[str, Any] | None] = [None]
        if stored_ids and id_names:
            variants.append({name: stored_ids[name] for name in id_names})
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            for path_parameters in variants:
                if path_parameters and mode is GenerationMode.NEGATIVE:
                    continue  # negative runs break the ids themselves
                strategy = op.as_strategy(generation_mode=mode, path_parameters=path_parameters)

                @hypothesis.seed(seed or 0)
                @settings(
                    max_examples=examples,
                    database=None,
                    deadline=None,
                    derandomize=seed is None,
                    phases=[Phase.generate],
                    suppress_health_check=list(HealthCheck),
                )
                @given(case=strategy)
                def run(case: Any) -> None:
                    response = case.call(base_url=url, timeout=30)
                    key = (case.operation.method.upper(), case.operation.path)
                    _classify(report, case, response, documented[key])

                with warnings.catch_warnings(), contextlib.suppress(Unsatisfiable):
                    warnings.simplefilter("ignore")
                    run()  # Unsatisfiable: nothing to break (a route without parameters)
    check_allow(url, spec, report)
    if stateful_examples:
        fuzz_stateful(url, spec, report, stateful_examples, seed)
    return report
