"""Settings come from the environment; production refuses the generated development key."""
import os
import subprocess
import sys
from pathlib import Path

import pytest

from config.env import env_bool, env_int

REPO = Path(__file__).resolve().parents[2]


def _load_settings(env: dict) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if k not in ("SECRET_KEY", "CRAYFIS_DEBUG", "DJANGO_SETTINGS_MODULE")}
    clean.update(env)
    code = "import config.settings as s; print(s.DEBUG, s.DATABASES['default']['ENGINE'], s.CRAYFIS_ES_URL)"
    return subprocess.run([sys.executable, "-c", code], cwd=REPO, env=clean, capture_output=True, text=True)


def test_production_refuses_missing_secret_key(tmp_path):
    """Settings load without a secret (ops.checks): the commands that need one refuse to run."""
    clean = {k: v for k, v in os.environ.items() if k not in ("SECRET_KEY", "CRAYFIS_DEBUG", "DJANGO_SETTINGS_MODULE")}
    proc = subprocess.run([sys.executable, "manage.py", "check"], cwd=REPO, capture_output=True, text=True,
                          env={**clean, "CRAYFIS_VAR_DIR": str(tmp_path)})
    assert proc.returncode != 0
    assert "SECRET_KEY is not set" in proc.stderr


def test_debug_generates_and_keeps_a_development_key(tmp_path):
    first = _load_settings({"CRAYFIS_DEBUG": "1", "CRAYFIS_VAR_DIR": str(tmp_path)})
    assert first.returncode == 0, first.stderr
    key = (tmp_path / "dev_secret_key").read_text()
    second = _load_settings({"CRAYFIS_DEBUG": "1", "CRAYFIS_VAR_DIR": str(tmp_path)})
    assert second.returncode == 0
    assert (tmp_path / "dev_secret_key").read_text() == key
    assert first.stdout.split()[:2] == ["True", "django.db.backends.sqlite3"]


def test_database_url_and_es_url_are_read(tmp_path):
    proc = _load_settings({"SECRET_KEY": "x" * 40, "CRAYFIS_VAR_DIR": str(tmp_path),
                           "DATABASE_URL": "postgres://u:p@db.example:5432/crayfis",
                           "CRAYFIS_ES_URL": "http://es.example:9200"})
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["False", "django.db.backends.postgresql", "http://es.example:9200"]


def test_env_helpers_reject_garbage(monkeypatch):
    monkeypatch.setenv("X_BOOL", "maybe")
    with pytest.raises(ValueError, match="X_BOOL"):
        env_bool("X_BOOL")
    monkeypatch.setenv("X_INT", "12a")
    with pytest.raises(ValueError, match="X_INT"):
        env_int("X_INT", 1)


def test_production_settings_hold_nothing_for_tests_or_benchmarks(tmp_path):
    """Test-only settings live in tests/settings.py, the DRF baseline's in bench/drf_baseline."""
    code = ("import config.settings as s; print(s.ROOT_URLCONF, 'TEST' in s.DATABASES['default'], "
            "hasattr(s, 'PASSWORD_HASHERS'), any('bench' in name.lower() for name in dir(s)))")
    env = {k: v for k, v in os.environ.items() if k not in ("CRAYFIS_DEBUG", "DJANGO_SETTINGS_MODULE")}
    env.update({"SECRET_KEY": "x" * 40, "CRAYFIS_VAR_DIR": str(tmp_path)})
    proc = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["config.urls", "False", "False", "False"]
