"""Unit tests for the Docker daemon's TLS material (kubectl_devspace.certificates).

Besides inspecting the certificates, the handshake tests run a real TLS
server on 127.0.0.1 with the bundle, the way dockerd uses it with
--tlsverify, and connect to it as the tunnel container's Docker client does.
"""

import datetime
import ipaddress
import socket
import ssl
import threading

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import ExtendedKeyUsageOID

from kubectl_devspace import certificates

HANDSHAKE_TIMEOUT = 5.0


@pytest.fixture(scope="module")
def bundle():
    return certificates.generate_docker_tls("alice")


@pytest.fixture(scope="module")
def other_bundle():
    return certificates.generate_docker_tls("bob")


def load_certificate(bundle, key):
    return x509.load_pem_x509_certificate(bundle[key])


def extension(certificate, extension_type):
    return certificate.extensions.get_extension_for_class(extension_type).value


def public_bytes(public_key):
    return public_key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def test_bundle_has_every_key(bundle):
    assert set(bundle) == set(certificates.BUNDLE_KEYS)


def test_bundle_values_are_pem_bytes(bundle):
    for key, value in bundle.items():
        assert isinstance(value, bytes), key
        assert value.startswith(b"-----BEGIN "), key


def test_bundle_is_complete(bundle):
    assert certificates.is_complete(bundle)


@pytest.mark.parametrize("missing", certificates.BUNDLE_KEYS)
def test_bundle_missing_key_incomplete(bundle, missing):
    partial = {key: value for key, value in bundle.items() if key != missing}

    assert not certificates.is_complete(partial)


@pytest.mark.parametrize("emptied", certificates.BUNDLE_KEYS)
def test_bundle_empty_value_incomplete(bundle, emptied):
    partial = dict(bundle, **{emptied: b""})

    assert not certificates.is_complete(partial)


def test_empty_bundle_incomplete():
    assert not certificates.is_complete({})


@pytest.mark.parametrize("leaf", [certificates.SERVER_CERT, certificates.CLIENT_CERT])
def test_leaf_issued_by_ca(bundle, leaf):
    ca = load_certificate(bundle, certificates.CA_CERT)
    certificate = load_certificate(bundle, leaf)

    # Raises when the issuer name or the signature does not match.
    certificate.verify_directly_issued_by(ca)


@pytest.mark.parametrize("leaf", [certificates.SERVER_CERT, certificates.CLIENT_CERT])
def test_leaf_not_issued_by_other_ca(bundle, other_bundle, leaf):
    other_ca = load_certificate(other_bundle, certificates.CA_CERT)
    certificate = load_certificate(bundle, leaf)

    with pytest.raises((ValueError, TypeError)):
        certificate.verify_directly_issued_by(other_ca)


def test_ca_basic_constraints(bundle):
    ca = load_certificate(bundle, certificates.CA_CERT)

    constraints = ca.extensions.get_extension_for_class(x509.BasicConstraints)

    assert constraints.value.ca is True
    assert constraints.critical is True


def test_ca_key_usage_cert_sign(bundle):
    usage = extension(load_certificate(bundle, certificates.CA_CERT), x509.KeyUsage)

    assert usage.key_cert_sign is True


def test_ca_is_self_signed(bundle):
    ca = load_certificate(bundle, certificates.CA_CERT)

    assert ca.issuer == ca.subject
    ca.verify_directly_issued_by(ca)


@pytest.mark.parametrize("leaf", [certificates.SERVER_CERT, certificates.CLIENT_CERT])
def test_leaf_is_not_ca(bundle, leaf):
    certificate = load_certificate(bundle, leaf)

    assert extension(certificate, x509.BasicConstraints).ca is False
    assert extension(certificate, x509.KeyUsage).key_cert_sign is False


def test_server_alternative_names_exact(bundle):
    server = load_certificate(bundle, certificates.SERVER_CERT)
    names = extension(server, x509.SubjectAlternativeName)

    assert names.get_values_for_type(x509.DNSName) == ["localhost"]
    assert names.get_values_for_type(x509.IPAddress) == [ipaddress.ip_address("127.0.0.1")]
    assert len(list(names)) == 2


def test_server_usage_server_auth(bundle):
    usage = extension(load_certificate(bundle, certificates.SERVER_CERT), x509.ExtendedKeyUsage)

    assert list(usage) == [ExtendedKeyUsageOID.SERVER_AUTH]


