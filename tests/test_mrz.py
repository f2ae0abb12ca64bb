"""The ICAO 9303 MRZ parser and composer: known vectors, each failing check, dates, tolerance, errors."""

from __future__ import annotations

from datetime import date
from importlib import resources

import pytest

from appliance.domain import mrz
from appliance.errors import KioskError, MRZError

TODAY = date(2025, 6, 1)

TD1_SPECIMEN = (
    "I<UTOD231458907<<<<<<<<<<<<<<<\n"
    "7408122F1204159UTO<<<<<<<<<<<6\n"
    "ERIKSSON<<ANNA<MARIA<<<<<<<<<<"
)
# ICAO 9303 part 5: a 12-character document number continuing in the optional data.
TD1_LONG_NUMBER = (
    "I<UTOD23145890<7349<<<<<<<<<<<\n"
    "3407127M9507122UTO<<<<<<<<<<<2\n"
    "STEVENSON<<PETER<JOHN<<<<<<<<<"
)
TD2_SPECIMEN = (
    "I<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<\n"
    "D231458907UTO7408122F1204159<<<<<<<6"
)
TD3_SPECIMEN = (
    "P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<\n"
    "L898902C36UTO7408122F1204159ZE184226B<<<<<10"
)
MRVA_SPECIMEN = (
    "V<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<\n"
    "L8988901C4XXX4009078F96121096ZE184226B<<<<<<"
)
MRVB_SPECIMEN = (
    "V<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<\n"
    "L8988901C4XXX4009078F9612109<<<<<<<<"
)

REQUIRED_KEYS = {
    "format", "document_code", "issuing_state", "document_number", "surname", "given_names",
    "nationality", "birth_date", "expiry_date", "sex", "optional_data", "failed_checks", "valid", "messages",
}

# The package's demo specimens, in the order the file holds them (tests/samples.py and the
# demo command index into it).
SPECIMEN_FIELDS = [
    ("TD3", dict(document_code="P", issuing_state="UTO", surname="ERIKSSON", given_names="ANNA MARIA",
                 document_number="L898902C3", nationality="UTO", birth_date="1974-08-12", sex="F",
                 expiry_date="2012-04-15", optional_data="ZE184226B")),
    ("TD3", dict(document_code="P", issuing_state="UTO", surname="OKAFOR", given_names="CHIDI",
                 document_number="X12345678", nationality="UTO", birth_date="1985-03-14", sex="M",
                 expiry_date="2031-05-20")),
    ("TD3", dict(document_code="P", issuing_state="UTO", surname="DOE", given_names="JOHN",
                 document_number="AB1234567", nationality="UTO", birth_date="1980-01-01", sex="M",
                 expiry_date="2030-01-01")),
    ("TD1", dict(document_code="I", issuing_state="UTO", surname="MARTIN", given_names="CLAIRE",
                 document_number="ZZ9876543", nationality="UTO", birth_date="1990-07-21", sex="F",
                 expiry_date="2029-07-20")),
    ("TD2", dict(document_code="I", issuing_state="UTO", surname="NAKAMURA", given_names="YUKI",
                 document_number="C01X00T47", nationality="UTO", birth_date="1992-11-03", sex="F",
                 expiry_date="2032-11-02")),
    ("MRVA", dict(document_code="V", issuing_state="UTO", surname="HASSAN", given_names="AMINA",
                  document_number="VA1234567", nationality="D", birth_date="1978-02-28", sex="F",
                  expiry_date="2028-06-30")),
    ("MRVB", dict(document_code="V", issuing_state="UTO", surname="PETROV", given_names="IVAN SERGEEVICH",
                  document_number="VB7654321", nationality="UTO", birth_date="1969-12-31", sex="M",
                  expiry_date="2028-03-15")),
]


def specimens_text() -> str:
    """What appliance/demo_data/specimens.mrz must hold, byte for byte."""
    return "\n\n".join(mrz.compose(fmt, **fields) for fmt, fields in SPECIMEN_FIELDS) + "\n"


def replace(text: str, line: int, column: int, char: str) -> str:
    """``text`` with the character at (line, column), both 1-based, replaced."""
    lines = text.split("\n")
    row = lines[line - 1]
    lines[line - 1] = row[:column - 1] + char + row[column:]
    return "\n".join(lines)


def other_digit(digit: str) -> str:
    return str((int(digit) + 1) % 10)


