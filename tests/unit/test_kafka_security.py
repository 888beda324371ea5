"""Kafka client security settings: SASL_SSL with SCRAM, or mutual TLS, for production."""

import ssl
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from broker.adapters.kafka import client_options
from broker.config import Settings
from producers.kafka import KafkaSecurity


def self_signed(tmp_path: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "kafka.test")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name)
        .public_key(key.public_key()).serial_number(1)
        .not_valid_before(now).not_valid_after(now + timedelta(days=1))
        .sign(key, hashes.SHA256())
    )  # fmt: skip
    cert_path, key_path = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))  # fmt: skip
    return cert_path, key_path


class TestKafkaSecurity:
    def test_local_development_is_plaintext(self) -> None:
        """With no settings, clients connect plainly (loopback only, for development)."""
        assert client_options(Settings().kafka_security) == {}

    def test_sasl_ssl_with_scram(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        """SASL_SSL with SCRAM-SHA-512 from the environment, the CA trusted for TLS."""
        ca, _ = self_signed(tmp_path)
        monkeypatch.setenv("SGB_KAFKA_SECURITY__PROTOCOL", "SASL_SSL")
        monkeypatch.setenv("SGB_KAFKA_SECURITY__USERNAME", "router")
        monkeypatch.setenv("SGB_KAFKA_SECURITY__PASSWORD", "from-a-secret-store")
        monkeypatch.setenv("SGB_KAFKA_SECURITY__CA_FILE", str(ca))
        options = client_options(Settings().kafka_security)
        assert options["security_protocol"] == "SASL_SSL"
        assert options["sasl_mechanism"] == "SCRAM-SHA-512"
        assert options["sasl_plain_username"] == "router"
        assert options["sasl_plain_password"] == "from-a-secret-store"
        assert isinstance(options["ssl_context"], ssl.SSLContext)
        assert options["ssl_context"].verify_mode == ssl.CERT_REQUIRED

    def test_mutual_tls_loads_the_client_certificate(self, tmp_path: Path) -> None:
        """SSL with a client certificate and key (mutual TLS), and no SASL."""
        cert, key = self_signed(tmp_path)
        security = KafkaSecurity(protocol="SSL", ca_file=cert, cert_file=cert, key_file=key)
        options = client_options(security)
        assert options["security_protocol"] == "SSL"
        assert "sasl_mechanism" not in options

    def test_password_is_not_shown(self) -> None:
        """The SCRAM password never appears in the settings' text."""
        security = KafkaSecurity(protocol="SASL_SSL", username="u", password="hunter2-long")
        assert "hunter2-long" not in repr(security)
