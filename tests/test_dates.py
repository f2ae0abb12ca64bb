"""The one partial-date parser: its forms and messages, and the three places that read a birth date through it."""

from __future__ import annotations

from datetime import date

import pytest

from appliance.domain import dates
from appliance.domain.dates import PartialDateError, parse_partial_date
from appliance.errors import ImportFileError
from appliance.lists import csv_format
from appliance.lists.csv_import import import_bytes
from appliance.workflow import crossings, stats

FULL_WIDTH = "\uff11\uff19\uff18\uff10"  # "1980" in full-width digits
ARABIC_INDIC = "\u0661\u0669\u0668\u0660"  # "1980" in Arabic-Indic digits


@pytest.mark.parametrize("text, parsed", [
    ("1980-05-31", (1980, 5, 31)),
    ("1980-05", (1980, 5, None)),
    ("1980", (1980, None, None)),
    ("2000-02-29", (2000, 2, 29)),
])
def test_the_three_forms(text, parsed):
    assert parse_partial_date(text) == parsed


@pytest.mark.parametrize("text, message", [
    ("01/02/1980", "'01/02/1980' is not YYYY-MM-DD, YYYY-MM or YYYY"),
    ("1980-5", "'1980-5' is not YYYY-MM-DD, YYYY-MM or YYYY"),
    ("1980\n", "'1980\\n' is not YYYY-MM-DD, YYYY-MM or YYYY"),
    ("1980-01-01\n", "'1980-01-01\\n' is not YYYY-MM-DD, YYYY-MM or YYYY"),
    (" 1980", "' 1980' is not YYYY-MM-DD, YYYY-MM or YYYY"),
    (FULL_WIDTH, f"'{FULL_WIDTH}' is not YYYY-MM-DD, YYYY-MM or YYYY (write the digits 0-9)"),
    (f"{ARABIC_INDIC}-01", f"'{ARABIC_INDIC}-01' is not YYYY-MM-DD, YYYY-MM or YYYY (write the digits 0-9)"),
    ("2001-02-30", "'2001-02-30' is not a valid date: 2001-02 has no day 30"),
    ("1980-13", "'1980-13' is not a valid date: the month must be 01-12"),
    ("1980-00-10", "'1980-00-10' is not a valid date: the month must be 01-12"),
    ("0000", "'0000' is not a valid date: the year must be 0001 or later"),
])
def test_what_is_refused_and_why(text, message):
    with pytest.raises(PartialDateError) as caught:
        parse_partial_date(text)
    assert str(caught.value) == message
    assert isinstance(caught.value, ValueError)


def test_list_import_typed_documents_and_statistics_share_the_parser():
    assert csv_format.parse_partial_date is dates.parse_partial_date
    assert crossings.parse_partial_date is dates.parse_partial_date
    assert stats.parse_partial_date is dates.parse_partial_date


@pytest.mark.parametrize("text", [FULL_WIDTH, ARABIC_INDIC, f"{FULL_WIDTH}-01-01", "1980-02-30", "1980-13"])
def test_a_date_one_caller_refuses_every_caller_refuses(store, text):
    header = ",".join(csv_format.COLUMNS["persons"])
    with pytest.raises(ImportFileError, match=r"line 2: field birth_date: "):
        import_bytes(store, "persons", f"{header}\nP-1,DOE,JOHN,,{text},,,,,x\n".encode())
    with pytest.raises(ValueError, match=r"^birth_date must be YYYY-MM-DD, YYYY-MM or YYYY"):
        crossings._birth_date(text)
    assert stats.age_band(text, date(2026, 11, 20)) == "unknown"


def test_a_typed_birth_date_with_a_trailing_newline_is_refused():
    # A list field is trimmed before its rules apply (as every CSV field is); a typed one is
    # taken as sent, and "$" used to let "1980\n" through.
    with pytest.raises(ValueError, match=r"^birth_date must be YYYY-MM-DD, YYYY-MM or YYYY \(got '1980\\n'\)$"):
        crossings._birth_date("1980\n")
    assert stats.age_band("1980\n", date(2026, 11, 20)) == "unknown"