# --------------------------------------------------------------------------- check digits


@pytest.mark.parametrize("text, digit", [
    ("L898902C3", "6"), ("740812", "2"), ("120415", "9"), ("ZE184226B<<<<<", "1"),
    ("D23145890734", "9"), ("<<<<<<", "0"), ("", "0"),
])
def test_check_digit_known_values(text: str, digit: str) -> None:
    assert mrz.check_digit(text) == digit


def test_check_digit_refuses_a_non_mrz_character() -> None:
    with pytest.raises(MRZError, match="'a' is not an MRZ character"):
        mrz.check_digit("abc")


# --------------------------------------------------------------------------- known vectors


def test_td1_specimen() -> None:
    result = mrz.parse(TD1_SPECIMEN, today=TODAY)
    assert result.to_dict() == {
        "format": "TD1", "document_code": "I", "issuing_state": "UTO", "document_number": "D23145890",
        "surname": "ERIKSSON", "given_names": "ANNA MARIA", "nationality": "UTO",
        "birth_date": "1974-08-12", "expiry_date": "2012-04-15", "sex": "F", "optional_data": "",
        "optional_data_2": "", "failed_checks": [], "valid": True, "messages": [],
    }
    assert result.lines == tuple(TD1_SPECIMEN.split("\n"))


def test_td1_long_document_number_from_icao() -> None:
    result = mrz.parse(TD1_LONG_NUMBER, today=TODAY)
    assert result.valid, result.messages
    assert result.document_number == "D23145890734"
    assert result.optional_data == ""
    assert (result.surname, result.given_names) == ("STEVENSON", "PETER JOHN")
    assert (result.birth_date, result.expiry_date, result.sex) == (date(1934, 7, 12), date(1995, 7, 12), "M")


def test_td2_specimen() -> None:
    data = mrz.parse(TD2_SPECIMEN, today=TODAY).to_dict()
    assert data == {
        "format": "TD2", "document_code": "I", "issuing_state": "UTO", "document_number": "D23145890",
        "surname": "ERIKSSON", "given_names": "ANNA MARIA", "nationality": "UTO",
        "birth_date": "1974-08-12", "expiry_date": "2012-04-15", "sex": "F", "optional_data": "",
        "failed_checks": [], "valid": True, "messages": [],
    }


def test_td3_specimen() -> None:
    result = mrz.parse(TD3_SPECIMEN, today=TODAY)
    assert result.to_dict() == {
        "format": "TD3", "document_code": "P", "issuing_state": "UTO", "document_number": "L898902C3",
        "surname": "ERIKSSON", "given_names": "ANNA MARIA", "nationality": "UTO",
        "birth_date": "1974-08-12", "expiry_date": "2012-04-15", "sex": "F", "optional_data": "ZE184226B",
        "failed_checks": [], "valid": True, "messages": [],
    }
    assert result.is_expired(TODAY)
    assert not result.is_expired(date(2012, 4, 15))


def test_mrv_a_specimen() -> None:
    data = mrz.parse(MRVA_SPECIMEN, today=TODAY).to_dict()
    assert data["format"] == "MRVA"
    assert (data["document_code"], data["document_number"], data["nationality"]) == ("V", "L8988901C", "XXX")
    assert (data["birth_date"], data["expiry_date"], data["sex"]) == ("1940-09-07", "1996-12-10", "F")
    assert data["optional_data"] == "6ZE184226B"
    assert data["valid"] is True and "optional_data_2" not in data


def test_mrv_b_specimen() -> None:
    data = mrz.parse(MRVB_SPECIMEN, today=TODAY).to_dict()
    assert data["format"] == "MRVB"
    assert (data["surname"], data["given_names"]) == ("ERIKSSON", "ANNA MARIA")
    assert (data["birth_date"], data["expiry_date"], data["optional_data"]) == ("1940-09-07", "1996-12-10", "")
    assert data["valid"] is True


@pytest.mark.parametrize("text", [TD1_SPECIMEN, TD2_SPECIMEN, TD3_SPECIMEN, MRVA_SPECIMEN, MRVB_SPECIMEN])
def test_to_dict_has_the_contract_keys(text: str) -> None:
    data = mrz.parse(text, today=TODAY).to_dict()
    assert REQUIRED_KEYS <= set(data)
    assert ("optional_data_2" in data) == (data["format"] == "TD1")


