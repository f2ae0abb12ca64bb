"""ICAO 9303 machine readable zones: parse and check TD1, TD2, TD3, MRV-A and MRV-B, and compose them."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date
from typing import Any, Callable

from appliance.domain import clock
from appliance.domain.reasons import Reason, reason
from appliance.errors import MRZError

FORMATS = ("TD1", "TD2", "TD3", "MRVA", "MRVB")
"""Format names, as ``MRZResult.format`` and ``compose`` spell them."""

CHECKS = ("document_number", "birth_date", "expiry_date", "optional_data", "composite")
"""Names that can appear in ``MRZResult.failed_checks``, always in this order."""

# (number of lines, characters per line) of each format.
_SHAPES = {"TD1": (3, 30), "TD2": (2, 36), "TD3": (2, 44), "MRVA": (2, 44), "MRVB": (2, 36)}
_LABELS = {"TD1": "TD1", "TD2": "TD2", "TD3": "TD3", "MRVA": "MRV-A", "MRVB": "MRV-B"}
_DEFAULT_CODES = {"TD1": "I", "TD2": "I", "TD3": "P", "MRVA": "V", "MRVB": "V"}
# The whole MRZ run together on one line, as some readers send it.
_RUN_TOGETHER = {90: (3, 30), 72: (2, 36), 88: (2, 44)}

_ALPHABET = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789<")
_VALUES = {c: v for v, c in enumerate("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ")} | {"<": 0}
_WEIGHTS = (7, 3, 1)
# Only ASCII letters are folded: str.upper() would turn 'ß' into 'SS' and shift every
# column after it, so the error message would point at the wrong character.
_ASCII_UPPER = str.maketrans("abcdefghijklmnopqrstuvwxyz", "ABCDEFGHIJKLMNOPQRSTUVWXYZ")


def check_digit(text: str) -> str:
    """The ICAO 9303 check digit ('0'..'9') of ``text``: weights 7-3-1, A-Z = 10..35, '<' = 0.

    Raises MRZError if ``text`` holds a character outside A-Z, 0-9 and '<'.
    """
    total = 0
    for position, char in enumerate(text):
        try:
            total += _VALUES[char] * _WEIGHTS[position % 3]
        except KeyError:
            raise _error("mrz.bad_character", char=repr(char)) from None
    return str(total % 10)


@dataclass(frozen=True)
class MRZResult:
    """A parsed MRZ. Fields are decoded ('<' filler stripped); ``lines`` is the MRZ as read, normalised."""

    format: str
    document_code: str
    issuing_state: str
    document_number: str
    surname: str
    given_names: str
    nationality: str
    birth_date: date | None
    expiry_date: date | None
    sex: str
    optional_data: str
    optional_data_2: str | None
    failed_checks: tuple[str, ...]
    messages: tuple[str, ...]
    lines: tuple[str, ...]
    # ``messages`` as codes with parameters (appliance.domain.reasons), in the same order.
    reasons: tuple[Reason, ...] = ()

    @property
    def valid(self) -> bool:
        """True when every check digit matches and every date is a real date."""
        return not self.failed_checks

    def is_expired(self, today: date | None = None) -> bool:
        """True when the expiry date is before ``today`` (default: today, UTC).

        An unreadable expiry date gives False: it is already reported in ``failed_checks``.
        """
        today = today or clock.utcnow().date()
        return self.expiry_date is not None and self.expiry_date < today

    def to_dict(self) -> dict[str, Any]:
        """The result as JSON-ready data (dates as YYYY-MM-DD or None); TD1 adds ``optional_data_2``."""
        data: dict[str, Any] = {
            "format": self.format,
            "document_code": self.document_code,
            "issuing_state": self.issuing_state,
            "document_number": self.document_number,
            "surname": self.surname,
            "given_names": self.given_names,
            "nationality": self.nationality,
            "birth_date": self.birth_date.isoformat() if self.birth_date else None,
            "expiry_date": self.expiry_date.isoformat() if self.expiry_date else None,
            "sex": self.sex,
            "optional_data": self.optional_data,
        }
        if self.format == "TD1":
            data["optional_data_2"] = self.optional_data_2
        data["failed_checks"] = list(self.failed_checks)
        data["valid"] = self.valid
        data["messages"] = list(self.messages)
        return data


# --------------------------------------------------------------------------- parsing


def parse(text: str, today: date | None = None) -> MRZResult:
    """Parse and check the MRZ in ``text``.

    Tolerates CR/CRLF line ends, blank lines and spaces around the lines, lowercase, and
    the whole MRZ run together on one line (90, 72 or 88 characters). Two-digit years are
    resolved against ``today`` (default: today, UTC): a birth date is never in the future,
    an expiry date falls within 50 years either side of today. A failed check digit or an
    impossible date does not raise: it is named in ``failed_checks`` and explained in
    ``messages``.

    Raises MRZError, with a message saying what is wrong and where, when ``text`` is not
    an MRZ: wrong number or length of lines, a character outside A-Z, 0-9 and '<', or a
    sex other than M, F, X or '<'.
    """
    today = today or clock.utcnow().date()
    lines = _normalise(text)
    fmt = _identify(lines)
    _check_characters(lines)
    return _decode(fmt, lines, today)


def _normalise(text: str) -> list[str]:
    if not isinstance(text, str):
        raise _error("mrz.not_text", type=type(text).__name__)
    lines = [line.strip().translate(_ASCII_UPPER) for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n")]
    # An MRZ never has an empty line, so blank lines anywhere (a reader sending CR CR LF)
    # carry no information.
    lines = [line for line in lines if line]
    if len(lines) == 1 and len(lines[0]) in _RUN_TOGETHER:
        count, width = _RUN_TOGETHER[len(lines[0])]
        lines = [lines[0][i * width:(i + 1) * width] for i in range(count)]
    return lines


def _identify(lines: list[str]) -> str:
    """The format the lines' shape says, or MRZError saying which line has the wrong length."""
    if not lines:
        raise _error("mrz.empty")
    if len(lines) == 1:
        if len(lines[0]) == 1:
            raise _error("mrz.one_line_one_character")
        raise _error("mrz.one_line", count=len(lines[0]))
    if len(lines) > 3:
        raise _error("mrz.too_many_lines", count=len(lines))
    if len(lines) == 3:
        fmt = "TD1"
    else:
        lengths = [len(line) for line in lines]
        # The first line of the right length tells the format; the other one is then wrong.
        width = next((n for n in lengths if n in (36, 44)), None)
        if width is None:
            raise _error("mrz.two_line_lengths", first=lengths[0], second=lengths[1])
        visa = lines[0].startswith("V")
        fmt = {36: "MRVB" if visa else "TD2", 44: "MRVA" if visa else "TD3"}[width]
    width = _SHAPES[fmt][1]
    for number, line in enumerate(lines, 1):
        if len(line) != width:
            raise _error("mrz.line_length", line=number, count=len(line), label=_LABELS[fmt], width=width)
    return fmt


