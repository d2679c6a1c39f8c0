"""Schemathesis against a live api, from its own OpenAPI document: no 5xx, no status the
document doesn't list, every body as documented, and no schema-valid request rejected (except
by the rules across fields that each route's 422 documents; see ``tests/openapi_fuzz.py``).

Also: no schema-invalid request accepted, every method a path does not serve answered 405 with
the right ``Allow``, and a short stateful phase. A bounded run (about 750 requests per backend);
``bench/bench_fuzz.py`` runs a long one."""

from __future__ import annotations

from tests.openapi_fuzz import fuzz, seed_objects

EXAMPLES = 10  # per operation, generation mode and id kind


def test_fuzzed_requests_get_documented_answers(api_url: str) -> None:
    report = fuzz(api_url, EXAMPLES, stored_ids=seed_objects(api_url), stateful_examples=10)
    summary = report.summary()
    assert report.requests >= 400, summary
    shown = "\n".join(str(f) for f in report.findings[:10])
    assert not report.findings, f"{summary}\n{shown}"
    # The run reached the stored objects, not only unknown ids.
    assert summary["statuses"].get(200, 0) > 50 and summary["statuses"].get(409, 0) > 0, summary
