"""Tables as CSV (UTF-8 with a BOM, which spreadsheet programs need to read accents) or XLSX (openpyxl)."""

from __future__ import annotations

import csv
import io
from typing import Any, Sequence

from fastapi.responses import Response
from openpyxl import Workbook

FORMATS = {"csv": "text/csv; charset=utf-8",
           "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}


def table_bytes(fmt: str, title: str, headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> bytes:
    if fmt == "csv":
        text = io.StringIO()
        writer = csv.writer(text)
        writer.writerow(headers)
        writer.writerows(rows)
        return ("\ufeff" + text.getvalue()).encode("utf-8")
    book = Workbook()
    sheet = book.active
    sheet.title = title[:31]  # Excel's limit on a sheet name
    sheet.append(list(headers))
    for row in rows:
        sheet.append(list(row))
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def download(fmt: str, filename: str, title: str, headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> Response:
    return Response(table_bytes(fmt, title, headers, rows), media_type=FORMATS[fmt],
                    headers={"Content-Disposition": f'attachment; filename="{filename}.{fmt}"'})