def _check_characters(lines: list[str]) -> None:
    for number, line in enumerate(lines, 1):
        for column, char in enumerate(line, 1):
            if char not in _ALPHABET:
                raise _error("mrz.character_not_allowed", line=number, column=column, char=repr(char))


@dataclass(frozen=True)
class _Fields:
    """The raw (still '<'-padded) fields of one MRZ, wherever its format puts them."""

    code: str
    state: str
    number: str
    number_check: str
    name: str
    nationality: str
    birth: str
    birth_check: str
    sex: str
    sex_at: tuple[int, int]  # (line, column), 1-based, for the error message
    expiry: str
    expiry_check: str
    optional: str
    optional_check: str | None  # TD3's personal number check digit
    optional_2: str | None  # TD1's line 2 optional data
    composite: str | None  # the text the composite check digit covers
    composite_check: str | None
    long_numbers: bool  # the number may continue in ``optional`` (TD1, TD2)


def _fields(fmt: str, lines: list[str]) -> _Fields:
    if fmt == "TD1":
        one, two, three = lines
        return _Fields(
            code=one[0:2], state=one[2:5], number=one[5:14], number_check=one[14], name=three,
            nationality=two[15:18], birth=two[0:6], birth_check=two[6], sex=two[7], sex_at=(2, 8),
            expiry=two[8:14], expiry_check=two[14], optional=one[15:30], optional_check=None,
            optional_2=two[18:29], composite=one[5:30] + two[0:7] + two[8:15] + two[18:29],
            composite_check=two[29], long_numbers=True,
        )
    one, two = lines
    end = len(two)
    has_composite = fmt in ("TD2", "TD3")
    optional_end = end - 2 if fmt == "TD3" else end - 1 if has_composite else end
    return _Fields(
        code=one[0:2], state=one[2:5], number=two[0:9], number_check=two[9], name=one[5:],
        nationality=two[10:13], birth=two[13:19], birth_check=two[19], sex=two[20], sex_at=(2, 21),
        expiry=two[21:27], expiry_check=two[27], optional=two[28:optional_end],
        optional_check=two[42] if fmt == "TD3" else None, optional_2=None,
        composite=two[0:10] + two[13:20] + two[21:end - 1] if has_composite else None,
        composite_check=two[end - 1] if has_composite else None,
        long_numbers=fmt == "TD2",
    )