def test_result_is_frozen() -> None:
    result = mrz.parse(TD3_SPECIMEN, today=TODAY)
    with pytest.raises(AttributeError):
        result.surname = "X"  # type: ignore[misc]


def test_compose_reproduces_the_icao_specimens() -> None:
    assert mrz.compose(
        "TD3", document_code="P", issuing_state="UTO", surname="ERIKSSON", given_names="ANNA MARIA",
        document_number="L898902C3", nationality="UTO", birth_date=date(1974, 8, 12), sex="F",
        expiry_date=date(2012, 4, 15), optional_data="ZE184226B",
    ) == TD3_SPECIMEN
    common = dict(issuing_state="UTO", surname="ERIKSSON", given_names="ANNA MARIA", document_number="D23145890",
                  birth_date="1974-08-12", sex="F", expiry_date="2012-04-15")
    assert mrz.compose("TD1", **common) == TD1_SPECIMEN
    assert mrz.compose("TD2", **common) == TD2_SPECIMEN
    visa = dict(common, document_number="L8988901C", nationality="XXX", birth_date="1940-09-07",
                expiry_date="1996-12-10")
    assert mrz.compose("MRV-A", **visa, optional_data="6ZE184226B") == MRVA_SPECIMEN
    assert mrz.compose("mrvb", **visa) == MRVB_SPECIMEN
    assert mrz.compose("TD1", **dict(common, surname="STEVENSON", given_names="PETER JOHN",
                                     document_number="D23145890734", birth_date="1934-07-12", sex="M",
                                     expiry_date="1995-07-12")) == TD1_LONG_NUMBER


# --------------------------------------------------------------------------- failing checks


@pytest.mark.parametrize("text, line, column, expected", [
    (TD3_SPECIMEN, 2, 10, ["document_number", "composite"]),
    (TD3_SPECIMEN, 2, 20, ["birth_date", "composite"]),
    (TD3_SPECIMEN, 2, 28, ["expiry_date", "composite"]),
    (TD3_SPECIMEN, 2, 43, ["optional_data", "composite"]),
    (TD3_SPECIMEN, 2, 44, ["composite"]),
    (TD1_SPECIMEN, 1, 15, ["document_number", "composite"]),
    (TD1_SPECIMEN, 2, 7, ["birth_date", "composite"]),
    (TD1_SPECIMEN, 2, 15, ["expiry_date", "composite"]),
    (TD1_SPECIMEN, 2, 30, ["composite"]),
    (TD2_SPECIMEN, 2, 10, ["document_number", "composite"]),
    (TD2_SPECIMEN, 2, 20, ["birth_date", "composite"]),
    (TD2_SPECIMEN, 2, 28, ["expiry_date", "composite"]),
    (TD2_SPECIMEN, 2, 36, ["composite"]),
    (MRVA_SPECIMEN, 2, 10, ["document_number"]),
    (MRVA_SPECIMEN, 2, 20, ["birth_date"]),
    (MRVB_SPECIMEN, 2, 28, ["expiry_date"]),
])
def test_each_wrong_check_digit_is_named(text: str, line: int, column: int, expected: list[str]) -> None:
    digit = text.split("\n")[line - 1][column - 1]
    result = mrz.parse(replace(text, line, column, other_digit(digit)), today=TODAY)
    assert result.failed_checks == tuple(expected)
    assert result.valid is False
    data = result.to_dict()
    assert data["failed_checks"] == expected and data["valid"] is False
    assert len(data["messages"]) == len(expected)
    assert f"expected {digit}" in data["messages"][0]


def test_a_misread_field_character_fails_its_check_and_the_composite() -> None:
    result = mrz.parse(replace(TD3_SPECIMEN, 2, 2, "9"), today=TODAY)  # an 8 misread as a 9
    assert result.failed_checks == ("document_number", "composite")
    assert result.document_number == "L998902C3"
    assert result.messages[0] == "document number check digit is 6, expected 9"


def test_every_failure_is_listed_in_order() -> None:
    text = TD3_SPECIMEN
    for column in (44, 43, 28, 20, 10):
        digit = text.split("\n")[1][column - 1]
        text = replace(text, 2, column, other_digit(digit))
    assert mrz.parse(text, today=TODAY).failed_checks == mrz.CHECKS


