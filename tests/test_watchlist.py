"""Watchlist import: the CSV contract, all-or-nothing validation, replace semantics, audit, status, CLI."""

from __future__ import annotations

import hashlib
import json
import re
from datetime import datetime, timedelta, timezone
from importlib import resources
from pathlib import Path

import pytest

from appliance.storage import audit
from appliance.errors import ImportFileError, KioskError
from appliance.storage.store import Store
from appliance.lists.csv_format import COLUMNS, MAX_ERRORS
from appliance.lists.csv_import import import_bytes, import_csv
from appliance.lists.status import list_status

PERSONS_HEADER = ",".join(COLUMNS["persons"])
DOCUMENTS_HEADER = ",".join(COLUMNS["documents"])

PERSONS = f"""\
{PERSONS_HEADER}
P-1,DOE,JOHN,,1980-01-01,M,UTO,,,arrest warrant
P-2,Eriksson,Anna-María,"ERIKSON, Anna|ERIKSSON, Ana Maria",1974-08,F,UTO,UTO,L898-902 c3,fraud
P-3,Иванов,Пётр,"IVANOV, Petr",1966,M,XXA,,,missing
"""
DOCUMENTS = f"""\
{DOCUMENTS_HEADER}
UTO,I,zz 987-654/3,stolen
D,P,C01X00T47,lost
"""


def write(tmp_path: Path, content: str | bytes, name: str = "list.csv") -> Path:
    path = tmp_path / name
    if isinstance(content, str):
        path.write_text(content, encoding="utf-8")
    else:
        path.write_bytes(content)
    return path


def snapshot(store: Store) -> dict:
    """Everything an import may touch: list rows, entry counts per table, audit length."""
    conn = store.conn
    return {
        "lists": conn.execute("SELECT * FROM lists ORDER BY name").fetchall(),
        **{t: conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
           for t in ("watchlist_persons", "watchlist_person_names", "watchlist_documents", "audit")},
    }


# -- Good files ---------------------------------------------------------------------------

def test_demo_lists_import_cleanly(store):
    demo = resources.files("appliance").joinpath("demo_data")
    for kind, expected in (("persons", 7), ("documents", 6)):
        with resources.as_file(demo.joinpath(f"{kind}.csv")) as path:
            result = import_csv(store, kind, path, actor="test")
            assert result.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
        assert (result.list, result.kind, result.entries, result.replaced_version) == (kind, kind, expected, None)
        assert re.fullmatch(r"\d{8}T\d{6}Z", result.version)
    doe = store.conn.execute(
        "SELECT surname, given_names, birth_date, sex, nationality, reason FROM watchlist_persons "
        "WHERE entry_id = 'P-0001'"
    ).fetchone()
    assert doe == ("DOE", "JOHN", "1980-01-01", "M", "UTO", "alert: arrest warrant (demo)")
    stolen = store.conn.execute(
        "SELECT document_type, reason FROM watchlist_documents "
        "WHERE issuing_state = 'UTO' AND document_number = 'ZZ9876543'"
    ).fetchone()
    assert stolen == ("I", "stolen (demo)")


def test_persons_import_stores_entries_and_name_keys(store, tmp_path):
    result = import_csv(store, "persons", write(tmp_path, PERSONS), version="v1")
    assert result.entries == 3
    row = store.conn.execute(
        "SELECT list, surname, given_names, aliases, birth_date, document_issuer, document_number "
        "FROM watchlist_persons WHERE entry_id = 'P-2'"
    ).fetchone()
    # Names are kept as written; the document number is stored normalised for the index.
    assert row == ("persons", "Eriksson", "Anna-María", "ERIKSON, Anna|ERIKSSON, Ana Maria", "1974-08", "UTO",
                   "L898902C3")
    keys = store.conn.execute(
        "SELECT entry_id, name_key, is_alias FROM watchlist_person_names ORDER BY rowid").fetchall()
    assert keys == [
        ("P-1", "DOE|JOHN", 0),
        ("P-2", "ERIKSSON|ANNA MARIA", 0),
        ("P-2", "ERIKSON|ANNA", 1),
        ("P-2", "ERIKSSON|ANA MARIA", 1),
        # The Cyrillic primary name has no Latin key; the person is indexed by the alias.
        ("P-3", "IVANOV|PETR", 1),
    ]


