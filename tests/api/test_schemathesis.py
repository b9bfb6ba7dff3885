"""Property-based run of the whole API against its own OpenAPI schema (schemathesis).

A live server on 127.0.0.1 serves /api/schema/; schemathesis generates requests from it (valid
and invalid), sends them with a device key (uploads) or a scientist key (reads), and checks
every response: no 5xx, a documented status code and content type, and a body that matches the
documented schema. Reads run against a small real index, so hit/candidate items are checked too.
Bounded: 12 valid and 12 invalid examples per operation, no deadline.
"""
from __future__ import annotations

import itertools
import json
import uuid
from collections import Counter

import pytest
import schemathesis
from django.conf import settings as dj
from django.contrib.auth.models import Permission, User
from elasticsearch.helpers import bulk
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from schemathesis import GenerationMode
from schemathesis.specs.openapi.checks import positive_data_acceptance

from accounts.services import new_scientist_key, register_device
from crayfis.es.documents import build_actions
from crayfis.es.templates import ensure_templates
from crayfis.wire.jsonapi import decode_upload
from tests.api.conftest import T0, upload_body
from tests.conftest import _delete_prefixed

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def api_schema(live_server, settings, es):
    settings.CRAYFIS_API_DEVICE_UPLOAD_RATE = "100000/min"
    settings.CRAYFIS_API_SCIENTIST_READ_RATE = "100000/min"
    settings.CRAYFIS_API_ANON_READ_RATE = "100000/min"
    prefix = f"t{uuid.uuid4().hex[:12]}"
    settings.CRAYFIS_ES_PREFIX = prefix
    ensure_templates(es, prefix)
    chunk = decode_upload(json.dumps(upload_body(n_hits=20, t0=T0)).encode(), "api-schemathesis")
    bulk(es, build_actions(chunk, prefix=prefix, key=dj.CRAYFIS_PSEUDONYM_KEY))
    es.index(index=f"{prefix}-candidates", id="c1", document={
        "candidate_id": "c1", "hit_ids": ["a", "b", "c"], "devices": ["d0123456789abcdef"], "n_hits": 3,
        "n_devices": 3, "t_start_ms": T0 + 5, "t_end_ms": T0 + 50, "location": {"lat": 1.0, "lon": 2.0},
        "cell": "1.05,2.05", "cell_location": {"lat": 1.05, "lon": 2.05}, "p_value": 0.001,
        "source": "continuous"})
    es.indices.refresh(index=f"{prefix}-*")

    user = User.objects.create_user("schemathesis")
    _, device_key = register_device(user, "fuzz device", "other")
    user.user_permissions.add(Permission.objects.get(codename="read_exact_hits"))
    sci_key = new_scientist_key(User.objects.get(pk=user.pk), "fuzz")
    schema = schemathesis.openapi.from_url(f"{live_server.url}/api/schema/?format=json")
    yield schema, {"POST": device_key, "GET": sci_key}
    _delete_prefixed(es, prefix)


# 400s for rules JSON Schema cannot state, documented in the operation descriptions: an opaque
# cursor must come from this API; an exposure block ends after it starts; (t_ms, t_ns) is unique
# within a block. Only these may reject schema-valid data.
_BEYOND_SCHEMA = ("not a cursor from this API", "end_ms is before start_ms", "same (t_ms, t_ns) as hits[")


def _rule_beyond_schema(response) -> bool:
    if response.status_code != 400:
        return False
    errors = response.json().get("errors") or []
    return bool(errors) and all(any(m in e["message"] for m in _BEYOND_SCHEMA) for e in errors)



def _conformance_check(op, mode, headers: dict, seen: Counter):
    """A Hypothesis test of one operation in one generation mode, counting the statuses it saw."""

    @hsettings(max_examples=12, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True,
               database=None)
    @given(case=op.as_strategy(generation_mode=mode))
    def check(case):
        response = case.call(headers=headers)
        seen[(op.method.upper(), op.path, mode.value, response.status_code)] += 1
        excluded = [positive_data_acceptance] if _rule_beyond_schema(response) else []
        case.validate_response(response, headers=headers, excluded_checks=excluded)

    return check

def test_api_conforms_to_its_schema(api_schema):
    schema, keys = api_schema
    operations = [result.ok() for result in schema.get_all_operations()]
    assert sorted(f"{op.method.upper()} {op.path}" for op in operations) == [
        "GET /api/v1/candidates", "GET /api/v1/hits", "GET /api/v1/network/stats", "POST /api/v1/uploads"]
    seen: Counter = Counter()
    for op, mode in itertools.product(operations, [GenerationMode.POSITIVE, GenerationMode.NEGATIVE]):
        _conformance_check(op, mode, {"Authorization": f"Api-Key {keys[op.method.upper()]}"}, seen)()
    # not vacuous: valid uploads were stored, reads answered, invalid requests refused
    assert seen[("POST", "/api/v1/uploads", "positive", 202)] > 0
    for path in ("/api/v1/hits", "/api/v1/candidates", "/api/v1/network/stats"):
        assert seen[("GET", path, "positive", 200)] > 0, path
        assert seen[("GET", path, "negative", 400)] > 0, path
    assert seen[("POST", "/api/v1/uploads", "negative", 400)] > 0
