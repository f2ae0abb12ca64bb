"""Reasons as codes with parameters: every code renders in English and in French, with no English left in French."""

from __future__ import annotations

import re
import string

import pytest

from appliance.domain import mrz
from appliance.domain.reasons import REASONS, TERMS, Reason, reason, unavailable_reason
from appliance.errors import MRZError
from appliance.web import reasons as web_reasons
from appliance.web.i18n import catalogue, translator

from .samples import PERSON_HIT_DOE

# Words of the English templates that French never uses: one left over means a string was
# not translated (or a term parameter was shown untranslated).
ENGLISH = re.compile(r"\b(the|and|equal|listed|birth|surname|given|names|not|check|digit|expected|differs?|"
                     r"reported|typed|hand|device|working|refused|traveller|similarity|threshold|line|column|"
                     r"characters|got|is|an|of|or|no|only|spelling|close|partly|phonetic|match|expiry|expired|"
                     r"presented|issuer|unavailable|camera|reader|found|input|empty|swapped|order|parts|on|"
                     r"model|loaded|failed|retake|tell|technician|happens|again|read|stored|decrypted|kiosk|"
                     r"neither|entry|exit|give|fields|both|longer|request|letters|digits|prints|purpose|offered|"
                     r"choose|decision|cleared|some|valid|correct|step|future|missing|say|why|ids|text|each|"
                     r"once|kept|long|taken|another|already|belongs|crossing|said|fingerprint|face|move|"
                     r"closer|raise|exposure|focus|installed|decoded|dark|bright|light|shade|sun|"
                     r"contrast|covers|lens|glare|tilt|remove|glasses|blurred|hold|still|smudged|wipe|glass|"
                     r"press|flat|little|seen|whole|pad|clear|goes|out|failed|attempt|template)\b",
                     re.IGNORECASE)
# Data, shown as it is in every language: none of it is an English word.
DATA = {"type": "int", "char": "'é'", "count": 45, "first": 40, "second": 41, "line": 2, "column": 21,
        "label": "TD3", "width": 44, "sex": "'Z'", "expected": 7, "digit": 5, "value": "'991399'",
        "check": "composite", "date": "2020-01-01", "name": "RIVERS, SAM", "listed": "1980-01-01",
        "traveller": "1980", "nationality": "UTO", "similarity": "0.83", "threshold": "0.60", "issuer": "UTO",
        "number": "ZX4417093", "reason": "alerte (démo)", "document": "UTO ZZ9876543", "detail": "—",
        "text": "—"}


def _samples(code: str) -> list[Reason]:
    """The code with sample data, once for every term each of its term parameters can hold."""
    template = REASONS[code]
    names = {name for _, name, _, _ in string.Formatter().parse(template.text) if name}
    data = {name: DATA.get(name, 7) for name in names if name not in template.terms}
    if not template.terms:
        return [Reason(code, data)]
    return [Reason(code, {**data, **{name: term for name in template.terms}}) for term in TERMS]


@pytest.mark.parametrize("code", sorted(REASONS))
def test_every_code_renders_in_english_and_in_french_with_no_english_left(code):
    english, french = translator("en"), translator("fr")
    assert REASONS[code].text in catalogue("fr"), f"{code} has no French in messages.po"
    for item in _samples(code):
        # English on screen is the stored English text.
        assert web_reasons.render(english, item) == item.text()
        shown = web_reasons.render(french, item)
        assert not ENGLISH.search(shown), f"{code} in French still has English: {shown!r}"


def test_a_reason_refuses_an_unknown_code_or_term():
    with pytest.raises(ValueError, match="unknown reason code 'nope'"):
        reason("nope")
    with pytest.raises(ValueError, match="not a known term"):
        reason("name.parts", surname="equalish", given="equal")


def test_a_stored_reason_reads_back_and_an_unknown_code_shows_its_english_text():
    item = reason("document.expired", date="2020-01-01")
    assert item.to_dict() == {"code": "document.expired", "params": {"date": "2020-01-01"},
                              "text": "document expired on 2020-01-01"}
    assert Reason.from_dict(item.to_dict()) == item
    assert web_reasons.render(translator("fr"), item.to_dict()) == "document périmé depuis le 2020-01-01"
    newer = {"code": "document.from_the_future", "params": {}, "text": "said by a newer kiosk"}
    assert web_reasons.render(translator("fr"), newer) == "said by a newer kiosk"


def test_the_mrz_parser_carries_its_codes():
    with pytest.raises(MRZError) as failure:
        mrz.parse("P<UTO")
    assert failure.value.reason == reason("mrz.one_line", count=5)
    assert str(failure.value) == failure.value.reason.text()
    lines = PERSON_HIT_DOE.split("\n")
    wrong = lines[1][:9] + str((int(lines[1][9]) + 1) % 10) + lines[1][10:]
    parsed = mrz.parse(lines[0] + "\n" + wrong)
    assert [item.code for item in parsed.reasons] == ["mrz.check_wrong", "mrz.check_wrong"]
    assert [item.text() for item in parsed.reasons] == list(parsed.messages)
    assert web_reasons.render(translator("fr"), parsed.reasons[0]).startswith(
        "chiffre de contrôle faux pour numéro du document")


def test_missing_capture_texts_have_codes():
    assert unavailable_reason("traveller refused").code == "unavailable.traveller_refused"
    assert unavailable_reason("photo capture is not installed on this kiosk") == reason(
        "unavailable.not_installed", kind="photo")
    assert unavailable_reason("device unavailable: lens covered") == reason("unavailable.device", detail="lens covered")
    assert unavailable_reason("anything else").text() == "anything else"
