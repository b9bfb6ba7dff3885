"""The indexer's tests post through /submit as the app does (helpers shared with tests/ingest)."""
from tests.ingest.conftest import _fresh_policy_cache, samples  # noqa: F401  (fixtures)