def _decode(fmt: str, lines: list[str], today: date) -> MRZResult:
    raw = _fields(fmt, lines)
    problems: dict[str, list[Reason]] = {name: [] for name in CHECKS}

    number, number_check, optional = raw.number, raw.number_check, raw.optional
    if raw.long_numbers and number_check == "<":
        # ICAO 9303 parts 5 and 6: a number longer than 9 characters continues in the
        # optional data, ends at its first '<', and its last character is the check digit.
        end = optional.find("<")
        end = len(optional) if end == -1 else end
        if end > 0:
            number, number_check, optional = number + optional[:end - 1], optional[end - 1], optional[end:]
    problems["document_number"] += _verify("document number", number, number_check)

    birth = _date(raw.birth, today, _birth_century)
    problems["birth_date"] += _verify("birth date", raw.birth, raw.birth_check)
    if birth is None:
        problems["birth_date"].append(reason("mrz.bad_date", field="birth date", value=repr(raw.birth)))

    expiry = _date(raw.expiry, today, _expiry_century)
    problems["expiry_date"] += _verify("expiry date", raw.expiry, raw.expiry_check)
    if expiry is None:
        problems["expiry_date"].append(reason("mrz.bad_date", field="expiry date", value=repr(raw.expiry)))

    if raw.optional_check is not None:
        # A personal number of filler only may have '<' as its check digit.
        if not (raw.optional_check == "<" and raw.optional.strip("<") == ""):
            problems["optional_data"] += _verify("personal number (optional data)", raw.optional, raw.optional_check)

    if raw.composite is not None and raw.composite_check is not None:
        problems["composite"] += _verify("composite", raw.composite, raw.composite_check)

    if raw.sex in ("M", "F"):
        sex = raw.sex
    elif raw.sex in ("X", "<"):
        sex = "X"
    else:
        line, column = raw.sex_at
        raise _error("mrz.bad_sex", line=line, column=column, sex=repr(raw.sex))

    surname, given_names = _split_name(raw.name)
    return MRZResult(
        format=fmt,
        document_code=raw.code.rstrip("<"),
        issuing_state=raw.state.rstrip("<"),
        document_number=number.rstrip("<"),
        surname=surname,
        given_names=given_names,
        nationality=raw.nationality.rstrip("<"),
        birth_date=birth,
        expiry_date=expiry,
        sex=sex,
        optional_data=optional.strip("<"),
        optional_data_2=raw.optional_2.strip("<") if raw.optional_2 is not None else None,
        failed_checks=tuple(name for name in CHECKS if problems[name]),
        messages=tuple(problem.text() for name in CHECKS for problem in problems[name]),
        lines=tuple(lines),
        reasons=tuple(problem for name in CHECKS for problem in problems[name]),
    )


def _verify(what: str, data: str, digit: str) -> list[Reason]:
    """[] when ``digit`` is the check digit of ``data``, else [the reason why not]."""
    expected = check_digit(data)
    if digit == expected:
        return []
    if digit == "<":
        return [reason("mrz.check_missing", field=what, expected=expected)]
    if not digit.isdigit():
        return [reason("mrz.check_not_digit", field=what, digit=repr(digit), expected=expected)]
    return [reason("mrz.check_wrong", field=what, digit=digit, expected=expected)]


def _error(code: str, **params: Any) -> MRZError:
    """An MRZError whose message is the English text of the reason it carries."""
    item = reason(code, **params)
    return MRZError(item.text(), reason=item)


def _date(text: str, today: date, resolve: Callable[[int, int, int, date], date | None]) -> date | None:
    if not (text.isascii() and text.isdigit()):
        return None
    return resolve(int(text[0:2]), int(text[2:4]), int(text[4:6]), today)


def _make_date(year: int, month: int, day: int) -> date | None:
    try:
        return date(year, month, day)
    except ValueError:
        return None