def test_documents_import_normalises_numbers_and_keeps_line_numbers(store, tmp_path):
    import_csv(store, "documents", write(tmp_path, DOCUMENTS), version="v1")
    rows = store.conn.execute(
        "SELECT issuing_state, document_type, document_number, reason, line FROM watchlist_documents ORDER BY line"
    ).fetchall()
    assert rows == [("UTO", "I", "ZZ9876543", "stolen", 2), ("D", "P", "C01X00T47", "lost", 3)]


def test_bom_crlf_blank_lines_and_column_order_are_tolerated(store, tmp_path):
    content = "reason,document_number,issuing_state,document_type\r\n\r\nstolen,AB123,UTO,P\r\n"
    result = import_csv(store, "documents", write(tmp_path, b"\xef\xbb\xbf" + content.encode()))
    assert result.entries == 1
    assert store.conn.execute("SELECT issuing_state, document_type, document_number, reason FROM watchlist_documents"
                              ).fetchone() == ("UTO", "P", "AB123", "stolen")


def test_quoted_field_spanning_lines_keeps_later_line_numbers_right(store, tmp_path):
    content = f'{DOCUMENTS_HEADER}\nUTO,P,AB1,"stolen\nat the border"\nUTO,P,,lost\n'
    with pytest.raises(ImportFileError) as caught:
        import_csv(store, "documents", write(tmp_path, content))
    assert "line 4: field document_number: empty" in str(caught.value)


def test_header_only_file_empties_the_list(store, tmp_path):
    import_csv(store, "documents", write(tmp_path, DOCUMENTS), version="v1")
    result = import_csv(store, "documents", write(tmp_path, DOCUMENTS_HEADER + "\n"), version="v2")
    assert (result.entries, result.replaced_version) == (0, "v1")
    assert snapshot(store)["watchlist_documents"] == 0


# -- Replace semantics and audit ----------------------------------------------------------

def test_import_replaces_the_list_entirely(store, tmp_path):
    import_csv(store, "persons", write(tmp_path, PERSONS), version="v1")
    smaller = f"{PERSONS_HEADER}\nP-9,ROE,RICHARD,\"ROWE, Dick\",,,,,,alert\n"
    result = import_csv(store, "persons", write(tmp_path, smaller), version="v2")
    assert (result.version, result.replaced_version, result.entries) == ("v2", "v1", 1)
    assert store.conn.execute("SELECT entry_id FROM watchlist_persons").fetchall() == [("P-9",)]
    assert store.conn.execute("SELECT entry_id, name_key FROM watchlist_person_names").fetchall() == [
        ("P-9", "ROE|RICHARD"), ("P-9", "ROWE|DICK")]
    assert store.conn.execute("SELECT version, entries FROM lists WHERE name = 'persons'").fetchone() == ("v2", 1)


def test_named_lists_are_replaced_independently(store, tmp_path):
    import_csv(store, "persons", write(tmp_path, PERSONS), version="v1")
    import_csv(store, "persons", write(tmp_path, PERSONS), list_name="national-alerts", version="n1")
    smaller = f"{PERSONS_HEADER}\nP-9,ROE,RICHARD,,,,,,,alert\n"
    import_csv(store, "persons", write(tmp_path, smaller), list_name="national-alerts", version="n2")
    counts = dict(store.conn.execute("SELECT list, count(*) FROM watchlist_persons GROUP BY list").fetchall())
    assert counts == {"persons": 3, "national-alerts": 1}
    assert [(s["name"], s["version"]) for s in list_status(store)] == [("national-alerts", "n2"), ("persons", "v1")]


