"""TLS material for a federation and site authentication by certificate (mutual TLS).

`make_certificates(folder, hosts, sites)` writes a federation CA (`ca.crt`, and `ca.key`, which
stays with the coordinator), a server certificate signed by it (`server.pem`, `server.key`) and one
client certificate per site (`<site>.pem`, `<site>.key`, common name = the site's name) with the
`cryptography` package Flower already needs; the documented command is
`deephealth federated certs FOLDER --host HOST --site NAME` (docs/federated.md). Run again with
more `--site`s, it keeps the CA and the server certificate and adds the new sites.

Site authentication (`federated.authenticate_sites`): Flower's own node authentication exists only
on the SuperLink's grpc-rere transport; on the gRPC (bidi) transport of `start_server` /
`start_client` this module adds it at the TLS layer: `serve` is `flwr.server.start_server` with a
server that requires a client certificate signed by the federation's CA (`require_client_auth`)
and, when `federated.allowed_sites` names them, one of those common names (`PERMISSION_DENIED`
otherwise); `site_identity` makes a site's gRPC channel present its certificate.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

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


def _name(cn: str) -> Any:
    from cryptography import x509
    from cryptography.x509.oid import NameOID

    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _write_key(path: Path, key: Any) -> None:
    from cryptography.hazmat.primitives import serialization

    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption(),
        )  # fmt: skip
    )
    path.chmod(0o600)


def _issue(ca: Any, ca_key: Any, cn: str, days: int, alt: list[Any] | None, client: bool
           ) -> tuple[Any, Any]:  # fmt: skip
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID

    now = dt.datetime.now(dt.timezone.utc)
    key = ec.generate_private_key(ec.SECP256R1())
    usage = ExtendedKeyUsageOID.CLIENT_AUTH if client else ExtendedKeyUsageOID.SERVER_AUTH
    builder = (
        x509.CertificateBuilder().subject_name(_name(cn)).issuer_name(ca.subject)
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now).not_valid_after(now + dt.timedelta(days=days))
        .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
    )  # fmt: skip
    if alt:
        builder = builder.add_extension(x509.SubjectAlternativeName(alt), critical=False)
    return builder.sign(ca_key, hashes.SHA256()), key


def make_certificates(folder: str | Path, hosts: Sequence[str] = ("localhost", "127.0.0.1"),
                      sites: Sequence[str] = (), days: int = 365) -> dict[str, Any]:  # fmt: skip
    """Write (or complete) a federation's CA, server certificate and site certificates.

    Args:
        folder: The output folder; an existing `ca.crt` + `ca.key` there is reused.
        hosts: The server's DNS names or IP addresses (its certificate's names).
        sites: Site names: one client certificate each (`<site>.pem`, `<site>.key`).
        days: Validity.

    Returns:
        {"ca", "certificate", "key"} (the server's `federated.tls`) and "sites": {site: {"ca",
        "certificate", "key"}} (each site's `federated.tls`).

    Raises:
        FederatedError: a site name that is not a plain file name.
    """
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    pem = serialization.Encoding.PEM
    ca_path, ca_key_path = out / "ca.crt", out / "ca.key"
    fresh = not (ca_path.is_file() and ca_key_path.is_file())
    if fresh:
        now = dt.datetime.now(dt.timezone.utc)
        ca_key: Any = ec.generate_private_key(ec.SECP256R1())
        ca = (
            x509.CertificateBuilder().subject_name(_name("deephealth federation CA"))
            .issuer_name(_name("deephealth federation CA")).public_key(ca_key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now)
            .not_valid_after(now + dt.timedelta(days=days))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(ca_key, hashes.SHA256())
        )  # fmt: skip
        ca_path.write_bytes(ca.public_bytes(pem))
        _write_key(ca_key_path, ca_key)
    else:
        ca = x509.load_pem_x509_certificate(ca_path.read_bytes())
        ca_key = serialization.load_pem_private_key(ca_key_path.read_bytes(), None)
    paths = {"ca": ca_path, "certificate": out / "server.pem", "key": out / "server.key"}
    if fresh or not paths["certificate"].is_file():
        alt: list[x509.GeneralName] = []
        for h in hosts:
            try:
                alt.append(x509.IPAddress(ipaddress.ip_address(h)))
            except ValueError:
                alt.append(x509.DNSName(h))
        cert, key = _issue(ca, ca_key, hosts[0], days, alt, client=False)
        paths["certificate"].write_bytes(cert.public_bytes(pem))
        _write_key(paths["key"], key)
    result: dict[str, Any] = {k: str(v) for k, v in paths.items()}
    result["sites"] = {}
    for site in sites:
        if not site or Path(site).name != site or site.startswith("."):
            raise FederatedError(f"certs --site {site!r}: a site name must be a plain file name")
        cert, key = _issue(ca, ca_key, site, days, None, client=True)
        (out / f"{site}.pem").write_bytes(cert.public_bytes(pem))
        _write_key(out / f"{site}.key", key)
        result["sites"][site] = {
            "ca": str(ca_path), "certificate": str(out / f"{site}.pem"), "key": str(out / f"{site}.key")
        }  # fmt: skip
    return result


def read_identity(tls: Mapping[str, str]) -> tuple[bytes, bytes] | None:
    """A site's (certificate, key) bytes from `federated.tls`, None when it names only the CA.

    Raises:
        FederatedError: only one of the two, or a file that cannot be read.
    """
    given = [k for k in ("certificate", "key") if tls.get(k)]
    if not given:
        return None
    if len(given) == 1:
        raise FederatedError(f"federated.tls: a site certificate needs both certificate and key, "
                             f"got only {given[0]}")  # fmt: skip
    out = []
    for k in ("certificate", "key"):
        try:
            out.append(Path(tls[k]).read_bytes())
        except OSError as err:
            raise FederatedError(f"federated.tls.{k}: cannot read {tls[k]}: {err}") from None
    return out[0], out[1]


@contextmanager
def site_identity(identity: tuple[bytes, bytes] | None) -> Iterator[None]:
    """Within the block, Flower's gRPC (bidi) client channels present the site's certificate.

    `flwr.client.start_client` takes only root certificates; its connection module's
    `create_channel` is swapped for one with the site's key and certificate chain, then restored.
    """
    if identity is None:
        yield
        return
    import grpc
    from flwr.compat.client.grpc_client import connection

    certificate, key = identity
    original = connection.create_channel

    def create_channel(server_address: str, insecure: bool, root_certificates: bytes | None = None,
                       max_message_length: int = 536_870_912, interceptors: Any = None
                       ) -> grpc.Channel:  # fmt: skip
        if insecure:
            raise FederatedError("a site certificate needs federated.tls.ca (TLS)")
        creds = grpc.ssl_channel_credentials(root_certificates, key, certificate)
        options = [("grpc.max_send_message_length", max_message_length),
                   ("grpc.max_receive_message_length", max_message_length)]  # fmt: skip
        return grpc.secure_channel(server_address, creds, options=options)

    connection.create_channel = create_channel
    try:
        yield
    finally:
        connection.create_channel = original


def serve(address: str, strategy: Any, config: Any, certificates: tuple[bytes, bytes, bytes],
          allowed_sites: Sequence[str] = ()) -> Any:  # fmt: skip
    """`flwr.server.start_server` that requires site certificates (module docstring).

    Args:
        address: host:port to listen on.
        strategy: The Flower strategy.
        config: Flower's `ServerConfig`.
        certificates: (CA certificate, server certificate, server key) PEM bytes; a site's
            certificate must be signed by this CA.
        allowed_sites: Certificate common names admitted (empty: any certificate of the CA).

    Returns:
        Flower's `History`.
    """
    from concurrent.futures import ThreadPoolExecutor

    import grpc
    from flwr.proto.transport_pb2_grpc import add_FlowerServiceServicer_to_server
    from flwr.server.server import init_defaults, run_fl
    from flwr.server.superlink.fleet.grpc_bidi.flower_service_servicer import (
        FlowerServiceServicer,
    )
    from flwr.supercore.logger import log

    allowed = set(allowed_sites)

    class SiteCheckingServicer(FlowerServiceServicer):  # type: ignore[misc]
        def Join(self, request_iterator: Any, context: grpc.ServicerContext) -> Any:
            names = {n.decode() for n in context.auth_context().get("x509_common_name", [])}
            if allowed and not names & allowed:
                context.abort(grpc.StatusCode.PERMISSION_DENIED,
                              f"site certificate {sorted(names)} is not in allowed_sites")  # fmt: skip
            return super().Join(request_iterator, context)

    server, cfg = init_defaults(server=None, config=config, strategy=strategy, client_manager=None)
    ca, cert, key = certificates
    grpc_server = grpc.server(ThreadPoolExecutor(max_workers=100), options=[
        ("grpc.max_send_message_length", 2**31 - 1), ("grpc.max_receive_message_length", 2**31 - 1),
    ])  # fmt: skip
    add_FlowerServiceServicer_to_server(SiteCheckingServicer(server.client_manager()), grpc_server)
    creds = grpc.ssl_server_credentials(((key, cert),), root_certificates=ca,
                                        require_client_auth=True)  # fmt: skip
    if not grpc_server.add_secure_port(address, creds):
        raise FederatedError(f"federated.address {address}: cannot listen there")
    grpc_server.start()
    log(20, "Flower gRPC server running (%s rounds), SSL is enabled, site certificates "
            "required%s", cfg.num_rounds, f" (allowed: {sorted(allowed)})" if allowed else "")  # fmt: skip
    try:
        return run_fl(server=server, config=cfg)
    finally:
        grpc_server.stop(grace=1)


def make_node_keys(folder: str | Path, sites: Sequence[str]) -> dict[str, dict[str, str]]:
    """Write one Flower node-authentication key pair per site (SuperLink/SuperNode engine).

    `<site>.node.key` (OpenSSH EC P-384 private key, mode 600: the site's `federated.node_key`)
    and `<site>.node.pub` (its public key: list it in the server's `federated.node_auth`).
    An existing pair is kept.

    Returns:
        {site: {"key", "public"}} paths.
    """
    from cryptography.hazmat.primitives import serialization as ser
    from cryptography.hazmat.primitives.asymmetric import ec

    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    pairs = {}
    for site in sites:
        if Path(site).name != site or not site.strip():
            raise FederatedError(f"site name {site!r} must be a plain file name")
        key, pub = out / f"{site}.node.key", out / f"{site}.node.pub"
        if not (key.is_file() and pub.is_file()):
            private = ec.generate_private_key(ec.SECP384R1())
            key.write_bytes(b"")
            key.chmod(0o600)
            key.write_bytes(
                private.private_bytes(
                    ser.Encoding.PEM, ser.PrivateFormat.OpenSSH, ser.NoEncryption()
                )
            )
            pub.write_bytes(
                private.public_key().public_bytes(ser.Encoding.OpenSSH, ser.PublicFormat.OpenSSH)
            )
        pairs[site] = {"key": str(key), "public": str(pub)}
    return pairs


__all__ = [
    "make_node_keys",
    "make_certificates",
    "read_ca",
    "read_identity",
    "read_tls",
    "serve",
    "site_identity",
]
