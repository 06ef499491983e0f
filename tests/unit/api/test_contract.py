"""The OpenAPI document lists the status codes the api answers, with SageMaker's error body; no 422."""

from __future__ import annotations

from tunestream.api.app import create_app
from tunestream.config import Settings


def test_openapi_states_the_real_codes() -> None:
    spec = create_app(Settings()).openapi()
    operations = {(method.upper(), path): op for path, item in spec["paths"].items() for method, op in item.items()}
    assert len(operations) >= 12
    for (method, path), op in operations.items():
        codes = set(op["responses"])
        assert "422" not in codes, (method, path)
        if path in ("/healthz", "/readyz"):
            continue
        assert {"200", "400", "401", "503"} <= codes, (method, path, codes)
        body = op["responses"]["400"]["content"]["application/json"]["schema"]
        assert body == {"$ref": "#/components/schemas/ErrorBody"}
    assert "404" in operations[("GET", "/tuning-jobs/{name}")]["responses"]
    assert "409" in operations[("DELETE", "/tuning-jobs/{name}")]["responses"]
    assert "409" in operations[("POST", "/tuning-jobs")]["responses"]
    assert "503" in operations[("GET", "/readyz")]["responses"]
    schemas = spec["components"]["schemas"]
    assert "HTTPValidationError" not in schemas
    assert set(schemas["ErrorBody"]["properties"]) == {"__type", "message", "errors"}
    assert schemas["ErrorBody"]["required"] == ["__type", "message"]