def test_import_records_list_metadata_and_an_audit_entry(store, tmp_path):
    path = write(tmp_path, DOCUMENTS)
    now = datetime(2026, 11, 23, 19, 3, 0, tzinfo=timezone.utc)
    result = import_csv(store, "documents", path, actor="hq-sync", now=now)
    assert result.version == "20261123T190300Z"
    listed = store.conn.execute("SELECT name, kind, version, imported_at, source_sha256, entries FROM lists").fetchone()
    assert listed == ("documents", "documents", "20261123T190300Z", "2026-11-23T19:03:00.000000Z",
                      hashlib.sha256(path.read_bytes()).hexdigest(), 2)
    actor, action, subject, details = store.conn.execute(
        "SELECT actor, action, subject, details FROM audit ORDER BY seq DESC LIMIT 1").fetchone()
    assert (actor, action, subject) == ("hq-sync", "watchlist.import", "documents")
    assert json.loads(details) == {"kind": "documents", "version": "20261123T190300Z", "entries": 2,
                                   "sha256": result.sha256, "replaced_version": None, "source": "list.csv"}
    assert audit.verify(store) == (1, [])


# -- Bad input changes nothing ------------------------------------------------------------

P = PERSONS_HEADER
GOOD_PERSON = "P-1,DOE,JOHN,,1980-01-01,M,UTO,,,warrant"