def test_a_letter_as_check_digit_fails_with_a_message() -> None:
    result = mrz.parse(replace(TD3_SPECIMEN, 2, 44, "A"), today=TODAY)
    assert result.failed_checks == ("composite",)
    assert result.messages == ("composite check digit 'A' is not a digit; expected 0",)


def test_mrv_has_no_composite_and_no_optional_data_check() -> None:
    result = mrz.parse(replace(MRVA_SPECIMEN, 2, 44, "7"), today=TODAY)
    assert result.valid and result.optional_data == "6ZE184226B<<<<<7"


def _td3_line2(birth: str = "740812", expiry: str = "120415", personal: str = "ZE184226B<<<<<",
               personal_check: str | None = None) -> str:
    """A TD3 line 2 for L898902C3 with every check digit right for the given fields."""
    line = "L898902C36UTO" + birth + mrz.check_digit(birth) + "F" + expiry + mrz.check_digit(expiry) + personal
    line += mrz.check_digit(personal) if personal_check is None else personal_check
    return line + mrz.check_digit(line[0:10] + line[13:20] + line[21:43])


TD3_LINE1 = TD3_SPECIMEN.split("\n")[0]


@pytest.mark.parametrize("field, value", [
    ("birth_date", "741312"), ("birth_date", "740230"), ("birth_date", "<<<<<<"), ("birth_date", "74<812"),
    ("expiry_date", "121301"), ("expiry_date", "<<<<<<"), ("expiry_date", "1204AB"),
])
def test_an_impossible_date_is_null_and_named(field: str, value: str) -> None:
    line2 = _td3_line2(**{"birth" if field == "birth_date" else "expiry": value})
    result = mrz.parse(f"{TD3_LINE1}\n{line2}", today=TODAY)
    assert getattr(result, field) is None
    assert result.to_dict()[field] is None
    assert result.failed_checks == (field,)
    assert f"{value!r} is not a valid YYMMDD date" in result.messages[0]
    assert not result.is_expired(TODAY) or field == "birth_date"


def test_personal_number_check_digit_may_be_filler_when_empty() -> None:
    empty = "<" * 14
    for check in ("<", "0"):
        result = mrz.parse(f"{TD3_LINE1}\n{_td3_line2(personal=empty, personal_check=check)}", today=TODAY)
        assert result.valid, result.messages
        assert result.optional_data == ""
    result = mrz.parse(f"{TD3_LINE1}\n{_td3_line2(personal=empty, personal_check='3')}", today=TODAY)
    assert result.failed_checks == ("optional_data",)


def test_personal_number_check_digit_filler_fails_when_not_empty() -> None:
    result = mrz.parse(f"{TD3_LINE1}\n{_td3_line2(personal_check='<')}", today=TODAY)
    assert result.failed_checks == ("optional_data",)
    assert result.messages == ("personal number (optional data) check digit is missing ('<'); expected 1",)


# --------------------------------------------------------------------------- long TD1/TD2 numbers


@pytest.mark.parametrize("fmt, number, optional", [
    ("TD1", "D23145890734", ""),
    ("TD1", "ABCDEFGHIJ", "XY1"),
    ("TD1", "A" * 22, ""),
    ("TD1", "A" * 23, ""),  # fills the whole optional field: no '<' ends it
    ("TD1", "A" * 12, "B" * 10),  # 9 + 3 characters, check digit, '<', optional data: exactly 15
    ("TD2", "123456789012", ""),
    ("TD2", "A" * 15, ""),
    ("TD2", "ABCDEFGHIJ", "1234"),
])
def test_long_document_numbers_round_trip(fmt: str, number: str, optional: str) -> None:
    text = mrz.compose(fmt, issuing_state="UTO", surname="ROE", given_names="RICHARD", document_number=number,
                       birth_date="1971-01-30", sex="M", expiry_date="2030-02-01", optional_data=optional)
    result = mrz.parse(text, today=TODAY)
    assert result.valid, result.messages
    assert (result.document_number, result.optional_data) == (number, optional)


def test_long_document_number_with_a_wrong_check_digit_fails() -> None:
    text = replace(TD1_LONG_NUMBER, 1, 19, "8")
    result = mrz.parse(text, today=TODAY)
    assert result.document_number == "D23145890734"
    assert result.failed_checks == ("document_number", "composite")
    assert result.messages[0] == "document number check digit is 8, expected 9"


