"""Partial dates (YYYY-MM-DD, YYYY-MM, YYYY): the one parser for lists, typed documents and statistics."""

from __future__ import annotations

import re
from datetime import date

PARTIAL_DATE_FORMS = "YYYY-MM-DD, YYYY-MM or YYYY"

# ASCII digits and fullmatch: "\d" takes other scripts' digits (full-width, Arabic-Indic)
# and "$" a final newline, and neither belongs in a stored date.
_PARTIAL_DATE = re.compile(r"([0-9]{4})(?:-([0-9]{2})(?:-([0-9]{2}))?)?")

PartialDate = tuple[int, int | None, int | None]


class PartialDateError(ValueError):
    """A text that is not a partial date; ``reason`` says what is wrong with a well-formed one."""

    def __init__(self, text: str, reason: str | None) -> None:
        self.text = text
        # None: the text has none of the forms; else what makes the date impossible.
        self.reason = reason
        if reason is None:
            message = f"{text!r} is not {PARTIAL_DATE_FORMS}"
            if any(char.isdigit() and char not in "0123456789" for char in text):
                message += " (write the digits 0-9)"
        else:
            message = f"{text!r} is not a valid date: {reason}"
        super().__init__(message)


def parse_partial_date(text: str) -> PartialDate:
    """(year, month, day) of ``YYYY-MM-DD``, ``YYYY-MM`` or ``YYYY``; month and day None when absent.

    Raises PartialDateError (a ValueError) saying what is wrong: not one of the forms
    (other digits than 0-9, a trailing newline or space), or an impossible date such as
    2001-02-30 or 1980-13.
    """
    match = _PARTIAL_DATE.fullmatch(text)
    if not match:
        raise PartialDateError(text, None)
    year = int(match[1])
    month = int(match[2]) if match[2] else None
    day = int(match[3]) if match[3] else None
    if year < 1:
        raise PartialDateError(text, "the year must be 0001 or later")
    if month is not None and not 1 <= month <= 12:
        raise PartialDateError(text, "the month must be 01-12")
    if month is not None and day is not None:
        try:
            date(year, month, day)
        except ValueError:
            raise PartialDateError(text, f"{year:04d}-{month:02d} has no day {day:02d}") from None
    return year, month, day
