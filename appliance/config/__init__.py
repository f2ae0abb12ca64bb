"""The kiosk's configuration: one strict TOML file plus environment overrides for secrets.

Where it comes from, first match wins: ``--config PATH``, then ``$KIOSK_CONFIG``, then
``/etc/kiosk/kiosk.toml``. Unknown keys are errors that name the key and the file, so a
typo never silently falls back to a default. Secrets (``SecretStr`` fields, at any depth)
may be left out of the file and given in the environment instead, named ``KIOSK_`` and the
path of keys joined by ``_`` in upper case: ``KIOSK_UPLINK_PASSWORD`` for ``[uplink]
password``, ``KIOSK_HARDWARE_FINGERPRINT_R30X_PASSWORD`` for ``[hardware.fingerprint_r30x]
password``; the environment wins over the file.

One module per section (``kiosk``, ``api``, ``security``, ``uplink``, ``hardware`` with one
module per device's settings, ``power_policy``, ``screening``, ``storage``, ``stick``), the whole in ``root``, the
reading in ``loader``, what HQ's config shares in ``common``. This package re-exports the
names callers use.
"""

from appliance.config.api import ApiSection
from appliance.config.camera import CameraSettings
from appliance.config.fingerprint import FingerprintR30xSettings
from appliance.config.hardware import HardwareSection
from appliance.config.indicators import IndicatorPins
from appliance.config.kiosk import KioskSection
from appliance.config.loader import from_mapping, load, masked, resolve_path, to_toml
from appliance.config.mrz_reader import MRZSerialSettings
from appliance.config.power import (
    PowerGpioSettings,
    PowerINA219Settings,
    PowerModbusSettings,
    PowerSysfsSettings,
)
from appliance.config.power_policy import PowerPolicySettings
from appliance.config.root import Config
from appliance.config.screening import ScreeningSection
from appliance.config.security import SecuritySection
from appliance.config.simulated import SimulatedDevices
from appliance.config.stick import StickSection
from appliance.config.storage import StorageSection
from appliance.config.time import TimeSection
from appliance.config.uplink import UplinkSection

__all__ = [
    "ApiSection",
    "CameraSettings",
    "Config",
    "FingerprintR30xSettings",
    "HardwareSection",
    "IndicatorPins",
    "KioskSection",
    "MRZSerialSettings",
    "PowerGpioSettings",
    "PowerINA219Settings",
    "PowerModbusSettings",
    "PowerPolicySettings",
    "PowerSysfsSettings",
    "ScreeningSection",
    "SecuritySection",
    "SimulatedDevices",
    "StickSection",
    "StorageSection",
    "TimeSection",
    "UplinkSection",
    "from_mapping",
    "load",
    "masked",
    "resolve_path",
    "to_toml",
]
