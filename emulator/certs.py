"""A private certificate authority and a server certificate for the emulator's HTTPS listener.

The CA is created once under the data directory and reused on later starts, so a portal that trusts
`<data dir>/ca.pem` keeps trusting the emulator across restarts. The server certificate is re-issued
(by the same CA) when it is close to expiry or lacks a host name that was asked for.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import ipaddress
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

CA_NAME = "KV Defender Console Emulator CA"
_RENEW_BEFORE = dt.timedelta(days=30)


@dataclass(frozen=True)
class CertPaths:
    ca_cert: Path
    ca_key: Path
    server_cert: Path
    server_key: Path


def _paths(data_dir: Path) -> CertPaths:
    return CertPaths(
        ca_cert=data_dir / "ca.pem",
        ca_key=data_dir / "ca-key.pem",
        server_cert=data_dir / "server.pem",
        server_key=data_dir / "server-key.pem",
    )


def _write_private(path: Path, data: bytes) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
    tmp.replace(path)


def _write_public(path: Path, data: bytes) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_bytes(data)
    tmp.replace(path)


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _create_ca(paths: CertPaths) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, CA_NAME)])
    now = dt.datetime.now(dt.UTC)
    ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(ski, critical=False)
        .sign(key, hashes.SHA256())
    )
    _write_private(paths.ca_key, _key_pem(key))
    _write_public(paths.ca_cert, cert.public_bytes(serialization.Encoding.PEM))
    return cert, key


def _load_ca(paths: CertPaths) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey] | None:
    if not (paths.ca_cert.exists() and paths.ca_key.exists()):
        return None
    try:
        cert = x509.load_pem_x509_certificate(paths.ca_cert.read_bytes())
        key = serialization.load_pem_private_key(paths.ca_key.read_bytes(), password=None)
    except (ValueError, TypeError):
        return None
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        return None
    if cert.not_valid_after_utc - _RENEW_BEFORE < dt.datetime.now(dt.UTC):
        return None
    return cert, key


def _server_cert_ok(paths: CertPaths, ca: x509.Certificate, hosts: list[str]) -> bool:
    if not (paths.server_cert.exists() and paths.server_key.exists()):
        return False
    try:
        cert = x509.load_pem_x509_certificate(paths.server_cert.read_bytes())
    except ValueError:
        return False
    if cert.issuer != ca.subject or cert.not_valid_after_utc - _RENEW_BEFORE < dt.datetime.now(dt.UTC):
        return False
    try:
        cert.verify_directly_issued_by(ca)
    except (ValueError, TypeError, InvalidSignature):
        return False
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return False
    present = {str(v) for v in san.get_values_for_type(x509.IPAddress)} | set(
        san.get_values_for_type(x509.DNSName)
    )
    return all(h in present for h in hosts)


def _san_entries(hosts: list[str]) -> list[x509.GeneralName]:
    entries: list[x509.GeneralName] = []
    for host in hosts:
        try:
            entries.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            entries.append(x509.DNSName(host))
    return entries


def _issue_server(
    paths: CertPaths, ca: x509.Certificate, ca_key: ec.EllipticCurvePrivateKey, hosts: list[str]
) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hosts[0])]))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(days=397))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=True,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectAlternativeName(_san_entries(hosts)), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    _write_private(paths.server_key, _key_pem(key))
    _write_public(paths.server_cert, cert.public_bytes(serialization.Encoding.PEM))


def ensure_certificates(data_dir: Path, extra_hosts: list[str] | None = None) -> CertPaths:
    """Create (or reuse) the CA and a server certificate valid for 127.0.0.1, localhost and extra_hosts."""
    data_dir.mkdir(parents=True, exist_ok=True)
    paths = _paths(data_dir)
    hosts = ["127.0.0.1", "localhost"]
    for host in extra_hosts or []:
        if host and host not in hosts:
            hosts.append(host)
    # Two emulators starting on one data dir at once must not write mismatched keys and certificates.
    with open(data_dir / ".certs.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        loaded = _load_ca(paths)
        if loaded is None:
            ca, ca_key = _create_ca(paths)
            _issue_server(paths, ca, ca_key, hosts)
            return paths
        ca, ca_key = loaded
        if not _server_cert_ok(paths, ca, hosts):
            _issue_server(paths, ca, ca_key, hosts)
    return paths


def ensure_azurite_certificate(data_dir: Path) -> tuple[Path, Path]:
    """(certificate, key) PEM files for Azurite's HTTPS listener on 127.0.0.1 / localhost, issued by the emulator's
    CA (created with `ensure_certificates` first), so a client trusting `ca.pem` trusts Azurite too."""
    ca_paths = ensure_certificates(data_dir)
    paths = CertPaths(
        ca_cert=ca_paths.ca_cert,
        ca_key=ca_paths.ca_key,
        server_cert=data_dir / "azurite.pem",
        server_key=data_dir / "azurite-key.pem",
    )
    hosts = ["127.0.0.1", "localhost"]
    with open(data_dir / ".certs.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        loaded = _load_ca(paths)
        if loaded is None:  # ensure_certificates just made it; only a concurrent rewrite gets here
            raise RuntimeError(f"the emulator CA in {data_dir} could not be loaded")
        ca, ca_key = loaded
        if not _server_cert_ok(paths, ca, hosts):
            _issue_server(paths, ca, ca_key, hosts)
    return paths.server_cert, paths.server_key
