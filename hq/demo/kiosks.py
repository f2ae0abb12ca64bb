"""Simulated kiosks for the HQ demo and the console's browser tests: the real kiosk code, simulated devices.

Each ``SimKiosk`` has its own config, SQLite store, officer and sample watchlists, and
runs the kiosk's own uplink (outbox, receipts, health, last will) against the broker;
crossings go through the kiosk's workflow (MRZ, screening, decision), so a traveller on
a list raises a real alert. Its battery follows a curve of time, through the simulated
power back-end the health telemetry reads.
"""

from __future__ import annotations

import math
import random
import secrets
from dataclasses import dataclass
from datetime import date, timedelta
from importlib import resources
from pathlib import Path
from typing import Any, Callable

from appliance import config as config_module
from appliance.domain import clock
from appliance.domain.mrz import compose
from appliance.errors import DeviceError
from appliance.hw import open_devices
from appliance.hw.power_simulated import SimulatedPowerSource
from appliance.lists.csv_import import import_csv
from appliance.storage.officers import InvalidPin, Officers, validate_pin
from appliance.storage.store import Store
from appliance.uplink import outbox, protocol
from appliance.uplink.client import Uplink
from appliance.uplink.telemetry import collect
from appliance.workflow.crossings import CrossingRequest, record, resolve

SURNAMES = ("TRAORE", "DIALLO", "OUEDRAOGO", "NDAYISHIMIYE", "ABDOULAYE", "ASANOV", "MAMADOU", "OKAFOR", "KONE",
            "NIYONZIMA", "SALIFOU", "TOKTOGULOV", "BARRY", "HAKIZIMANA", "SISSOKO")
GIVEN = ("AMINATA", "IBRAHIM", "JEAN PIERRE", "FATOUMATA", "AIBEK", "GULNARA", "MOUSSA", "CHIDI", "ALINE", "ISSA")
STATES = ("BDI", "MLI", "NER", "KGZ", "NGA", "BFA", "CIV", "SEN", "UTO")
# On the sample persons list (P-0001): a traveller that raises a hit.
LISTED = {"surname": "DOE", "given_names": "JOHN", "birth_date": "1980-01-01", "sex": "M", "issuing_state": "UTO"}


def battery_curve(kind: str) -> Callable[[float], tuple[float, bool, float]]:
    """(percent, charging, solar watts) after ``t`` seconds of demo: 'solar' charges and drains in turn,
    'draining' runs down from 70 %, 'low' hovers near empty, 'mains' stays full."""
    if kind == "solar":
        return lambda t: (60 + 30 * math.sin(t / 90), math.cos(t / 90) > 0, max(0.0, 40 * math.cos(t / 90)))
    if kind == "draining":
        return lambda t: (max(5.0, 70 - t / 20), False, 0.0)
    if kind == "low":
        return lambda t: (14 + 4 * math.sin(t / 40), False, 1.5)
    return lambda t: (100.0, False, 0.0)


def _pin(rules) -> str:
    while True:
        pin = "".join(secrets.choice("0123456789") for _ in range(max(6, rules.pin_min_length)))
        try:
            validate_pin(pin, rules)
            return pin
        except InvalidPin:
            continue


@dataclass
class Traveller:
    surname: str
    given_names: str
    nationality: str
    sex: str
    birth_date: str
    document_number: str

    def mrz(self) -> str:
        return compose("TD3", document_number=self.document_number, surname=self.surname,
                       given_names=self.given_names, issuing_state=self.nationality, nationality=self.nationality,
                       birth_date=self.birth_date, expiry_date=(date.today() + timedelta(days=1500)).isoformat(),
                       sex=self.sex)


def synthetic_traveller(rng: random.Random, listed: bool = False) -> Traveller:
    if listed:
        return Traveller(LISTED["surname"], LISTED["given_names"], LISTED["issuing_state"], LISTED["sex"],
                         LISTED["birth_date"], f"L{rng.randint(10_000_000, 99_999_999)}")
    birth = date(rng.randint(1945, 2012), rng.randint(1, 12), rng.randint(1, 28))
    return Traveller(rng.choice(SURNAMES), rng.choice(GIVEN), rng.choice(STATES), rng.choice("MF"),
                     birth.isoformat(), f"{rng.choice('ABCDEFGHJK')}{rng.randint(10_000_000, 99_999_999)}")


