"""A technician's provisioning set, written into a folder as it goes onto the boot partition (see docs/provisioning.md).

``write_provisioning_set`` makes what a technician brings on a laptop: the post's
``kiosk.toml``, the broker's CA certificate and the kiosk's client certificate and key
(made here by a throw-away CA), and optionally ``supervisor.pinhash``, made by the same
code as ``kiosk officers pinhash``. The image test copies the folder onto the FAT
partition with ``mcopy``; tests/test_provision.py runs ``kiosk provision`` on it.
"""

from __future__ import annotations

import datetime
import textwrap
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.x509.oid import NameOID

from appliance.config import SecuritySection
from appliance.uplink import protocol
from appliance.workflow import provision

DEFAULT_BROKER_URL = "mqtts://hq.invalid:8883"
# HQ's signing key of the tests: fixed, so a test can sign as HQ with HQ_PRIVATE_KEY.
HQ_PRIVATE_KEY = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))
DEFAULT_HQ_PUBLIC_KEY = protocol.public_key_text(HQ_PRIVATE_KEY.public_key())
CA_FILE, CERT_FILE, KEY_FILE = "ca.pem", "kiosk.crt", "kiosk.key"


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _certificate(subject: str, key: ec.EllipticCurvePrivateKey, issuer: str, issuer_key: ec.EllipticCurvePrivateKey,
                 ca: bool) -> x509.Certificate:
    now = datetime.datetime.now(datetime.timezone.utc)
    return (x509.CertificateBuilder().subject_name(_name(subject)).issuer_name(_name(issuer))
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1)).not_valid_after(now + datetime.timedelta(days=365))
            .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
            .sign(issuer_key, hashes.SHA256()))


def write_tls_files(folder: Path, kiosk_id: str) -> None:
    """A CA certificate, and a client certificate and key for ``kiosk_id`` signed by it, as PEM files in ``folder``."""
    ca_key, client_key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca = _certificate("Test HQ CA", ca_key, "Test HQ CA", ca_key, ca=True)
    client = _certificate(kiosk_id, client_key, "Test HQ CA", ca_key, ca=False)
    (folder / CA_FILE).write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    (folder / CERT_FILE).write_bytes(client.public_bytes(serialization.Encoding.PEM))
    (folder / KEY_FILE).write_bytes(client_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))


def write_provisioning_set(folder: Path, *, post_id: str, kiosk_id: str, broker_url: str = DEFAULT_BROKER_URL,
                           hq_public_key: str = DEFAULT_HQ_PUBLIC_KEY, supervisor: tuple[str, str] | None = None,
                           tls: bool = True, data_dir: Path | None = None, extra_toml: str = "",
                           uplink_toml: str = "") -> Path:
    """Write a valid provisioning set into ``folder`` (made if missing) and return it.

    ``supervisor`` is (officer id, PIN): its ``supervisor.pinhash`` holds only the PIN's hash.
    ``tls`` adds the broker's CA and the kiosk's client certificate and key, named in
    ``[uplink]``. ``data_dir`` (default: the kiosk's own, /var/lib/kiosk) lets a test keep
    the kiosk's data in a temporary folder; ``extra_toml`` is appended to kiosk.toml as is, and
    ``uplink_toml`` (keys) to its ``[uplink]`` section.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    kiosk = f'post_id = "{post_id}"\nkiosk_id = "{kiosk_id}"\n'
    if data_dir is not None:
        kiosk += f'data_dir = "{data_dir}"\n'
    uplink = f'broker_url = "{broker_url}"\nhq_public_key = "{hq_public_key}"\n'
    if tls:
        write_tls_files(folder, kiosk_id)
        uplink += f'ca_file = "{CA_FILE}"\ncert_file = "{CERT_FILE}"\nkey_file = "{KEY_FILE}"\n'
    uplink += textwrap.dedent(uplink_toml)
    (folder / provision.SET_CONFIG).write_text(
        "# The post's kiosk config, as HQ hands it to the technician.\n"
        f"[kiosk]\n{kiosk}\n[uplink]\n{uplink}" + (f"\n{textwrap.dedent(extra_toml)}" if extra_toml else ""),
        encoding="utf-8")
    if supervisor is not None:
        officer_id, pin = supervisor
        (folder / provision.SET_PINHASH).write_text(provision.pinhash_text(officer_id, pin, SecuritySection()),
                                                    encoding="utf-8")
    return folder
