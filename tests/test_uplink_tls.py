"""TLS with per-kiosk client certificates and username/password, against mosquitto configured for both."""

from __future__ import annotations

import datetime
import ipaddress
import subprocess
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from appliance.errors import UplinkError
from appliance.storage.store import Store
from appliance.uplink import outbox, status
from appliance.uplink.client import Uplink

from .broker import Mosquitto
from .uplink_env import IngestThread, add_officer, enrol, hq_setup, kiosk_setup, record_many, wait_until


def _key(path: Path):
    key = ec.generate_private_key(ec.SECP256R1())
    path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                       serialization.NoEncryption()))
    return key


def _cert(path: Path, subject: str, key, issuer_key, issuer_name: x509.Name | None, ca: bool = False,
          ip: str | None = None) -> x509.Name:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)])
    now = datetime.datetime.now(datetime.timezone.utc)
    builder = (x509.CertificateBuilder().subject_name(name).issuer_name(issuer_name or name)
               .public_key(key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=1))
               .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
    if ip:
        builder = builder.add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(ip))]),
                                        critical=False)
    path.write_bytes(builder.sign(issuer_key, hashes.SHA256()).public_bytes(serialization.Encoding.PEM))
    return name


@pytest.fixture
def pki(tmp_path):
    d = tmp_path / "pki"
    d.mkdir()
    ca_key = _key(d / "ca.key")
    ca_name = _cert(d / "ca.pem", "Kiosk test CA", ca_key, ca_key, None, ca=True)
    server_key = _key(d / "server.key")
    _cert(d / "server.pem", "127.0.0.1", server_key, ca_key, ca_name, ip="127.0.0.1")
    for who in ("kiosk", "hq"):
        key = _key(d / f"{who}.key")
        _cert(d / f"{who}.pem", who, key, ca_key, ca_name)
    rogue_key = _key(d / "rogue-ca.key")
    _cert(d / "rogue-ca.pem", "Rogue CA", rogue_key, rogue_key, None, ca=True)
    return d


@pytest.fixture
def tls_broker(tmp_path, pki):
    passwords = tmp_path / "passwd"
    subprocess.run(["mosquitto_passwd", "-b", "-c", str(passwords), "kiosk-post-u-k1", "s3cret-kiosk"], check=True)
    subprocess.run(["mosquitto_passwd", "-b", str(passwords), "hq", "s3cret-hq"], check=True)
    broker = Mosquitto(tmp_path / "broker", anonymous=False, extra=(
        f"cafile {pki / 'ca.pem'}\ncertfile {pki / 'server.pem'}\nkeyfile {pki / 'server.key'}\n"
        f"require_certificate true\npassword_file {passwords}\n")).start()
    yield broker
    broker.kill()


def _tls_world(tmp_path, broker, pki, kiosk_password="s3cret-kiosk", ca="ca.pem"):
    url = f"mqtts://127.0.0.1:{broker.port}"
    hq_config, _, hq_public = hq_setup(tmp_path / "hq", url, extra_broker=(
        f'username = "hq"\npassword = "s3cret-hq"\nca_file = "{pki / "ca.pem"}"\n'
        f'cert_file = "{pki / "hq.pem"}"\nkey_file = "{pki / "hq.key"}"\n'))
    config, _, kiosk_public = kiosk_setup(tmp_path / "kiosk", url, hq_public, extra_uplink=(
        f'username = "kiosk-post-u-k1"\nca_file = "{pki / ca}"\n'
        f'cert_file = "{pki / "kiosk.pem"}"\nkey_file = "{pki / "kiosk.key"}"\n'))
    config.uplink.password = kiosk_password
    enrol(hq_config, config, kiosk_public)
    return hq_config, config


def test_crossings_flow_over_tls_with_client_certificates_and_passwords(tmp_path, tls_broker, pki):
    hq_config, config = _tls_world(tmp_path, tls_broker, pki)
    store = Store(config.db_path)
    record_many(store, config, add_officer(store, config), 5)
    ingest = IngestThread(hq_config).start()
    uplink = Uplink(config, store)
    uplink.start()
    try:
        wait_until(lambda: outbox.depth(store) == 0, 30, what="drained over TLS")
        assert len(ingest.crossings()) == 5
    finally:
        uplink.stop()
        ingest.stop()
        store.close()


@pytest.mark.parametrize("problem", ["wrong password", "unknown CA"])
def test_a_refused_connection_is_reported_and_retried_not_fatal(tmp_path, tls_broker, pki, problem):
    if problem == "wrong password":
        hq_config, config = _tls_world(tmp_path, tls_broker, pki, kiosk_password="wrong")
    else:
        hq_config, config = _tls_world(tmp_path, tls_broker, pki, ca="rogue-ca.pem")
    store = Store(config.db_path)
    record_many(store, config, add_officer(store, config), 1)
    uplink = Uplink(config, store)
    uplink.start()
    try:
        error = wait_until(lambda: status.snapshot(store)["last_error"], 15, what="the refusal to be recorded")
        assert ("refused" in error or "reason" in error) if problem == "wrong password" else "certificate" in error.lower()
        assert not uplink.connected
        assert outbox.depth(store) == 1  # nothing lost, it waits for a working link
        assert uplink._thread.is_alive()
    finally:
        uplink.stop()
        store.close()


def test_missing_tls_file_is_a_clear_error(tmp_path, tls_broker, pki):
    hq_config, config = _tls_world(tmp_path, tls_broker, pki)
    config.uplink.cert_file = pki / "nope.pem"
    store = Store(config.db_path)
    uplink = Uplink(config, store)
    uplink.start()
    try:
        error = wait_until(lambda: status.snapshot(store)["last_error"], 10, what="the error to be recorded")
        assert "nope.pem" in error and "does not exist" in error
    finally:
        uplink.stop()
        store.close()


def test_uplink_refuses_to_start_without_hq_key_or_signing_key(config):
    config.uplink.broker_url = "mqtt://127.0.0.1:1"
    with Store(config.db_path) as store:
        with pytest.raises(UplinkError, match="hq_public_key"):
            Uplink(config, store)
        config.uplink.hq_public_key = "A" * 43 + "="
        with pytest.raises(UplinkError, match="kiosk_ed25519.key does not exist"):
            Uplink(config, store)