def test_filler_check_digit_with_nothing_to_continue_fails() -> None:
    text = replace(TD1_SPECIMEN, 1, 15, "<")
    result = mrz.parse(text, today=TODAY)
    assert result.document_number == "D23145890"
    assert result.failed_checks[0] == "document_number"
    assert result.messages[0] == "document number check digit is missing ('<'); expected 7"


def test_td3_has_no_long_document_numbers() -> None:
    text = replace(TD3_SPECIMEN, 2, 10, "<")
    assert mrz.parse(text, today=TODAY).failed_checks[0] == "document_number"
    with pytest.raises(MRZError, match="has 10 characters; a TD3 document number has at most 9"):
        mrz.compose("TD3", issuing_state="UTO", surname="ROE", document_number="ABCDEFGHIJ",
                    birth_date="1971-01-30", expiry_date="2030-02-01")


@pytest.mark.parametrize("fmt, number, optional, message", [
    ("TD1", "A" * 24, "", "a TD1 document number has at most 23"),
    ("TD2", "A" * 16, "", "a TD2 document number has at most 15"),
    ("TD1", "A" * 12, "B" * 11, "10 characters are left"),
])
def test_compose_refuses_numbers_that_do_not_fit(fmt: str, number: str, optional: str, message: str) -> None:
    with pytest.raises(MRZError, match=message):
        mrz.compose(fmt, issuing_state="UTO", surname="ROE", document_number=number, optional_data=optional,
                    birth_date="1971-01-30", expiry_date="2030-02-01")


# --------------------------------------------------------------------------- dates


def _with_dates(birth: str, expiry: str) -> str:
    return mrz.compose("TD3", issuing_state="UTO", surname="ROE", document_number="X1",
                       birth_date=birth, expiry_date=expiry)


@pytest.mark.parametrize("written, today, expected", [
    ("2025-06-01", date(2025, 6, 1), date(2025, 6, 1)),  # born today
    ("1925-06-02", date(2025, 6, 1), date(1925, 6, 2)),  # 2025-06-02 would be tomorrow
    ("2025-06-02", date(2025, 6, 1), date(1925, 6, 2)),  # same MRZ digits, same answer
    ("2000-02-29", date(2025, 6, 1), date(2000, 2, 29)),
    ("1999-12-31", date(2025, 6, 1), date(1999, 12, 31)),
    ("2010-05-05", date(2009, 1, 1), date(1910, 5, 5)),
])
def test_birth_date_is_never_in_the_future(written: str, today: date, expected: date) -> None:
    assert mrz.parse(_with_dates(written, "2030-01-01"), today=today).birth_date == expected


@pytest.mark.parametrize("written, today, expected", [
    ("2012-04-15", date(2025, 6, 1), date(2012, 4, 15)),
    ("2031-05-20", date(2025, 6, 1), date(2031, 5, 20)),
    ("1975-06-01", date(2025, 6, 1), date(1975, 6, 1)),  # exactly 50 years ago: still in range
    ("1975-05-31", date(2025, 6, 1), date(2075, 5, 31)),  # a day earlier: 50 years ahead instead
    ("2075-06-01", date(2025, 6, 1), date(1975, 6, 1)),  # today + 50 years is out of range
    ("2099-01-01", date(2060, 1, 1), date(2099, 1, 1)),
    ("2105-01-01", date(2060, 1, 1), date(2105, 1, 1)),
])
def test_expiry_century_is_within_fifty_years_of_today(written: str, today: date, expected: date) -> None:
    assert mrz.parse(_with_dates("1970-01-01", written), today=today).expiry_date == expected


def test_is_expired_counts_the_expiry_day_as_valid() -> None:
    result = mrz.parse(_with_dates("1970-01-01", "2030-01-01"), today=TODAY)
    assert not result.is_expired(date(2030, 1, 1))
    assert result.is_expired(date(2030, 1, 2))


# --------------------------------------------------------------------------- names


@pytest.mark.parametrize("field, surname, given", [
    ("ERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<", "ERIKSSON", "ANNA MARIA"),
    ("VAN<DER<BERG<<JAN<<<<<<<<<<<<<<<<<<<<<<", "VAN DER BERG", "JAN"),
    ("MADONNA<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<", "MADONNA", ""),
    ("<<ANNA<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<", "", "ANNA"),
    ("NILSSON<<NILS<ANDERS<KARL<JOHAN<PETTERS", "NILSSON", "NILS ANDERS KARL JOHAN PETTERS"),
])
def test_names_split_on_double_filler(field: str, surname: str, given: str) -> None:
    result = mrz.parse(f"P<UTO{field}\n{TD3_SPECIMEN.split(chr(10))[1]}", today=TODAY)
    assert (result.surname, result.given_names) == (surname, given)