def test_client_usage_client_auth(bundle):
    usage = extension(load_certificate(bundle, certificates.CLIENT_CERT), x509.ExtendedKeyUsage)

    assert ExtendedKeyUsageOID.CLIENT_AUTH in usage
    assert ExtendedKeyUsageOID.SERVER_AUTH not in usage


def test_client_has_no_alternative_names(bundle):
    client = load_certificate(bundle, certificates.CLIENT_CERT)

    with pytest.raises(x509.ExtensionNotFound):
        client.extensions.get_extension_for_class(x509.SubjectAlternativeName)


@pytest.mark.parametrize(
    ("cert_key", "private_key"),
    [
        pytest.param(certificates.SERVER_CERT, certificates.SERVER_KEY, id="server"),
        pytest.param(certificates.CLIENT_CERT, certificates.CLIENT_KEY, id="client"),
    ],
)
def test_key_matches_certificate(bundle, cert_key, private_key):
    certificate = load_certificate(bundle, cert_key)
    key = serialization.load_pem_private_key(bundle[private_key], password=None)

    assert public_bytes(key.public_key()) == public_bytes(certificate.public_key())


def test_keys_are_distinct(bundle):
    ca = load_certificate(bundle, certificates.CA_CERT)
    server = load_certificate(bundle, certificates.SERVER_CERT)
    client = load_certificate(bundle, certificates.CLIENT_CERT)

    public_keys = {public_bytes(cert.public_key()) for cert in (ca, server, client)}

    assert len(public_keys) == 3


def test_only_leaf_private_keys(bundle):
    private_entries = []
    for key, value in bundle.items():
        try:
            serialization.load_pem_private_key(value, password=None)
        except ValueError:
            continue
        private_entries.append(key)

    assert sorted(private_entries) == sorted([certificates.SERVER_KEY, certificates.CLIENT_KEY])


def test_one_private_key_per_entry(bundle):
    # A second PEM block appended to a key entry would not show up above.
    for key, value in bundle.items():
        expected = 1 if key in (certificates.SERVER_KEY, certificates.CLIENT_KEY) else 0
        assert value.count(b"PRIVATE KEY-----") == 2 * expected, key


def test_ca_private_key_absent(bundle):
    ca_public = public_bytes(load_certificate(bundle, certificates.CA_CERT).public_key())

    for private_key in (certificates.SERVER_KEY, certificates.CLIENT_KEY):
        key = serialization.load_pem_private_key(bundle[private_key], password=None)
        assert public_bytes(key.public_key()) != ca_public, private_key


@pytest.mark.parametrize("cert_key", [certificates.CA_CERT, certificates.SERVER_CERT, certificates.CLIENT_CERT])
def test_validity_covers_now(bundle, cert_key):
    certificate = load_certificate(bundle, cert_key)
    now = datetime.datetime.now(datetime.timezone.utc)

    assert certificate.not_valid_before_utc <= now
    assert now < certificate.not_valid_after_utc


def test_validity_from_given_time():
    now = datetime.datetime(2030, 6, 1, tzinfo=datetime.timezone.utc)

    bundle = certificates.generate_docker_tls("alice", now=now)
    server = load_certificate(bundle, certificates.SERVER_CERT)

    assert server.not_valid_before_utc == now - certificates.BACKDATE
    assert server.not_valid_after_utc == now + certificates.VALIDITY


def test_bundles_differ_per_call():
    first = certificates.generate_docker_tls("alice")
    second = certificates.generate_docker_tls("alice")

    assert first[certificates.CA_CERT] != second[certificates.CA_CERT]
    assert first[certificates.SERVER_KEY] != second[certificates.SERVER_KEY]


# TLS handshakes on loopback


def write_files(directory, bundle, cert_key, private_key):
    cert_path = directory / cert_key
    key_path = directory / private_key
    cert_path.write_bytes(bundle[cert_key])
    key_path.write_bytes(bundle[private_key])
    return str(cert_path), str(key_path)


