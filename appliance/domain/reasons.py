"""Reasons as codes with parameters: what the MRZ parser, the screening engine and the workflow say, in any language.

A ``Reason`` is a code of ``REASONS`` and its parameters. Its English text (``text()``) is
what the stored crossing and HQ keep beside the code (the older free-text fields stay as
they were); the touchscreen renders the code in the officer's language from the same
English template, through its translation catalogue (``appliance.web.reasons``).
Parameters a template names in ``terms`` hold English terms of ``TERMS`` (which check digit,
how a name part matches) and are translated too; every other parameter is data (a name, a
date, a number, a list's own words) and is shown as it is.

The templates are marked with ``N_`` so the catalogue extraction
(``appliance/web/locale/babel.cfg``) finds them; ``tests/test_reasons.py`` renders every code
in English and French.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


def N_(text: str) -> str:
    """Marks ``text`` for the translation catalogue; the touchscreen translates it when shown."""
    return text


@dataclass(frozen=True)
class Template:
    """The English text of a code (``str.format`` placeholders) and which parameters are terms."""

    text: str
    terms: tuple[str, ...] = ()


# English terms a parameter may hold (translated when shown).
TERMS: tuple[str, ...] = (
    # MRZ fields with a check digit
    N_("document number"), N_("birth date"), N_("expiry date"), N_("personal number (optional data)"),
    N_("composite"),
    # how a name part matches (appliance.inference.names)
    N_("equal"), N_("phonetic match"), N_("spelling close"), N_("partly equal"), N_("differ"),
    N_("no given names on the list"), N_("traveller's given names not known"),
    # capture kinds
    N_("photo"), N_("fingerprint"),
)

REASONS: dict[str, Template] = {
    # An MRZ that cannot be read as one (appliance.domain.mrz, MRZError)
    "mrz.not_text": Template(N_("an MRZ is text, not {type}")),
    "mrz.bad_character": Template(N_("{char} is not an MRZ character (only A-Z, 0-9 and '<')")),
    "mrz.empty": Template(N_("no MRZ found: the input is empty")),
    "mrz.one_line": Template(N_("got 1 line of {count} characters; an MRZ has 2 lines (of 36 or 44 characters) "
                                "or 3 lines (of 30), or all of them run together on one line of 72, 88 or 90 "
                                "characters")),
    "mrz.one_line_one_character": Template(N_("got 1 line of 1 character; an MRZ has 2 lines (of 36 or 44 "
                                              "characters) or 3 lines (of 30), or all of them run together on "
                                              "one line of 72, 88 or 90 characters")),
    "mrz.too_many_lines": Template(N_("got {count} lines; an MRZ has 2 lines (TD2, TD3, MRV) or 3 (TD1)")),
    "mrz.two_line_lengths": Template(N_("line 1 has {first} and line 2 has {second} characters; a 2-line MRZ has "
                                        "lines of 36 (TD2, MRV-B) or 44 (TD3, MRV-A) characters")),
    "mrz.line_length": Template(N_("line {line} has {count} characters; a {label} line has {width}")),
    "mrz.character_not_allowed": Template(N_("line {line}, column {column}: {char} is not allowed in an MRZ "
                                             "(only A-Z, 0-9 and '<')")),
    "mrz.bad_sex": Template(N_("line {line}, column {column}: the sex must be M, F, X or '<', not {sex}")),
    # An MRZ's check digits and dates (appliance.domain.mrz)
    "mrz.check_missing": Template(N_("{field} check digit is missing ('<'); expected {expected}"), ("field",)),
    "mrz.check_not_digit": Template(N_("{field} check digit {digit} is not a digit; expected {expected}"),
                                    ("field",)),
    "mrz.check_wrong": Template(N_("{field} check digit is {digit}, expected {expected}"), ("field",)),
    "mrz.bad_date": Template(N_("{field} {value} is not a valid YYMMDD date"), ("field",)),
    # Document problems (appliance.workflow.crossings)
    "document.check_failed": Template(N_("check failed: {check}")),
    "document.expired": Template(N_("document expired on {date}")),
    "document.typed": Template(N_("typed by hand: no check digits to verify")),
    "document.no_expiry": Template(N_("no expiry date given")),
    # Why a hit was reported (appliance.inference.names, appliance.workflow.screening)
    "name.alias": Template(N_("alias {name}")),
    "name.surname_only": Template(N_("surname {surname} ({note})"), ("surname", "note")),
    "name.equal": Template(N_("surname and given names equal")),
    "name.equal_swapped": Template(N_("surname and given names equal but swapped")),
    "name.parts": Template(N_("surname {surname}, given names {given}"), ("surname", "given")),
    "name.swapped": Template(N_("surname and given names swapped: surname {surname}, given names {given}"),
                             ("surname", "given")),
    "name.reordered": Template(N_("all names {names}, parts in another order"), ("names",)),
    "name.differ": Template(N_("names differ")),
    "birth_date.equal": Template(N_("birth date equal")),
    "birth_date.not_listed": Template(N_("no birth date on the list")),
    "birth_date.traveller_unknown": Template(N_("traveller's birth date not known (list: {listed})")),
    "birth_date.compatible": Template(N_("birth date compatible (list: {listed})")),
    "birth_date.compatible_partial": Template(N_("birth date compatible (list: {listed}, traveller: {traveller})")),
    "birth_date.differs": Template(N_("birth date differs (list: {listed})")),
    "sex.differs": Template(N_("sex differs (list: {sex})")),
    "nationality.equal": Template(N_("nationality equal")),
    "nationality.differs": Template(N_("nationality differs (list: {nationality})")),
    "face.similar": Template(N_("face similarity {similarity} (threshold {threshold})")),
    # Why a face was not screened (appliance.inference.face_quality, appliance.workflow.crossings)
    "face.no_model": Template(N_("no face model is installed on this kiosk")),
    "face.no_photo": Template(N_("no face photo was taken")),
    "face.no_face": Template(N_("no face found in the photo: frame the traveller's face and retake")),
    "face.several_faces": Template(N_("{count} faces in the photo: only the traveller may be in the frame; retake")),
    "face.too_small": Template(N_("face too small (eyes {distance} px apart, at least {minimum}): ask the traveller "
                                  "to step closer and retake")),
    "face.tilted": Template(N_("head tilted ({degrees} degrees, at most {maximum}): ask the traveller to hold "
                               "their head straight and retake")),
    "face.turned": Template(N_("head turned (nose {offset} eye distances off centre, at most {maximum}): ask the "
                               "traveller to face the camera and retake")),
    "face.too_dark": Template(N_("face too dark (brightness {brightness}, at least {minimum}): light the "
                                 "traveller's face and retake")),
    "face.too_bright": Template(N_("face too bright (brightness {brightness}, {saturated} % saturated): shade the "
                                   "camera or the traveller from the sun and retake")),
    "face.blurred": Template(N_("face blurred (sharpness {sharpness}, at least {minimum}): ask the traveller to "
                                "hold still and retake")),
    # The model or the photo failed (appliance.workflow.face_screening, biometrics.photo_gate): the
    # officer reads what to do; the face record's ``error`` keeps the technical text for HQ.
    "face.model_unusable": Template(N_("the face model cannot be loaded: tell a technician")),
    "face.model_failed": Template(N_("the face model failed on this photo: retake it, and tell a technician if "
                                     "it happens again")),
    "face.photo_unreadable": Template(N_("the photo cannot be read as an image: retake it")),
    "face.photo_not_decrypted": Template(N_("the stored photo cannot be decrypted on this kiosk: tell a "
                                            "technician")),
    # Recorded before the codes above: the error's own text.
    "face.error": Template(N_("{text}")),
    "person.document": Template(N_("listed document {issuer} {number} equal")),
    "person.document_number": Template(N_("listed document number {number} equal (no issuer on the list)")),
    "hit.listed_for": Template(N_("listed for: {reason}")),
    "document.reported": Template(N_("document {document} reported {reason}")),
    "document.listed": Template(N_("document {document} listed")),
    "document.listed_type": Template(N_("listed as type {type}")),
    "document.presented_as": Template(N_("presented as {type}")),
    # A photo's quick checks (appliance.hw.photo_quality), shown as the photo step's hints
    "photo.small": Template(N_("photo is only {width}x{height}: move closer or raise the camera resolution")),
    "photo.not_checked": Template(N_("exposure and focus not checked (OpenCV not installed)")),
    "photo.undecodable": Template(N_("photo could not be decoded: capture again")),
    "photo.too_dark": Template(N_("too dark: turn on the light or face the traveller to it")),
    "photo.too_bright": Template(N_("too bright: shade the camera from the sun")),
    "photo.no_contrast": Template(N_("no contrast: check nothing covers the lens")),
    "photo.glare": Template(N_("glare: tilt the camera or ask the traveller to remove glasses")),
    "photo.blurred": Template(N_("blurred: ask the traveller to hold still and retake")),
    # A fingerprint module's notes on a reading (appliance.hw.fingerprint_r30x), shown as hints
    "fingerprint.smudged": Template(N_("image smudged: wipe the glass and the finger, then press flat")),
    "fingerprint.partial": Template(N_("too little of the finger seen: press the whole pad flat on the glass")),
    "fingerprint.unclear": Template(N_("no clear image: hold the finger still until the light goes out")),
    "fingerprint.image_failed": Template(N_("image failed: press the finger flat and still")),
    "fingerprint.retried": Template(N_("read at attempt {attempt} of {attempts}")),
    "fingerprint.empty": Template(N_("template is empty: capture again")),
    # Why a crossing was not recorded (WorkflowError.reason of appliance.workflow.crossings and
    # biometrics): the officer reads these; the API's "error" keeps the workflow's English message.
    "record.direction": Template(N_("the direction {direction} is neither entry nor exit")),
    "record.mrz_or_fields": Template(N_("give either the MRZ or the typed fields, not both or neither")),
    "record.note_too_long": Template(N_("the note is longer than {limit} characters")),
    "record.request_id": Template(N_("the request id must be 8-64 letters, digits or '-'")),
    "record.visa_number": Template(N_("the visa number must be 1-20 letters or digits")),
    "record.visa_type": Template(N_("the visa type must be 1-2 letters, as the visa's MRZ prints it")),
    "record.purpose": Template(N_("the purpose {purpose} is not offered on this kiosk any more: choose again")),
    "record.decision": Template(N_("{decision} is not a decision: cleared, referred or refused")),
    "record.typed_fields": Template(N_("some typed fields are not valid: correct them on the document step")),
    "record.birth_date_future": Template(N_("the birth date {date} is in the future")),
    "record.unavailable_kinds": Template(N_("a missing capture must be the photo or the fingerprint")),
    "record.unavailable_empty": Template(N_("say why the {kind} is missing"), ("kind",)),
    "record.unavailable_too_long": Template(N_("the reason for the missing {kind} is longer than {limit} characters"),
                                            ("kind",)),
    "record.capture_ids": Template(N_("the capture ids must be text, each given once")),
    "record.capture_unknown": Template(N_("a photo or fingerprint of this crossing is no longer on the kiosk (kept "
                                          "too long, or taken on another kiosk): take it again")),
    "record.capture_linked": Template(N_("a photo or fingerprint of this crossing already belongs to crossing "
                                         "{crossing}")),
    "record.captured_and_missing": Template(N_("the {kind} is both taken and said to be missing"), ("kind",)),
    # Why a photo or a fingerprint is missing (the crossing's ``unavailable``)
    "unavailable.device_not_working": Template(N_("device not working")),
    "unavailable.traveller_refused": Template(N_("traveller refused")),
    "unavailable.physically_impossible": Template(N_("physically impossible")),
    "unavailable.no_camera": Template(N_("device unavailable: no camera")),
    "unavailable.no_fingerprint_reader": Template(N_("device unavailable: no fingerprint reader")),
    "unavailable.not_installed": Template(N_("{kind} capture is not installed on this kiosk"), ("kind",)),
    "unavailable.device": Template(N_("device unavailable: {detail}")),
    "unavailable.other": Template(N_("{text}")),
}


@dataclass(frozen=True)
class Reason:
    """One code of ``REASONS`` with its parameters; ``text()`` is its English text."""

    code: str
    params: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        template = REASONS.get(self.code)
        if template is None:
            raise ValueError(f"unknown reason code {self.code!r}")
        for name in template.terms:
            if self.params.get(name) not in TERMS:
                raise ValueError(f"reason {self.code}: parameter {name}={self.params.get(name)!r} is not a known term")

    def text(self) -> str:
        return REASONS[self.code].text.format(**self.params)

    def to_dict(self) -> dict[str, Any]:
        """``{"code", "params", "text"}``: the code, its parameters and its English text."""
        return {"code": self.code, "params": dict(self.params), "text": self.text()}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Reason:
        return cls(code=data["code"], params=dict(data.get("params") or {}))


def reason(code: str, **params: Any) -> Reason:
    """``Reason(code, params)``; raises ValueError for an unknown code or term."""
    return Reason(code=code, params=params)


# The reasons the crossing screen offers when a capture is missing (its data-reason values).
_UNAVAILABLE = {
    "device not working": "unavailable.device_not_working",
    "traveller refused": "unavailable.traveller_refused",
    "physically impossible": "unavailable.physically_impossible",
    "device unavailable: no camera": "unavailable.no_camera",
    "device unavailable: no fingerprint reader": "unavailable.no_fingerprint_reader",
}
_NOT_INSTALLED = " capture is not installed on this kiosk"
_DEVICE = "device unavailable: "


def unavailable_reason(text: str) -> Reason:
    """The reason code of a stored "why is there no photo/fingerprint" text (kept as text for HQ)."""
    if text in _UNAVAILABLE:
        return Reason(_UNAVAILABLE[text])
    kind = text.removesuffix(_NOT_INSTALLED)
    if kind != text and kind in ("photo", "fingerprint"):
        return Reason("unavailable.not_installed", {"kind": kind})
    if text.startswith(_DEVICE):
        return Reason("unavailable.device", {"detail": text.removeprefix(_DEVICE)})
    return Reason("unavailable.other", {"text": text})


def texts(reasons: list[Reason], separator: str = ", ") -> str:
    """The English texts of ``reasons`` joined, as the older free-text fields hold them."""
    return separator.join(item.text() for item in reasons)