BAD_FILES = [
    pytest.param("persons", P.replace("birth_date", "dob") + "\n", ["line 1: header", "missing column(s) birth_date",
                 "unknown column(s) 'dob'"], id="wrong-header-column"),
    pytest.param("persons", P.replace(",reason", "") + "\n", ["line 1: header", "missing column(s) reason"],
                 id="missing-header-column"),
    pytest.param("persons", P + ",notes\n", ["line 1: header", "unknown column(s) 'notes'"], id="extra-header-column"),
    pytest.param("persons", P + ",sex\n", ["repeated column(s) sex"], id="repeated-header-column"),
    pytest.param("documents", P + "\n", ["missing column(s) issuing_state, document_type", "unknown column(s) 'id'"],
                 id="persons-header-in-documents-file"),
    pytest.param("persons", f"{P}\n{GOOD_PERSON}\nP-2,ROE,RICHARD,,1980,M,UTO,,\n",
                 ["line 3: expected 10 fields, found 9"], id="too-few-fields"),
    pytest.param("documents", f"{DOCUMENTS_HEADER}\nUTO,P,AB1,lost,extra\n", ["line 2: expected 4 fields, found 5"],
                 id="too-many-fields"),
    pytest.param("persons", f"{P}\n ,DOE,JOHN,,,,,,,x\n", ["line 2: field id: empty"], id="empty-id"),
    pytest.param("persons", f"{P}\nP-1,,JOHN,,,,,,,x\n", ["line 2: field surname: empty"], id="empty-surname"),
    pytest.param("persons", f"{P}\n{GOOD_PERSON}\nP-2,ROE,R,,,,,,,x\nP-1,DOE,JANE,,,,,,,x\n",
                 ["line 4: field id: 'P-1' is repeated (first on line 2)"], id="duplicate-id"),
    pytest.param("persons", f"{P}\nP-1,DOE,JOHN,,01/02/1980,,,,,x\n",
                 ["line 2: field birth_date: '01/02/1980' is not YYYY-MM-DD, YYYY-MM or YYYY"], id="bad-date-form"),
    pytest.param("persons", f"{P}\nP-1,DOE,JOHN,,2001-02-30,,,,,x\n",
                 ["line 2: field birth_date: '2001-02-30' is not a valid date"], id="impossible-date"),
    pytest.param("persons", f"{P}\nP-1,DOE,JOHN,,1980-13,,,,,x\n",
                 ["line 2: field birth_date: '1980-13' is not a valid date"], id="impossible-month"),
    # "\d" would take these for digits; a stored date is ASCII, as the MRZ and typed documents are.
    pytest.param("persons", f"{P}\nP-1,DOE,JOHN,,\uff11\uff19\uff18\uff10-\uff10\uff11-\uff10\uff11,,,,,x\n",
                 ["line 2: field birth_date: '\uff11\uff19\uff18\uff10-\uff10\uff11-\uff10\uff11' is not "
                  "YYYY-MM-DD, YYYY-MM or YYYY (write the digits 0-9)"], id="full-width-digits"),
    pytest.param("persons", f"{P}\n{GOOD_PERSON}\nP-2,ROE,RICHARD,,\u0661\u0669\u0668\u0660,,,,,x\n",
                 ["line 3: field birth_date: '\u0661\u0669\u0668\u0660' is not YYYY-MM-DD, YYYY-MM or YYYY "
                  "(write the digits 0-9)"], id="arabic-indic-digits"),
    pytest.param("persons", f"{P}\nP-1,DOE,JOHN,,,male,,,,x\n", ["line 2: field sex: 'male' is not M, F, X or empty"],
                 id="bad-sex"),
    pytest.param("persons", f"{P}\nP-1,DOE,JOHN,,,,Utopia,,,x\n",
                 ["line 2: field nationality: 'Utopia' is not an ICAO code"], id="bad-nationality"),
    pytest.param("persons", f"{P}\nP-1,DOE,JOHN,,,,U1,,,x\n", ["field nationality: 'U1'"], id="nationality-digit"),
    pytest.param("persons", f"{P}\nP-1,DOE,JOHN,,,,,uto,AB1,x\n", ["line 2: field document_issuer: 'uto'"],
                 id="bad-document-issuer"),
    pytest.param("documents", f"{DOCUMENTS_HEADER}\nUTOP,P,AB1,lost\n",
                 ["line 2: field issuing_state: 'UTOP' is not an ICAO code"], id="bad-issuing-state"),
    pytest.param("documents", f"{DOCUMENTS_HEADER}\n,P,AB1,lost\n", ["line 2: field issuing_state: empty"],
                 id="empty-issuing-state"),
    pytest.param("persons", f"{P}\nP-1,DOE,JOHN,JOHNNY DOE,,,,,,x\n",
                 ["line 2: field aliases: alias 1 'JOHNNY DOE' is not written 'SURNAME, Given Names'"],
                 id="alias-without-comma"),
    pytest.param("persons", f'{P}\nP-1,DOE,JOHN,"DOE, J|DOE, John, Jr",,,,,,x\n',
                 ["line 2: field aliases: alias 2 'DOE, John, Jr' is not written"], id="alias-two-commas"),
    pytest.param("persons", f'{P}\nP-1,DOE,JOHN,"DOE, J||ROE, R",,,,,,x\n', ["line 2: field aliases: alias 2 is empty"],
                 id="alias-empty"),
    pytest.param("persons", f'{P}\nP-1,DOE,JOHN,", John",,,,,,x\n',
                 ["line 2: field aliases: alias 1 ', John' has no surname"], id="alias-without-surname"),
    pytest.param("documents", f"{DOCUMENTS_HEADER}\nUTO,P, -/ ,lost\n", ["line 2: field document_number: empty"],
                 id="empty-document-number"),
    pytest.param("documents", f"{DOCUMENTS_HEADER}\nUTO,P,AB#12,lost\n",
                 ["line 2: field document_number: 'AB#12' has characters other than"], id="bad-document-number"),
    pytest.param("documents", f"{DOCUMENTS_HEADER}\nUTO,PASSPORT,AB12,lost\n",
                 ["line 2: field document_type: 'PASSPORT' is not an ICAO document code"], id="bad-document-type"),
    pytest.param("documents", f'{DOCUMENTS_HEADER}\nUTO,P,AB12,"lost"x\n', ["line 2: not readable as CSV"],
                 id="bad-quoting"),
    pytest.param("persons", f"{P}\n{GOOD_PERSON}\n".encode() + b"P-2,M\xfcller,HANS,,,,,,,x\n",
                 ["line 3: not valid UTF-8 (byte 0xFC at column 6)"], id="invalid-utf8"),
    pytest.param("persons", b"", ["the file is empty"], id="empty-file"),
    pytest.param("documents", b"\xef\xbb\xbf\r\n\n", ["the file is empty"], id="bom-and-blank-lines-only"),
]


