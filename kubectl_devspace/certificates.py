"""TLS material for the workspace's Docker daemon.

The daemon in the ``dind`` container listens on ``tcp://127.0.0.1:2376``
with ``--tlsverify``, so both ends need certificates from one CA: the daemon
a server certificate valid for ``localhost`` and ``127.0.0.1``, the tunnel
container's Docker client a client certificate. The CA's private key signs
both certificates once and is then discarded: it is never returned or stored,
so no one can issue more certificates for this daemon.
"""

import datetime
import ipaddress

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from .manifests import BUNDLE_KEYS, CA_CERT, CLIENT_CERT, CLIENT_KEY, SERVER_CERT, SERVER_KEY

# Ten years: the Secret is created once and reused by every later `create`,
# and the certificates are not rotated.
VALIDITY = datetime.timedelta(days=3650)

# Backdating covers clock skew between this machine and the node.
BACKDATE = datetime.timedelta(hours=1)


def generate_docker_tls(workspace, now=None):
    """Generate a CA, a server and a client certificate for ``workspace``'s daemon.

    Returns a dict of PEM bytes keyed by ``BUNDLE_KEYS``.
    """
    now = now or datetime.datetime.now(datetime.timezone.utc)
    not_before = now - BACKDATE
    not_after = now + VALIDITY

    ca_key = _new_key()
    ca_name = _name("kubectl-devspace Docker CA", workspace)
    ca_cert = _ca_certificate(ca_key, ca_name, not_before, not_after)

    server_key = _new_key()
    server_cert = _leaf_certificate(
        subject=_name("dockerd", workspace),
        public_key=server_key.public_key(),
        ca_key=ca_key,
        ca_cert=ca_cert,
        usage=ExtendedKeyUsageOID.SERVER_AUTH,
        not_before=not_before,
        not_after=not_after,
        alternative_names=[x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))],
    )

    client_key = _new_key()
    client_cert = _leaf_certificate(
        subject=_name("docker client", workspace),
        public_key=client_key.public_key(),
        ca_key=ca_key,
        ca_cert=ca_cert,
        usage=ExtendedKeyUsageOID.CLIENT_AUTH,
        not_before=not_before,
        not_after=not_after,
    )

    return {
        CA_CERT: _certificate_pem(ca_cert),
        SERVER_CERT: _certificate_pem(server_cert),
        SERVER_KEY: _key_pem(server_key),
        CLIENT_CERT: _certificate_pem(client_cert),
        CLIENT_KEY: _key_pem(client_key),
    }


def is_complete(bundle):
    """Return True when ``bundle`` (Secret data) contains every certificate and key."""
    return all(bundle.get(key) for key in BUNDLE_KEYS)


def _new_key():
    return ec.generate_private_key(ec.SECP256R1())


def _name(common_name, workspace):
    # X.509 limits each attribute to 64 characters; workspace names have at most 52.
    return x509.Name([
        x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, workspace),
        x509.NameAttribute(NameOID.COMMON_NAME, common_name),
    ])


def _ca_certificate(key, name, not_before, not_after):
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_key_usage(cert_sign=True), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
    )
    return builder.sign(key, hashes.SHA256())


def _leaf_certificate(subject, public_key, ca_key, ca_cert, usage, not_before, not_after, alternative_names=None):
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(ca_cert.subject)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_key_usage(cert_sign=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
    )
    if alternative_names:
        builder = builder.add_extension(x509.SubjectAlternativeName(alternative_names), critical=False)
    return builder.sign(ca_key, hashes.SHA256())


def _key_usage(cert_sign):
    return x509.KeyUsage(
        digital_signature=not cert_sign,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=not cert_sign,
        key_cert_sign=cert_sign,
        crl_sign=cert_sign,
        encipher_only=False,
        decipher_only=False,
    )


def _certificate_pem(certificate):
    return certificate.public_bytes(serialization.Encoding.PEM)


def _key_pem(key):
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
