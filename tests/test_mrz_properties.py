"""Properties of the MRZ parser: it never crashes, composed MRZs round-trip, a wrong check digit is caught."""

from __future__ import annotations

import string
from datetime import date, timedelta

from hypothesis import assume, given, settings, strategies as st

from appliance.domain import mrz
from appliance.errors import MRZError

MRZ_CHARS = string.ascii_uppercase + string.digits + "<"
LETTERS = string.ascii_uppercase

NAME_WIDTH = {"TD1": 30, "TD2": 31, "TD3": 39, "MRVA": 39, "MRVB": 31}
MAX_NUMBER = {"TD1": 23, "TD2": 15, "TD3": 9, "MRVA": 9, "MRVB": 9}
OPTIONAL_WIDTH = {"TD1": 15, "TD2": 7, "TD3": 14, "MRVA": 16, "MRVB": 8}


def add_years(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:
        return day.replace(year=day.year + years, day=28)


todays = st.dates(date(2000, 1, 1), date(2098, 12, 31))
words = st.lists(st.text(LETTERS, min_size=1, max_size=10), min_size=1, max_size=3).map(" ".join)


def free_text(max_size: int) -> st.SearchStrategy[str]:
    """Optional data as a reader returns it: no '<' at either end (those are filler)."""
    return st.text(MRZ_CHARS, max_size=max_size).filter(lambda s: not s.startswith("<") and not s.endswith("<"))


@st.composite
def documents(draw: st.DrawFn, fmt: str | None = None) -> tuple[str, dict, date]:
    """(format, compose keyword arguments, today) for a valid MRZ whose fields survive a round trip."""
    fmt = fmt or draw(st.sampled_from(mrz.FORMATS))
    today = draw(todays)
    surname = draw(words)
    given_names = draw(st.one_of(st.just(""), words))
    name_length = len(surname) + (2 + len(given_names) if given_names else 0)
    assume(name_length <= NAME_WIDTH[fmt])  # longer names are truncated, by design

    visa = fmt in ("MRVA", "MRVB")
    first = "V" if visa else draw(st.sampled_from(LETTERS.replace("V", "")))
    code = first + draw(st.one_of(st.just(""), st.sampled_from(LETTERS)))

    number = draw(st.text(LETTERS + string.digits, min_size=1, max_size=MAX_NUMBER[fmt]))
    room = OPTIONAL_WIDTH[fmt]
    if len(number) > 9:
        room -= len(number) - 9 + 1 + 1  # the number's overflow, its check digit and the '<' ending it
    optional = draw(free_text(room)) if room > 0 else ""

    fields = dict(
        document_code=code,
        issuing_state=draw(st.text(LETTERS, min_size=1, max_size=3)),
        nationality=draw(st.text(LETTERS, min_size=1, max_size=3)),
        document_number=number,
        surname=surname,
        given_names=given_names,
        birth_date=draw(st.dates(add_years(today, -100) + timedelta(days=1), today)),
        expiry_date=draw(st.dates(add_years(today, -50), add_years(today, 50) - timedelta(days=1))),
        sex=draw(st.sampled_from("MFX")),
        optional_data=optional,
    )
    if fmt == "TD1":
        fields["optional_data_2"] = draw(free_text(11))
    return fmt, fields, today


def mutated(text: str, position: int, char: str) -> str:
    position %= len(text)
    return text[:position] + char + text[position + 1:]


@st.composite
def mrz_like_text(draw: st.DrawFn) -> str:
    """Text close enough to an MRZ to get past the first checks, so every later path is tried."""
    kind = draw(st.integers(0, 3))
    if kind == 0:
        return draw(st.text())
    if kind == 1:
        count, width = draw(st.sampled_from([(3, 30), (2, 36), (2, 44), (2, 30), (3, 44), (1, 88), (1, 90)]))
        alphabet = st.sampled_from(MRZ_CHARS + "mf x#\r\n")
        lines = [draw(st.text(alphabet, min_size=width - 1, max_size=width + 1)) for _ in range(count)]
        return draw(st.sampled_from(["\n", "\r\n", "\r", "", "\n\n"])).join(lines)
    # A valid MRZ with a few characters changed: any character (kind 2) or MRZ ones only (kind 3).
    fmt, fields, _ = draw(documents())
    text = mrz.compose(fmt, **fields)
    replacements = st.characters() if kind == 2 else st.sampled_from(MRZ_CHARS)
    for _ in range(draw(st.integers(1, 3))):
        text = mutated(text, draw(st.integers(0, 10_000)), draw(replacements))
    return text


@settings(max_examples=500)
@given(text=mrz_like_text(), today=todays)
def test_any_text_gives_a_result_or_an_mrz_error(text: str, today: date) -> None:
    try:
        result = mrz.parse(text, today=today)
    except MRZError as exc:
        assert str(exc)
        return
    assert isinstance(result, mrz.MRZResult)
    data = result.to_dict()
    assert data["valid"] == (data["failed_checks"] == [])
    assert set(data["failed_checks"]) <= set(mrz.CHECKS)
    assert data["failed_checks"] == [name for name in mrz.CHECKS if name in data["failed_checks"]]
    assert len(data["messages"]) >= len(data["failed_checks"])
    assert data["sex"] in ("M", "F", "X")


@settings(max_examples=300)
@given(document=documents())
def test_composed_mrzs_round_trip(document: tuple[str, dict, date]) -> None:
    fmt, fields, today = document
    text = mrz.compose(fmt, **fields)
    result = mrz.parse(text, today=today)
    assert result.valid, result.messages
    assert result.format == fmt
    assert result.document_code == fields["document_code"]
    assert result.issuing_state == fields["issuing_state"]
    assert result.nationality == fields["nationality"]
    assert result.document_number == fields["document_number"]
    assert (result.surname, result.given_names) == (fields["surname"], fields["given_names"])
    assert (result.birth_date, result.expiry_date) == (fields["birth_date"], fields["expiry_date"])
    assert result.sex == fields["sex"]
    assert result.optional_data == fields["optional_data"]
    assert result.optional_data_2 == fields.get("optional_data_2")
    assert result.lines == tuple(text.split("\n"))
    # What a reader might send instead parses the same.
    assert mrz.parse("\r\n " + text.lower().replace("\n", " \r\n") + "\n\n", today=today) == result
    assert mrz.parse(text.replace("\n", ""), today=today) == result


def check_positions(fmt: str, number: str) -> dict[str, tuple[int, int]]:
    """Where each check digit of a composed MRZ is: name -> (line index, column index)."""
    if fmt == "TD1":
        number_at = (0, 14) if len(number) <= 9 else (0, 15 + len(number) - 9)
        return {"document_number": number_at, "birth_date": (1, 6), "expiry_date": (1, 14), "composite": (1, 29)}
    positions = {"document_number": (1, 9), "birth_date": (1, 19), "expiry_date": (1, 27)}
    if fmt == "TD2" and len(number) > 9:
        positions["document_number"] = (1, 28 + len(number) - 9)
    if fmt == "TD3":
        positions |= {"optional_data": (1, 42), "composite": (1, 43)}
    if fmt == "TD2":
        positions["composite"] = (1, 35)
    return positions


@settings(max_examples=300)
@given(document=documents(), data=st.data())
def test_a_changed_check_digit_fails_its_check(document: tuple[str, dict, date], data: st.DataObject) -> None:
    fmt, fields, today = document
    lines = mrz.compose(fmt, **fields).split("\n")
    name, (row, column) = data.draw(st.sampled_from(sorted(check_positions(fmt, fields["document_number"]).items())))
    current = lines[row][column]
    # An empty personal number's check digit '<' may also be written '0'.
    excluded = {current, "0"} if current == "<" else {current}
    digit = data.draw(st.sampled_from([d for d in string.digits if d not in excluded]))
    lines[row] = lines[row][:column] + digit + lines[row][column + 1:]
    result = mrz.parse("\n".join(lines), today=today)
    assert name in result.failed_checks
    assert not result.valid
    assert result.to_dict()["valid"] is False
