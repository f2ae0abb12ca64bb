"""The kiosk's one error root; each error also inherits the matching builtin.

Callers catch ``KioskError`` to report any expected failure cleanly (the CLI turns it
into a message on stderr and a non-zero exit; the API into a 4xx answer), while the
builtin base keeps ordinary ``except ValueError`` code working.
"""


class KioskError(Exception):
    """Root of every error the kiosk raises on purpose."""


class ConfigError(KioskError, ValueError):
    """The configuration file or environment is missing, unreadable or invalid."""


class StoreError(KioskError, RuntimeError):
    """The local database cannot be opened, migrated or written."""


class MRZError(KioskError, ValueError):
    """The text is not a machine readable zone (wrong shape or characters)."""

    def __init__(self, message: str, reason: object = None) -> None:
        super().__init__(message)
        # The same message as a code with parameters (appliance.domain.reasons.Reason), so a
        # screen can say it in the officer's language; None when raised without one.
        self.reason = reason


class ImportFileError(KioskError, ValueError):
    """A list file (CSV) is malformed; nothing from it was applied."""


class BundleError(KioskError, ValueError):
    """A list bundle is refused (truncated, bad signature, wrong base version, bad hash or record); nothing changed."""


class ListIndexError(KioskError, RuntimeError):
    """A list's index files are missing or damaged and cannot be rebuilt on the kiosk."""


class AuthError(KioskError, PermissionError):
    """An officer could not be authenticated (unknown id, wrong PIN, no session)."""


class WrongPin(AuthError):
    """An enrolled officer's PIN was wrong; ``tries_left`` more wrong PINs start the lockout."""

    def __init__(self, message: str, tries_left: int) -> None:
        super().__init__(message)
        self.tries_left = tries_left


class LockedOut(AuthError):
    """Too many wrong PINs: the officer is locked out until a given time."""


class Forbidden(AuthError):
    """The officer is authenticated but their role may not do this."""


class FourEyes(Forbidden):
    """The supervisor deciding a referral recorded it, and the post requires a second person (four eyes)."""


class NotFound(KioskError, LookupError):
    """The requested record (crossing, officer) does not exist."""


class WorkflowError(KioskError, ValueError):
    """A crossing request is inconsistent (bad direction, missing document, wrong state)."""

    def __init__(self, message: str, reason: object = None) -> None:
        super().__init__(message)
        # What the officer reads, as a code with parameters (appliance.domain.reasons.Reason),
        # while the message stays the workflow's English for the API and the log; None when
        # raised without one.
        self.reason = reason


class DeviceError(KioskError, OSError):
    """A hardware device (or its simulator) failed or is not configured."""


class InferenceError(KioskError, RuntimeError):
    """A face model cannot be loaded or run, or a photo cannot be turned into an embedding."""


class NoFaceFound(InferenceError):
    """The face detector found no face scoring at least the configured minimum in the photo."""


class UplinkError(KioskError, RuntimeError):
    """The uplink cannot run: broker settings, keys or certificates are missing or unusable."""


class ProtocolError(KioskError, ValueError):
    """An uplink message is malformed, unsigned, signed by an unknown key, or of an unknown version."""


class FrameError(DeviceError):
    """A device sent a malformed frame: noise, a torn line, a bad checksum or an unexpected packet."""


class ProvisionError(KioskError, ValueError):
    """A provisioning set is refused (a missing or bad file, or a different set on a provisioned kiosk); nothing changed."""
