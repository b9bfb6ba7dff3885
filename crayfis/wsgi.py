"""WSGI entry point (gunicorn crayfis.wsgi)."""
import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "crayfis.settings")
application = get_wsgi_application()