def _add_years(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February in a year that has none
        return day.replace(year=day.year + years, day=28)


def _birth_century(yy: int, month: int, day: int, today: date) -> date | None:
    """The latest date with these two-digit year, month and day that is not after today."""
    century = today.year // 100 * 100
    for year in (century + yy, century - 100 + yy):
        candidate = _make_date(year, month, day)
        if candidate is not None and candidate <= today:
            return candidate
    return None


def _expiry_century(yy: int, month: int, day: int, today: date) -> date | None:
    """The date with these two-digit year, month and day in [today - 50 years, today + 50 years)."""
    earliest, limit = _add_years(today, -50), _add_years(today, 50)
    for century in range(earliest.year // 100 * 100, limit.year + 1, 100):
        candidate = _make_date(century + yy, month, day)
        if candidate is not None and earliest <= candidate < limit:
            return candidate
    return None


def _split_name(field: str) -> tuple[str, str]:
    primary, _, secondary = field.partition("<<")
    return _words(primary), _words(secondary)


def _words(text: str) -> str:
    return " ".join(word for word in text.split("<") if word)


# --------------------------------------------------------------------------- composing


def compose(
    format: str,
    *,
    document_number: str,
    surname: str,
    given_names: str = "",
    issuing_state: str,
    nationality: str | None = None,
    birth_date: date | str,
    expiry_date: date | str,
    sex: str = "X",
    document_code: str | None = None,
    optional_data: str = "",
    optional_data_2: str = "",
) -> str:
    """A valid MRZ (lines joined by '\\n', no final newline) of ``format`` built from the fields.

    ``format`` is one of TD1, TD2, TD3, MRVA, MRVB (MRV-A and MRV-B are accepted too).
    Dates are ``date`` objects or YYYY-MM-DD strings. ``nationality`` defaults to the
    issuing state, ``document_code`` to I (TD1, TD2), P (TD3) or V (visas), ``sex`` 'X' is
    written '<'. Names are upper-cased, accents dropped, apostrophes removed and spaces or
    hyphens written as '<'; a name too long for its field is cut at the end, as ICAO 9303
    truncation allows. TD1 and TD2 document numbers longer than 9 characters continue in
    the optional data (which then holds less of ``optional_data``). ``optional_data_2`` is
    TD1's line 2 optional field.

    Raises MRZError when a field cannot be written: unknown format, a character an MRZ
    cannot hold, a field too long for its place, an invalid date, a document code that
    does not match the format (visas start with V, other documents do not).
    """
    fmt = format.upper().replace("-", "")
    if fmt not in _SHAPES:
        raise MRZError(f"unknown MRZ format {format!r}; expected one of {', '.join(FORMATS)}")
    width = _SHAPES[fmt][1]
    code = _code_field(document_code if document_code is not None else _DEFAULT_CODES[fmt], 2, "document code")
    if fmt in ("MRVA", "MRVB") and not code.startswith("V"):
        raise MRZError(f"document code {code.rstrip('<')!r} is not a visa code; an {_LABELS[fmt]} code starts with V")
    if fmt in ("TD2", "TD3") and code.startswith("V"):
        raise MRZError(f"document code {code.rstrip('<')!r} starts with V, which marks a visa; use MRVB or MRVA")
    state = _code_field(issuing_state, 3, "issuing state", letters_only=True)
    nation = _code_field(nationality if nationality is not None else issuing_state, 3, "nationality", letters_only=True)
    birth = _yymmdd(birth_date, "birth date")
    expiry = _yymmdd(expiry_date, "expiry date")
    sex_char = _sex_char(sex)
    number = _document_number(document_number)

    if fmt == "TD1":
        number_field, optional_field = _number_and_optional(number, optional_data, 15, fmt)
        one = code + state + number_field + optional_field
        two = (birth + check_digit(birth) + sex_char + expiry + check_digit(expiry) + nation
               + _code_field(optional_data_2, 11, "optional data 2"))
        two += check_digit(one[5:30] + two[0:7] + two[8:15] + two[18:29])
        three = _name_field(surname, given_names, width)
        return "\n".join((one, two, three))

    if optional_data_2:
        raise MRZError(f"optional data 2 exists only in TD1, not in {_LABELS[fmt]}")
    one = code + state + _name_field(surname, given_names, width - 5)
    optional_width = {"TD2": 7, "TD3": 14, "MRVA": 16, "MRVB": 8}[fmt]
    if fmt == "TD2":
        number_field, optional_field = _number_and_optional(number, optional_data, optional_width, fmt)
    else:
        if len(number) > 9:
            raise MRZError(f"document number {number!r} has {len(number)} characters; "
                           f"a {_LABELS[fmt]} document number has at most 9")
        number_field = number.ljust(9, "<") + check_digit(number)
        optional_field = _code_field(optional_data, optional_width, "optional data")
    two = number_field + nation + birth + check_digit(birth) + sex_char + expiry + check_digit(expiry) + optional_field
    if fmt == "TD3":
        two += check_digit(optional_field) if optional_field.strip("<") else "<"
    if fmt in ("TD2", "TD3"):
        two += check_digit(two[0:10] + two[13:20] + two[21:])
    return "\n".join((one, two))


def _code_field(value: str, width: int, what: str, letters_only: bool = False) -> str:
    text = value.upper()
    allowed = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZ<") if letters_only else _ALPHABET
    bad = next((char for char in text if char not in allowed), None)
    if bad is not None:
        kinds = "A-Z and '<'" if letters_only else "A-Z, 0-9 and '<'"
        raise MRZError(f"{what} {value!r} contains {bad!r}; it may hold only {kinds}")
    if len(text) > width:
        raise MRZError(f"{what} {value!r} has {len(text)} characters; its MRZ field has {width}")
    return text.ljust(width, "<")


def _document_number(value: str) -> str:
    number = value.upper()
    if not re.fullmatch(r"[A-Z0-9]+", number):
        raise MRZError(f"document number {value!r} must be one or more of A-Z and 0-9")
    return number


def _number_and_optional(number: str, optional_data: str, optional_width: int, fmt: str) -> tuple[str, str]:
    """TD1/TD2: (number field with its check digit, optional field), a long number overflowing."""
    optional = optional_data.upper()
    if len(number) <= 9:
        return number.ljust(9, "<") + check_digit(number), _code_field(optional, optional_width, "optional data")
    overflow = number[9:] + check_digit(number)
    if len(overflow) > optional_width:
        raise MRZError(f"document number {number!r} has {len(number)} characters; "
                       f"a {_LABELS[fmt]} document number has at most {9 + optional_width - 1}")
    if optional:
        # The '<' ends the number; the optional data follows it.
        overflow += "<"
        if len(overflow) + len(optional) > optional_width:
            raise MRZError(f"optional data {optional_data!r} does not fit after the {len(number)}-character "
                           f"document number: {optional_width - len(overflow)} characters are left")
    return number[:9] + "<", overflow + _code_field(optional, optional_width - len(overflow), "optional data")


def _yymmdd(value: date | str, what: str) -> str:
    if isinstance(value, str):
        try:
            value = date.fromisoformat(value)
        except ValueError:
            raise MRZError(f"{what} {value!r} is not a YYYY-MM-DD date") from None
    if not isinstance(value, date):
        raise MRZError(f"{what} must be a date or a YYYY-MM-DD string, not {type(value).__name__}")
    return value.strftime("%y%m%d")


def _sex_char(sex: str) -> str:
    value = (sex or "<").upper()
    if value in ("M", "F"):
        return value
    if value in ("X", "<"):
        return "<"
    raise MRZError(f"sex {sex!r} must be M, F or X")


def _name_field(surname: str, given_names: str, width: int) -> str:
    primary = "<".join(_name_words(surname, "surname"))
    secondary = "<".join(_name_words(given_names, "given names"))
    text = f"{primary}<<{secondary}" if secondary else primary
    # Truncation must not leave a '<' last: it would read as part of a separator.
    return text[:width].rstrip("<").ljust(width, "<")


def _name_words(value: str, what: str) -> list[str]:
    decomposed = unicodedata.normalize("NFKD", value)
    text = "".join(char for char in decomposed if not unicodedata.combining(char)).upper()
    text = text.replace("'", "").replace("\u2019", "")
    words = [word for word in re.split(r"[\s\-,.<]+", text) if word]
    for word in words:
        bad = next((char for char in word if not ("A" <= char <= "Z")), None)
        if bad is not None:
            raise MRZError(f"{what} {value!r} contains {bad!r}, which an MRZ cannot hold; transliterate it first")
    return words


__all__ = ["CHECKS", "FORMATS", "MRZResult", "check_digit", "compose", "parse"]
