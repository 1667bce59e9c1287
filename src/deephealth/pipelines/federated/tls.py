"""TLS material for a federation: read the PEM files named in `federated.tls`, or make a test CA.

`make_certificates(folder, hosts)` writes a self-signed CA and a server certificate signed by it
(`ca.crt`, `server.pem`, `server.key`) with the `cryptography` package Flower already needs; the
documented command is `deephealth federated certs FOLDER --host HOST` (docs/federated.md).
"""

from __future__ import annotations

import datetime as dt
import ipaddress
from collections.abc import Mapping, Sequence
from pathlib import Path

from deephealth.pipelines.federated import FederatedError


def read_tls(tls: Mapping[str, str]) -> tuple[bytes, bytes, bytes]:
    """(CA certificate, server certificate, server key) bytes of `federated.tls`.

    Raises:
        FederatedError: a file that cannot be read, naming its key.
    """
    out = []
    for key in ("ca", "certificate", "key"):
        if not tls.get(key):
            raise FederatedError(f"federated.tls.{key}: the server needs it (a PEM file)")
        try:
            out.append(Path(tls[key]).read_bytes())
        except OSError as err:
            raise FederatedError(f"federated.tls.{key}: cannot read {tls[key]}: {err}") from None
    return out[0], out[1], out[2]


def read_ca(tls: Mapping[str, str]) -> bytes:
    """The CA certificate a site checks the server against (`federated.tls.ca`).

    Raises:
        FederatedError: the file cannot be read.
    """
    try:
        return Path(tls["ca"]).read_bytes()
    except OSError as err:
        raise FederatedError(f"federated.tls.ca: cannot read {tls['ca']}: {err}") from None


def make_certificates(folder: str | Path, hosts: Sequence[str] = ("localhost", "127.0.0.1"),
                      days: int = 365) -> dict[str, str]:  # fmt: skip
    """Write a CA and a server certificate for `hosts` (DNS names or IP addresses).

    Returns:
        {"ca", "certificate", "key"}: the paths, ready for `federated.tls`.
    """
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    now = dt.datetime.now(dt.timezone.utc)

    def name(cn: str) -> x509.Name:
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (
        x509.CertificateBuilder().subject_name(name("deephealth federation CA"))
        .issuer_name(name("deephealth federation CA")).public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(now)
        .not_valid_after(now + dt.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )  # fmt: skip
    alt: list[x509.GeneralName] = []
    for h in hosts:
        try:
            alt.append(x509.IPAddress(ipaddress.ip_address(h)))
        except ValueError:
            alt.append(x509.DNSName(h))
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder().subject_name(name(hosts[0])).issuer_name(ca.subject)
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now).not_valid_after(now + dt.timedelta(days=days))
        .add_extension(x509.SubjectAlternativeName(alt), critical=False)
        .sign(ca_key, hashes.SHA256())
    )  # fmt: skip
    pem = serialization.Encoding.PEM
    paths = {"ca": out / "ca.crt", "certificate": out / "server.pem", "key": out / "server.key"}
    paths["ca"].write_bytes(ca.public_bytes(pem))
    paths["certificate"].write_bytes(cert.public_bytes(pem))
    paths["key"].write_bytes(
        key.private_bytes(
            pem, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()
        )  # fmt: skip
    )
    paths["key"].chmod(0o600)
    return {k: str(v) for k, v in paths.items()}


__all__ = ["make_certificates", "read_ca", "read_tls"]