@pytest.mark.parametrize("kind, content, expected", BAD_FILES)
def test_bad_file_is_refused_with_its_line_and_changes_nothing(store, tmp_path, kind, content, expected):
    import_csv(store, "persons", write(tmp_path, PERSONS, "persons.csv"), version="v1")
    import_csv(store, "documents", write(tmp_path, DOCUMENTS, "documents.csv"), version="v1")
    before = snapshot(store)
    with pytest.raises(ImportFileError) as caught:
        import_csv(store, kind, write(tmp_path, content), version="v2")
    message = str(caught.value)
    for text in expected:
        assert text in message
    assert "nothing was imported" in message
    assert snapshot(store) == before


def test_all_errors_of_a_file_are_reported_together(store, tmp_path):
    content = f"{P}\n{GOOD_PERSON}\nP-2,,JOHN,,1980-02-30,Q,,,,x\nP-1,ROE,R,,,,,,,x\n"
    with pytest.raises(ImportFileError) as caught:
        import_csv(store, "persons", write(tmp_path, content))
    message = str(caught.value)
    assert "4 error(s)" in message
    for text in ("line 3: field surname: empty", "line 3: field birth_date", "line 3: field sex",
                 "line 4: field id: 'P-1' is repeated (first on line 2)"):
        assert text in message


def test_error_report_stops_at_the_limit(store, tmp_path):
    rows = "".join(f"P-{n},DOE,JOHN,,1980-02-30,,,,,x\n" for n in range(100))
    with pytest.raises(ImportFileError) as caught:
        import_csv(store, "persons", write(tmp_path, f"{P}\n{rows}"))
    message = str(caught.value)
    assert message.count("field birth_date") == MAX_ERRORS
    assert f"line {MAX_ERRORS + 1}:" in message and f"line {MAX_ERRORS + 2}:" not in message
    assert "there may be more" in message


@pytest.mark.parametrize("kwargs, expected", [
    ({"list_name": "bad name"}, "list name 'bad name'"),
    ({"list_name": ""}, "list name ''"),
    ({"version": "v 2"}, "list version 'v 2'"),
    ({"list_name": "persons", "kind": "documents"}, "list 'persons' holds persons"),
    ({"kind": "faces"}, "unknown list kind 'faces'"),
])
def test_bad_import_options_change_nothing(store, tmp_path, kwargs, expected):
    import_csv(store, "persons", write(tmp_path, PERSONS, "persons.csv"), version="v1")
    before = snapshot(store)
    kind = kwargs.pop("kind", "persons")
    content = DOCUMENTS if kind == "documents" else PERSONS
    with pytest.raises(ImportFileError, match=re.escape(expected)):
        import_csv(store, kind, write(tmp_path, content), **kwargs)
    assert snapshot(store) == before


def test_unreadable_file_is_an_import_error(store, tmp_path):
    with pytest.raises(ImportFileError, match="cannot read list file"):
        import_csv(store, "persons", tmp_path / "missing.csv")
    assert snapshot(store)["lists"] == []


def test_import_bytes_names_its_source_in_errors(store):
    with pytest.raises(KioskError, match=r"(?s)^bundle:1: .*line 2: field id: empty"):
        import_bytes(store, "persons", f"{P}\n,DOE,,,,,,,,x\n".encode(), source="bundle:1")


# -- Status -------------------------------------------------------------------------------

