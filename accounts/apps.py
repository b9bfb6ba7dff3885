from django.apps import AppConfig


class AccountsConfig(AppConfig):
    """Volunteer accounts: sign up, app codes for the CRAYFIS app, JSON API devices and keys."""

    name = "accounts"
