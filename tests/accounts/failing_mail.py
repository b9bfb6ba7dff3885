"""An e-mail backend whose server always hangs up: for the tests of retries."""
from __future__ import annotations

import smtplib

from django.core.mail.backends.base import BaseEmailBackend


class Backend(BaseEmailBackend):
    def send_messages(self, email_messages):
        raise smtplib.SMTPServerDisconnected("Connection unexpectedly closed")
