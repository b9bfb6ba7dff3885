"""A self-signed certificate for 127.0.0.1 and localhost, made with openssl for one run.

Clients trust exactly this certificate: Python through an SSL context (or SSL_CERT_FILE) that
holds only it, Chromium through the SHA-256 pin of its public key.
"""
from __future__ import annotations

import base64
import hashlib
import ssl
import subprocess
from dataclasses import dataclass
from pathlib import Path

from ops.prodcheck.errors import SetupError


@dataclass(frozen=True)
class Certificate:
    cert: Path
    key: Path
    spki_sha256: str   # base64 SHA-256 of the public key, for --ignore-certificate-errors-spki-list

    def client_context(self) -> ssl.SSLContext:
        """Verifies the server against this certificate only (hostname checked too)."""
        return ssl.create_default_context(cafile=str(self.cert))


def _openssl(openssl: str, *args: str) -> str:
    proc = subprocess.run([openssl, *args], capture_output=True, text=True)
    if proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        raise SetupError(f"openssl {args[0]} failed: {last}")
    return proc.stdout


def make_certificate(openssl: str, directory: Path, days: int = 2) -> Certificate:
    directory.mkdir(parents=True, exist_ok=True)
    cert, key = directory / "cert.pem", directory / "key.pem"
    _openssl(openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
             "-nodes", "-keyout", str(key), "-out", str(cert), "-days", str(days),
             "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost")
    key.chmod(0o600)
    # A PEM "PUBLIC KEY" block is the DER SubjectPublicKeyInfo, base64-encoded.
    pem = _openssl(openssl, "x509", "-in", str(cert), "-noout", "-pubkey")
    spki = base64.b64decode("".join(line for line in pem.splitlines() if "-----" not in line))
    return Certificate(cert, key, base64.b64encode(hashlib.sha256(spki).digest()).decode())
