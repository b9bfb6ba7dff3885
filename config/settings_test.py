"""Test settings: the real settings with a fixed throw-away SECRET_KEY (DEBUG stays off)."""
import os

os.environ.setdefault("SECRET_KEY", "test-only-secret-key-not-for-production-use-0123456789")

from config.settings import *  # noqa: F403

# Fast password hashing: tests create users; the production hasher costs ~1 s each here.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
