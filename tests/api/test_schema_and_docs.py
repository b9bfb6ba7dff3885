"""The OpenAPI document and the offline Swagger UI a third-party client integrates from."""
from __future__ import annotations

import json

import msgspec
import pytest
from django.contrib.staticfiles import finders
from drf_spectacular.validation import validate_schema

from api.schema import UPLOAD_EXAMPLE, _nullable_3_0
from crayfis.wire import jsonapi
from crayfis.wire.jsonapi import validate_upload

pytestmark = pytest.mark.django_db


def test_schema_is_valid_openapi_and_documents_v1_only(client):
    resp = client.get("/api/schema/?format=json")
    assert resp.status_code == 200
    schema = json.loads(resp.content)
    validate_schema(schema)
    assert set(schema["paths"]) == {"/api/v1/uploads", "/api/v1/hits", "/api/v1/candidates", "/api/v1/network/stats"}
    assert schema["components"]["securitySchemes"]["ApiKeyAuth"] == {
        "type": "apiKey", "in": "header", "name": "Authorization",
        "description": schema["components"]["securitySchemes"]["ApiKeyAuth"]["description"]}
    upload = schema["paths"]["/api/v1/uploads"]["post"]
    assert upload["requestBody"]["required"] is True
    assert upload["requestBody"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Upload"}
    assert upload["security"] == [{"ApiKeyAuth": []}]                    # no anonymous uploads
    assert {"202", "400", "401", "403", "409", "413", "415", "429", "503"} <= set(upload["responses"])
    assert schema["paths"]["/api/v1/hits"]["get"]["security"] == [{"ApiKeyAuth": []}, {}]
    hits_200 = schema["paths"]["/api/v1/hits"]["get"]["responses"]["200"]["content"]
    assert set(hits_200) == {"application/json", "application/x-ndjson", "application/vnd.apache.parquet"}


def test_upload_schema_comes_from_the_validating_structs(client):
    """One source of truth: the documented body is msgspec's own schema of crayfis.wire.jsonapi."""
    schema = json.loads(client.get("/api/schema/?format=json").content)
    _, components = msgspec.json.schema_components([jsonapi.Upload], ref_template="#/components/schemas/{name}")
    for name, expected in components.items():
        assert schema["components"]["schemas"][name] == _nullable_3_0(expected), name
    hit = schema["components"]["schemas"]["Hit"]
    assert hit["required"] == ["t_ms"] and hit["additionalProperties"] is False
    assert hit["properties"]["location"] == {"default": None, "allOf": [{"$ref": "#/components/schemas/Location"}],
                                             "nullable": True}


def test_the_documented_example_is_accepted(client):
    upload = validate_upload(json.dumps(UPLOAD_EXAMPLE).encode())
    assert len(upload.blocks[0].hits) == 2


def test_swagger_ui_is_served_from_local_static_files(client):
    """The page and its start-up script (a file of its own: the Content-Security-Policy allows no
    inline script) load only this site's files and read this site's schema."""
    resp = client.get("/api/docs/")
    assert resp.status_code == 200
    page = resp.content.decode()
    assert "<script>" not in page and '<script src="/api/docs/?script="></script>' in page
    script = client.get("/api/docs/?script=")
    assert script.status_code == 200 and "/api/schema/" in script.content.decode()
    assert "cdn." not in page and "unpkg" not in page and "jsdelivr" not in page
    for asset in ("drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js",
                  "drf_spectacular_sidecar/swagger-ui-dist/swagger-ui.css"):
        assert f"/static/{asset}" in page
        assert finders.find(asset), asset


def test_the_schema_carries_the_integration_guide(client):
    """A third-party client integrates from /api/docs/ alone: keys, units, idempotency, paging, privacy."""
    info = json.loads(client.get("/api/schema/?format=json").content)["info"]
    for needle in ("/accounts/signup/", "Api-Key <key>", "Unix milliseconds", "upload_id", "409",
                   "format=ndjson", "next_cursor", "pseudonyms", "0.1-degree", "Retry-After"):
        assert needle in info["description"], needle