class SimKiosk:
    """One kiosk: ``start()`` connects its uplink, ``cross()`` records a crossing, ``go_offline()`` stops the uplink."""

    def __init__(self, directory: Path, broker_url: str, hq_public_key: str, post_id: str, kiosk_id: str, *,
                 curve: str = "solar", list_age_days: int = 0, health_interval_s: int = 10, seed: int = 0) -> None:
        self.post_id, self.kiosk_id = post_id, kiosk_id
        self.curve = battery_curve(curve)
        self.rng = random.Random(seed)
        directory.mkdir(parents=True, exist_ok=True)
        raw = {
            "kiosk": {"post_id": post_id, "kiosk_id": kiosk_id, "data_dir": str(directory / "data")},
            "security": {"biometric_key": secrets.token_hex(32)},
            "uplink": {"broker_url": broker_url, "hq_public_key": hq_public_key, "health_interval_s": health_interval_s,
                       "keepalive_s": 5, "reconnect_min_s": 0.2, "reconnect_max_s": 2.0, "receipt_timeout_s": 5.0},
        }
        path = directory / "kiosk.toml"
        path.write_text(config_module.to_toml(raw), encoding="utf-8")
        self.config = config_module.load(path, environ={})
        self.public_key = protocol.generate_key_file(self.config.kiosk.data_dir / "uplink" / "kiosk_ed25519.key")
        self.store = Store(self.config.db_path)
        officers = Officers(self.store, self.config.security)
        officers.add("officer", "officer", _pin(self.config.security), actor="demo")
        officers.add("supervisor", "supervisor", _pin(self.config.security), actor="demo")
        self.officer, self.supervisor = officers.get("officer"), officers.get("supervisor")
        samples = resources.files("appliance").joinpath("demo_data")
        # An old list: imported as it was weeks ago, under an older version than the other kiosks hold.
        imported = clock.utcnow() - timedelta(days=list_age_days)
        version = None if not list_age_days else imported.strftime("%Y.%m.%d")
        for kind in ("persons", "documents"):
            with resources.as_file(samples.joinpath(f"{kind}.csv")) as csv_path:
                import_csv(self.store, kind, csv_path, actor="demo", now=imported,
                           version=version if version else clock.utcnow().strftime("%Y.%m.%d"))
        self.devices = open_devices(self.config.hardware)
        self.uplink: Uplink | None = None
        self.recorded: list[dict[str, Any]] = []

    def start(self) -> None:
        self.uplink = Uplink(self.config, self.store, health=lambda: collect(self.store, self.config, self.devices))
        self.uplink.start()

    @property
    def connected(self) -> bool:
        return self.uplink is not None and self.uplink.connected

    def power(self, elapsed_s: float) -> None:
        percent, charging, solar = self.curve(elapsed_s)
        if not isinstance(self.devices.power, SimulatedPowerSource):
            raise DeviceError(f"{self.post_id}/{self.kiosk_id} has no simulated battery to drive")
        self.devices.power.set(percent=round(percent, 1), charging=charging, solar_watts=round(solar, 1))

    def cross(self, listed: bool = False, direction: str | None = None) -> dict[str, Any]:
        """Record one synthetic traveller (``listed``: the one on the sample persons list) through the workflow."""
        traveller = synthetic_traveller(self.rng, listed)
        request = CrossingRequest(direction=direction or self.rng.choice(("entry", "exit")), mrz=traveller.mrz(),
                                  unavailable={"photo": "demo kiosk", "fingerprint": "demo kiosk"})
        crossing = record(self.store, self.config, self.officer, request).to_dict()
        self.recorded.append(crossing)
        return crossing

    def resolve(self, crossing_id: str, outcome: str) -> None:
        """The post's supervisor decides a referred crossing (``cleared`` or ``refused``), as on the touchscreen."""
        reason = "not_the_listed_person" if outcome == "cleared" else "listed_person_confirmed"
        resolve(self.store, self.supervisor, crossing_id, outcome, "decided at the demo post", reason=reason,
                four_eyes=self.config.security.four_eyes)

    def pending(self) -> int:
        return outbox.depth(self.store)

    def health_now(self) -> None:
        if self.uplink is not None:
            self.uplink.request_health()

    def go_offline(self) -> None:
        """The uplink says goodbye (retained ``offline``), as a kiosk does when its link is switched off."""
        if self.uplink is not None:
            self.uplink.stop(timeout=3)
            self.uplink = None

    def close(self) -> None:
        self.go_offline()
        self.devices.close()
        self.store.close()