def test_compose_writes_names_as_icao_asks() -> None:
    text = mrz.compose("TD3", issuing_state="UTO", surname="Müller-Lüdenscheidt", given_names="Zoë  d'Arc",
                       document_number="X1", birth_date="1970-01-01", expiry_date="2030-01-01")
    assert text.split("\n")[0] == "P<UTOMULLER<LUDENSCHEIDT<<ZOE<DARC".ljust(44, "<")
    result = mrz.parse(text, today=TODAY)
    assert (result.surname, result.given_names) == ("MULLER LUDENSCHEIDT", "ZOE DARC")


def test_compose_truncates_a_long_name_without_a_trailing_filler() -> None:
    text = mrz.compose("TD1", issuing_state="UTO", surname="ABCDEFGHIJKLMNOPQRSTUVWXYZABC",
                       given_names="ZED", document_number="X1", birth_date="1970-01-01", expiry_date="2030-01-01")
    assert text.split("\n")[2] == "ABCDEFGHIJKLMNOPQRSTUVWXYZABC<"


# --------------------------------------------------------------------------- tolerance


@pytest.mark.parametrize("variant", [
    TD3_SPECIMEN.replace("\n", "\r\n"),
    TD3_SPECIMEN.replace("\n", "\r"),
    TD3_SPECIMEN.replace("\n", "\r\r\n"),
    "\n\n" + TD3_SPECIMEN + "\n\n\n",
    "\r\n  " + TD3_SPECIMEN.replace("\n", "  \n\t ") + " \t\r\n",
    TD3_SPECIMEN.lower(),
    TD3_SPECIMEN.replace("\n", ""),
    "  " + TD3_SPECIMEN.replace("\n", "").lower() + "\n",
])
def test_tolerated_variants_parse_like_the_original(variant: str) -> None:
    result = mrz.parse(variant, today=TODAY)
    assert result == mrz.parse(TD3_SPECIMEN, today=TODAY)
    assert result.lines == tuple(TD3_SPECIMEN.split("\n"))


@pytest.mark.parametrize("text", [TD1_SPECIMEN, TD2_SPECIMEN, MRVA_SPECIMEN, MRVB_SPECIMEN])
def test_run_together_on_one_line(text: str) -> None:
    assert mrz.parse(text.replace("\n", ""), today=TODAY) == mrz.parse(text, today=TODAY)


# --------------------------------------------------------------------------- not an MRZ


@pytest.mark.parametrize("text, message", [
    ("", "no MRZ found: the input is empty"),
    ("  \r\n\n \t", "no MRZ found: the input is empty"),
    (TD3_SPECIMEN.split("\n")[1], "got 1 line of 44 characters; an MRZ has 2 lines"),
    ("hello world", "got 1 line of 11 characters"),
    (TD1_SPECIMEN + "\nABC", "got 4 lines; an MRZ has 2 lines (TD2, TD3, MRV) or 3 (TD1)"),
    (TD3_SPECIMEN[:-1], "line 2 has 43 characters; a TD3 line has 44"),
    (TD3_SPECIMEN[1:], "line 1 has 43 characters; a TD3 line has 44"),
    (TD2_SPECIMEN + "<", "line 2 has 37 characters; a TD2 line has 36"),
    (MRVA_SPECIMEN[:-1], "line 2 has 43 characters; an? MRV-A line has 44"),
    (MRVB_SPECIMEN + "<<", "line 2 has 38 characters; an? MRV-B line has 36"),
    ("A" * 40 + "\n" + "B" * 41, "line 1 has 40 and line 2 has 41 characters; a 2-line MRZ has lines of 36"),
    (TD1_SPECIMEN[:-1], "line 3 has 29 characters; a TD1 line has 30"),
    (TD3_SPECIMEN.replace("P<UTOE", "P<UTO#"), r"line 1, column 6: '#' is not allowed in an MRZ"),
    (replace(TD1_SPECIMEN, 2, 17, " "), r"line 2, column 17: ' ' is not allowed in an MRZ"),
    (replace(TD3_SPECIMEN, 1, 7, "é"), r"line 1, column 7: 'é' is not allowed in an MRZ"),
    (replace(TD3_SPECIMEN, 2, 21, "1"), r"line 2, column 21: the sex must be M, F, X or '<', not '1'"),
    (replace(TD1_SPECIMEN, 2, 8, "Q"), r"line 2, column 8: the sex must be M, F, X or '<', not 'Q'"),
])
def test_not_an_mrz_gets_a_specific_error(text: str, message: str) -> None:
    with pytest.raises(MRZError, match=message.replace("(", r"\(").replace(")", r"\)")):
        mrz.parse(text, today=TODAY)


