"""The touchscreen's one translation catalogue: English source strings, other languages from gettext .po files.

Every text the officer sees goes through ``translator(lang)``: templates call ``_()``, the
routes call it for messages, and the few strings the page script needs are marked with
``N_`` in ``JS_MESSAGES`` and sent to the page already translated. The catalogue is read
from ``appliance/web/locale/<lang>/LC_MESSAGES/messages.po`` with Babel when first needed;
reading the .po directly (instead of a compiled .mo) leaves no build step that could
ship a stale translation.
"""

from __future__ import annotations

import functools
from importlib import resources
from typing import Callable

from babel.messages.pofile import read_po

LANGUAGES = {"en": "English", "fr": "Français"}
DEFAULT_LANGUAGE = "en"
CATALOGUE_DOMAIN = "messages"


def N_(text: str) -> str:
    """Marks ``text`` for the catalogue without translating it now (it is translated when shown)."""
    return text


# The strings kiosk.js shows, by key; sent to each page in the officer's language.
JS_MESSAGES = {
    "reader_waiting": N_("Place the document on the reader…"),
    "reader_read": N_("Document read."),
    # A device's failure in plain words, chosen by the device and the error's kind (kiosk.js
    # deviceFailure); the device's own text is for a technician: logged, and in diagnostics.
    "reader_unavailable": N_("The document reader is not working: type the MRZ instead."),
    "reader_bad": N_("The reader could not read this document: present it again, or type the MRZ."),
    "check_failed": N_("check digit wrong"),
    "mrz_incomplete": N_("Keep typing: {detail}"),
    "mrz_problem_refer": N_("Check digits do not match: the traveller will be referred."),
    "fields_needed": N_("Still needed: {fields}"),
    "field_problem": N_("{field}: {message}"),
    "fields_ok": N_("All fields are valid."),
    "fields_refer": N_("All fields are valid. Typed by hand, without check digits: the traveller will be referred."),
    "fields_problems": N_("Fields valid, but {problems}."),
    "fields_problems_refer": N_("Fields valid, but {problems}: referred."),
    "document_problem": N_("Document problem: see below."),
    "document_problem_refer": N_("Document problem (below): the traveller will be referred."),
    "problems": N_("Document problem: {problems}"),
    "capture_kept": N_("Taken before: kept. Retake if you wish."),
    "draft_restored": N_("The crossing in progress was kept: carry on."),
    "sup_needed_outcome": N_("Choose Refuse or Clear traveller."),
    "sup_needed_reason": N_("Choose the reason for the outcome."),
    "sup_needed_note": N_("Say why in the note: the reason is Other."),
    "preview_unavailable": N_("No live view: the camera does not answer."),
    "camera_failed": N_("The camera took no photo: try again, or say why there is none."),
    "fingerprint_failed": N_("No fingerprint was read: ask the traveller to press one finger flat on the glass, "
                             "then try again."),
    "device_garbled": N_("The device's answer was damaged on the way: try again."),
    "no_biometric_key": N_("Photos and fingerprints are off on this kiosk (no biometric key): tell a technician."),
    "capturing": N_("Capturing…"),
    "retake": N_("Retake"),
    "capture_ok": N_("Quality is good."),
    "capture_poor": N_("Quality is poor: retake if you can."),
    "capture_unavailable": N_("Unavailable: {detail}"),
    "not_installed": N_("this kiosk has no such device"),
    "recording": N_("Recording the crossing…"),
    "record_failed": N_("The crossing was NOT recorded: {detail}"),
    "network_error": N_("The kiosk service does not answer. Try again."),
    "online": N_("online"),
    "offline": N_("offline"),
    "queue": N_("{count} to send"),
    "charging": N_("charging"),
    "unknown": N_("unknown"),
}


@functools.cache
def catalogue(lang: str) -> dict[str, str]:
    """msgid -> translation for ``lang`` (empty for the source language); untranslated and fuzzy entries left out.

    Raises LookupError for a language the kiosk does not offer.
    """
    if lang not in LANGUAGES:
        raise LookupError(f"language {lang!r} is not offered; choose one of {', '.join(LANGUAGES)}")
    if lang == DEFAULT_LANGUAGE:
        return {}
    source = resources.files("appliance.web").joinpath(f"locale/{lang}/LC_MESSAGES/{CATALOGUE_DOMAIN}.po")
    with source.open("rb") as handle:
        parsed = read_po(handle, locale=lang)
    return {
        message.id: message.string
        for message in parsed
        if message.id and isinstance(message.id, str) and isinstance(message.string, str) and message.string
        and not message.fuzzy
    }


def translator(lang: str) -> Callable[..., str]:
    """``_(text, **values)``: ``text`` in ``lang`` (English when untranslated), then ``str.format(**values)``."""
    table = catalogue(lang)

    def gettext(text: str, **values: object) -> str:
        translated = table.get(text, text)
        return translated.format(**values) if values else translated

    return gettext


def choose(requested: str | None) -> str:
    """The offered language for a requested code (query or cookie); the default for anything else."""
    return requested if requested in LANGUAGES else DEFAULT_LANGUAGE
