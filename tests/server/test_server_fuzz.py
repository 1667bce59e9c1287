"""Property-based fuzzing of the whole REST API from its OpenAPI schema (Schemathesis +
Hypothesis), as a project owner and as the admin, both logged in by session cookie with the CSRF
header: no request may cause a server error (5xx) and every response must match the schema.

The budget is bounded: `FUZZ_EXAMPLES` generated cases per operation (about a minute in all on
one core). Excluded: logging out and admin password resets (they would end the fuzzing sessions)
and the server-sent event stream (it stays open while a job runs).
"""

from __future__ import annotations

import os

import _server_helpers as helpers
import pytest

schemathesis = pytest.importorskip("schemathesis")
from hypothesis import HealthCheck, Phase, given, settings  # noqa: E402
from schemathesis.checks import not_a_server_error  # noqa: E402
from schemathesis.core.failures import FailureGroup  # noqa: E402
from schemathesis.specs.openapi.checks import response_schema_conformance  # noqa: E402

from deephealth.server.app import create_app  # noqa: E402
from deephealth.server.config import ServerConfig  # noqa: E402

FUZZ_EXAMPLES = int(os.environ.get("DEEPHEALTH_FUZZ_EXAMPLES", "6"))
EXCLUDED = r"^/api/auth/logout$|^/api/admin/users/\{user_id\}/password$|/stream$"


@pytest.fixture(scope="module")
def fuzz_app(tmp_path_factory):
    root = tmp_path_factory.mktemp("fuzz")
    (root / "approved").mkdir()
    config = ServerConfig(
        data_dir=root / "data",
        approved_folders=[root / "approved"],
        workers=0,
        max_upload_bytes=8 * 1024 * 1024,
        max_image_upload_bytes=4 * 1024 * 1024,
        argon2_time_cost=1,
        argon2_memory_kib=1024,
        login_ip_limit=100_000,
    )
    app = create_app(config)
    admin = helpers.signup(app, "admin@example.org")
    owner = helpers.signup(app, "owner@example.org")
    # Objects for the generated ids to find: project 1, dataset 1, weights 1.
    p = owner.post("/api/projects", json={"name": "fuzz", "task": "classification"}).json()
    ds = tmp_path_factory.mktemp("fuzzds")
    helpers.make_dataset_dir(ds, n=6)
    r = owner.post(
        f"/api/projects/{p['id']}/datasets",
        files={"file": ("d.zip", helpers.zip_folder(ds), "application/zip")},
    )
    assert r.status_code == 201, r.text
    onnx = helpers.tiny_classifier_onnx(tmp_path_factory.mktemp("fuzzonnx") / "m.onnx")
    r = owner.post(
        f"/api/projects/{p['id']}/weights",
        files={"file": ("m.onnx", onnx.read_bytes(), "application/octet-stream")},
        data={"name": "m"},
    )
    assert r.status_code == 201, r.text
    app.state.fuzz_users = [
        ({"X-CSRF-Token": c.csrf}, {"dh_session": c.cookies.get("dh_session")})
        for c in (owner, admin)
    ]
    yield app
    app.state.engine.dispose()


def _fuzz(operation, users: list, failures: list[str]) -> int:
    """Run `FUZZ_EXAMPLES` generated cases of one operation as every user; returns the calls."""
    calls = 0

    @given(case=operation.as_strategy())
    @settings(
        max_examples=FUZZ_EXAMPLES,
        deadline=None,
        derandomize=True,
        database=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    def run(case):
        nonlocal calls
        for headers, cookies in users:
            calls += 1
            try:
                case.call_and_validate(
                    headers=headers,
                    cookies=cookies,
                    checks=[not_a_server_error, response_schema_conformance],
                )
            except (Exception, FailureGroup) as err:
                failures.append(f"{operation.label}: {str(err)[:800]}")

    run()
    return calls


def test_api_fuzz(fuzz_app):
    schema = schemathesis.openapi.from_asgi("/openapi.json", fuzz_app).exclude(path_regex=EXCLUDED)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) > 40
    failures: list[str] = []
    calls = sum(_fuzz(op, fuzz_app.state.fuzz_users, failures) for op in operations)
    print(f"fuzz: {len(operations)} operations, {calls} requests, {len(failures)} failures")
    assert not failures, "\n\n".join(failures[:20])
