"""Test TLS certificates: a CA of our own and a server certificate for localhost / 127.0.0.1."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

__all__ = ["CertificateError", "TlsFiles", "make_certificates", "run_tool"]


class CertificateError(RuntimeError):
    """A tool (openssl, mosquitto_passwd) failed; the message has its error output."""


@dataclass(frozen=True)
class TlsFiles:
    ca: Path
    cert: Path
    key: Path


def run_tool(command: list[str]) -> None:
    try:
        subprocess.run(command, check=True, capture_output=True, timeout=60)
    except (OSError, subprocess.SubprocessError) as exc:
        detail = getattr(exc, "stderr", b"") or b""
        raise CertificateError(
            f"{command[0]} failed: {exc} {detail.decode(errors='replace')[-500:]}"
        ) from None


def make_certificates(folder: Path) -> TlsFiles:
    """``ca.crt``, ``server.crt`` and ``server.key`` in ``folder`` (EC keys: fast; 2 days).

    Raises:
        CertificateError: openssl is missing or failed.
    """
    key = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    files = TlsFiles(folder / "ca.crt", folder / "server.crt", folder / "server.key")
    run_tool(["openssl", "req", "-x509", *key, "-keyout", str(folder / "ca.key"),
              "-out", str(files.ca), "-days", "2", "-subj", "/CN=citybrain test CA"])  # fmt: skip
    run_tool(["openssl", "req", *key, "-keyout", str(files.key),
              "-out", str(folder / "server.csr"), "-subj", "/CN=localhost"])  # fmt: skip
    (folder / "san.ext").write_text("subjectAltName=DNS:localhost,IP:127.0.0.1\n")
    run_tool(["openssl", "x509", "-req", "-in", str(folder / "server.csr"), "-CA", str(files.ca),
              "-CAkey", str(folder / "ca.key"), "-CAcreateserial", "-out", str(files.cert),
              "-days", "2", "-extfile", str(folder / "san.ext")])  # fmt: skip
    return files