def test_status_reports_age_and_entries(store, tmp_path):
    imported = datetime(2026, 11, 20, 8, 0, tzinfo=timezone.utc)
    import_csv(store, "documents", write(tmp_path, DOCUMENTS), version="2026-11-20", now=imported)
    [status] = list_status(store, now=imported + timedelta(days=3, hours=4, minutes=10))
    assert status == {
        "name": "documents", "kind": "documents", "version": "2026-11-20",
        "imported_at": "2026-11-20T08:00:00.000000Z", "age_seconds": 3 * 86400 + 4 * 3600 + 600, "age": "3d 04h",
        "entries": 2, "sha256": hashlib.sha256(DOCUMENTS.encode()).hexdigest(),
        "published_at": None, "stale": False, "source": "csv", "face_model": None,
    }
    [stale] = list_status(store, now=imported + timedelta(days=3), max_age_hours=48)
    assert stale["stale"] is True


# -- CLI ----------------------------------------------------------------------------------

@pytest.fixture
def cli(run_cli, config):
    """``kiosk watchlist ARGS`` in the conftest kiosk."""

    def invoke(*args: str):
        return run_cli("watchlist", *args)

    invoke.db_path = config.db_path
    return invoke


def test_cli_import_prints_a_summary_line(cli, tmp_path):
    result = cli("import", "--kind", "persons", str(write(tmp_path, PERSONS)), "--version", "2026.11.1")
    assert result.exit_code == 0, result.output
    assert result.stdout.count("\n") == 1
    assert result.stdout.startswith("imported persons list persons version 2026.11.1: 3 entries (new list;")


def test_cli_import_json_list_and_actor(cli, tmp_path):
    result = cli("import", "--kind", "documents", str(write(tmp_path, DOCUMENTS)), "--list", "sltd",
                 "--version", "7", "--actor", "tech-1", "--json")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert {k: summary[k] for k in ("list", "kind", "version", "entries", "replaced_version")} == {
        "list": "sltd", "kind": "documents", "version": "7", "entries": 2, "replaced_version": None}
    assert set(summary) == {"list", "kind", "version", "imported_at", "sha256", "entries", "replaced_version"}
    with Store(cli.db_path) as store:
        assert store.conn.execute("SELECT actor, subject FROM audit").fetchall() == [("tech-1", "sltd")]


def test_cli_bad_file_exits_1_with_the_line_and_changes_nothing(cli, tmp_path):
    good = write(tmp_path, PERSONS, "good.csv")
    assert cli("import", "--kind", "persons", str(good), "--version", "v1").exit_code == 0
    result = cli("import", "--kind", "persons", str(write(tmp_path, f"{P}\nP-1,DOE,JOHN,,1980-02-30,,,,,x\n")))
    assert result.exit_code == 1
    assert "line 2: field birth_date: '1980-02-30' is not a valid date" in result.stderr
    assert result.stdout == ""
    status = json.loads(cli("status", "--json").stdout)
    assert [(s["name"], s["version"], s["entries"]) for s in status] == [("persons", "v1", 3)]


def test_cli_import_needs_a_known_kind(cli, tmp_path):
    result = cli("import", "--kind", "faces", str(write(tmp_path, PERSONS)))
    assert result.exit_code == 2 and "faces" in result.output


def test_cli_status(cli, tmp_path):
    assert cli("status").stdout == "no lists imported\n"
    assert cli("status", "--json").stdout.strip() == "[]"
    cli("import", "--kind", "documents", str(write(tmp_path, DOCUMENTS)), "--version", "d1")
    cli("import", "--kind", "persons", str(write(tmp_path, PERSONS)), "--version", "p1")
    status = json.loads(cli("status", "--json").stdout)
    assert [(s["name"], s["kind"], s["version"], s["entries"]) for s in status] == [
        ("documents", "documents", "d1", 2), ("persons", "persons", "p1", 3)]
    assert all({"imported_at", "age", "age_seconds"} <= set(s) for s in status)
    lines = cli("status").stdout.splitlines()
    assert len(lines) == 3 and lines[1].split()[:3] == ["documents", "documents", "d1"]