def test_mrz_error_is_a_kiosk_error_and_a_value_error() -> None:
    with pytest.raises(MRZError) as caught:
        mrz.parse(b"P<UTO")  # type: ignore[arg-type]
    assert isinstance(caught.value, KioskError) and isinstance(caught.value, ValueError)
    assert "an MRZ is text, not bytes" in str(caught.value)


def test_sex_x_and_filler_both_read_as_x() -> None:
    for char in ("X", "<"):
        result = mrz.parse(replace(TD3_SPECIMEN, 2, 21, char), today=TODAY)
        assert result.sex == "X" and result.valid  # the sex is outside every check digit


# --------------------------------------------------------------------------- compose errors


@pytest.mark.parametrize("changes, message", [
    ({"format": "TD4"}, "unknown MRZ format 'TD4'"),
    ({"document_code": "V"}, "starts with V, which marks a visa"),
    ({"format": "MRVA"}, "'P' is not a visa code"),
    ({"document_number": "AB-12"}, "document number 'AB-12' must be one or more of A-Z and 0-9"),
    ({"document_number": ""}, "document number '' must be one or more"),
    ({"issuing_state": "UT0"}, "issuing state 'UT0' contains '0'"),
    ({"nationality": "UTOP"}, "nationality 'UTOP' has 4 characters; its MRZ field has 3"),
    ({"optional_data": "A" * 15}, "optional data 'A{15}' has 15 characters; its MRZ field has 14"),
    ({"optional_data_2": "X"}, "optional data 2 exists only in TD1"),
    ({"birth_date": "1970-13-01"}, "birth date '1970-13-01' is not a YYYY-MM-DD date"),
    ({"expiry_date": 20300101}, "expiry date must be a date or a YYYY-MM-DD string, not int"),
    ({"sex": "Q"}, "sex 'Q' must be M, F or X"),
    ({"surname": "Иванов"}, "contains 'И', which an MRZ cannot hold; transliterate it first"),
])
def test_compose_refuses_fields_an_mrz_cannot_hold(changes: dict, message: str) -> None:
    fields = dict(format="TD3", document_code="P", issuing_state="UTO", surname="ROE", document_number="X1",
                  birth_date="1970-01-01", expiry_date="2030-01-01") | changes
    with pytest.raises(MRZError, match=message):
        mrz.compose(**fields)


# --------------------------------------------------------------------------- demo specimens


def _specimen_file() -> str:
    return resources.files("appliance").joinpath("demo_data/specimens.mrz").read_text(encoding="utf-8")


def test_specimen_file_is_what_compose_makes() -> None:
    assert _specimen_file() == specimens_text()


def test_specimen_file_holds_only_valid_mrzs_separated_by_one_blank_line() -> None:
    blocks = _specimen_file().rstrip("\n").split("\n\n")
    assert len(blocks) == len(SPECIMEN_FIELDS)
    for block, (fmt, fields) in zip(blocks, SPECIMEN_FIELDS):
        assert block.strip() and not block.startswith("\n") and "#" not in block
        result = mrz.parse(block, today=TODAY)
        assert result.valid, result.messages
        assert result.format == fmt
        assert result.document_number == fields["document_number"]
        assert (result.surname, result.given_names) == (fields["surname"], fields["given_names"])
        assert result.nationality == fields["nationality"]
        assert (result.birth_date.isoformat(), result.expiry_date.isoformat()) == (
            fields["birth_date"], fields["expiry_date"])
        assert result.sex == fields["sex"]
        if fmt in ("TD2", "MRVA", "MRVB"):
            assert result.expiry_date.year > 2027


def test_specimen_file_starts_with_the_icao_td3_specimen() -> None:
    assert _specimen_file().split("\n\n")[0] == TD3_SPECIMEN