def server_context(directory, bundle, cert_key=certificates.SERVER_CERT, private_key=certificates.SERVER_KEY):
    """Return a server context like dockerd's with --tlsverify: client certificates required."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(*write_files(directory, bundle, cert_key, private_key))
    context.load_verify_locations(cadata=bundle[certificates.CA_CERT].decode("ascii"))
    context.verify_mode = ssl.CERT_REQUIRED
    return context


def client_context(directory, ca_bundle, cert_bundle=None):
    """Return a client context trusting ``ca_bundle``'s CA, with ``cert_bundle``'s client certificate if given."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.load_verify_locations(cadata=ca_bundle[certificates.CA_CERT].decode("ascii"))
    if cert_bundle is not None:
        context.load_cert_chain(
            *write_files(directory, cert_bundle, certificates.CLIENT_CERT, certificates.CLIENT_KEY)
        )
    return context


class EchoServer:
    """A TLS server on 127.0.0.1 that accepts one connection and echoes one message."""

    def __init__(self, context):
        self.context = context
        self.error = None
        self.peer_certificate = None
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(HANDSHAKE_TIMEOUT)
        self.port = self.listener.getsockname()[1]
        self.thread = threading.Thread(target=self._serve_once, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc_info):
        self.thread.join(HANDSHAKE_TIMEOUT * 2)
        self.listener.close()
        assert not self.thread.is_alive(), "the TLS server thread did not finish"

    def _serve_once(self):
        try:
            raw, _ = self.listener.accept()
            raw.settimeout(HANDSHAKE_TIMEOUT)
            with self.context.wrap_socket(raw, server_side=True) as connection:
                self.peer_certificate = connection.getpeercert()
                connection.sendall(connection.recv(64))
        except (OSError, ssl.SSLError) as error:
            self.error = error


def exchange(context, port, server_hostname):
    """Connect, send a message and return the echo."""
    with socket.create_connection(("127.0.0.1", port), timeout=HANDSHAKE_TIMEOUT) as raw:
        with context.wrap_socket(raw, server_hostname=server_hostname) as connection:
            connection.sendall(b"ping")
            return connection.recv(64)


@pytest.mark.parametrize("server_hostname", ["localhost", "127.0.0.1"])
def test_handshake_with_client_cert(tmp_path, bundle, server_hostname):
    client = client_context(tmp_path, bundle, bundle)

    with EchoServer(server_context(tmp_path, bundle)) as server:
        echoed = exchange(client, server.port, server_hostname)

    assert echoed == b"ping"
    assert server.error is None
    assert server.peer_certificate is not None


def test_handshake_without_client_cert(tmp_path, bundle):
    client = client_context(tmp_path, bundle)

    with EchoServer(server_context(tmp_path, bundle)) as server:
        # With TLS 1.3 the server rejects the missing certificate after the
        # client has finished its handshake, so the failure can surface on
        # the first read instead.
        with pytest.raises((ssl.SSLError, ConnectionError)):
            exchange(client, server.port, "localhost")

    assert isinstance(server.error, ssl.SSLError)


def test_handshake_other_workspace_client(tmp_path, bundle, other_bundle):
    # bob's client certificate, trusting alice's CA, must not reach alice's daemon.
    client = client_context(tmp_path, bundle, other_bundle)

    with EchoServer(server_context(tmp_path, bundle)) as server:
        with pytest.raises((ssl.SSLError, ConnectionError)):
            exchange(client, server.port, "localhost")

    assert isinstance(server.error, ssl.SSLError)


def test_handshake_other_workspace_server(tmp_path, bundle, other_bundle):
    # A client of alice's daemon must not accept bob's daemon.
    client = client_context(tmp_path, bundle, bundle)

    with EchoServer(server_context(tmp_path, other_bundle)) as server:
        with pytest.raises(ssl.SSLCertVerificationError):
            exchange(client, server.port, "localhost")


def test_handshake_wrong_hostname(tmp_path, bundle):
    client = client_context(tmp_path, bundle, bundle)

    with EchoServer(server_context(tmp_path, bundle)) as server:
        with pytest.raises(ssl.SSLCertVerificationError):
            exchange(client, server.port, "dockerd.example")


def test_client_cert_as_server_rejected(tmp_path, bundle):
    # The client certificate lacks serverAuth, so a client that checks the
    # purpose rejects a daemon presenting it. The hostname check is off
    # because the client certificate has no alternative names, which would
    # fail the handshake on its own.
    context = server_context(tmp_path, bundle, certificates.CLIENT_CERT, certificates.CLIENT_KEY)
    client = client_context(tmp_path, bundle, bundle)
    client.check_hostname = False

    with EchoServer(context) as server:
        with pytest.raises(ssl.SSLCertVerificationError):
            exchange(client, server.port, "localhost")
