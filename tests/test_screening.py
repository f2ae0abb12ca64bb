"""Screening: each matching rule hits (and its near misses do not), scores, list versions, CLI."""

from __future__ import annotations

import json
from importlib import resources

import pytest

from appliance.errors import WorkflowError
from appliance.domain.names import normalise
from appliance.config import ScreeningSection
from appliance.domain.models import Traveller
from appliance.workflow.screening import screen
from appliance.lists.csv_format import COLUMNS
from appliance.lists.csv_import import import_bytes, import_csv

PERSONS = f"""\
{",".join(COLUMNS["persons"])}
P-1,DOE,JOHN,,1980-01-01,M,UTO,,,arrest warrant
P-2,Eriksson,Anna-María,,1974-08-12,F,UTO,,,fraud
P-3,ROE,Richard,"ROWE, Dick|ROE, Rick",1980,M,UTO,,,smuggling
P-4,KOWALCZYK,Marta,,1985-03,F,XXA,,,entry ban
P-5,OYELARAN,,,1959-09-30,,UTO,,,questioning
P-6,Νικολαΐδης,Στέφανος,"NIKOLAIDIS, Stefanos",1968-04-22,M,GRC,,,missing person
P-7,SMITH,ALICE,,,F,UTO,UTO,AB-123 456,document fraud
P-8,BROWN,ED,,,M,UTO,,CD789,no issuer known
"""
# The config's screening section as shipped: its thresholds are the ones these scores are
# tested against.
SETTINGS = ScreeningSection()
DOCUMENTS = f"""\
{",".join(COLUMNS["documents"])}
UTO,I,ZZ9876543,stolen
UTO,P,ZZ1111111,lost
UTO,,ZZ1111111,stolen later
D,P,C01X00T47,lost
"""


@pytest.fixture
def lists(store):
    import_bytes(store, "persons", PERSONS.encode(), version="p-7")
    import_bytes(store, "documents", DOCUMENTS.encode(), version="d-3")
    return store


def only(result, **expected):
    """The single hit of a result, checked against the expected fields."""
    assert len(result.hits) == 1, result.hits
    hit = result.hits[0]
    for field, value in expected.items():
        assert getattr(hit, field) == value, (field, hit)
    return hit


# -- Names ------------------------------------------------------------------------------

@pytest.mark.parametrize("written, expected", [
    ("Anna-María", "ANNA MARIA"),
    ("ANNA<MARIA", "ANNA MARIA"),
    ("  Núñez   Peña ", "NUNEZ PENA"),
    ("O'Brien", "OBRIEN"),
    ("Strauß", "STRAUSS"),
    ("Bjørn", "BJOERN"),
    ("Иванов", ""),
    (None, ""),
])
def test_normalise(written, expected):
    assert normalise(written) == expected


# -- Documents --------------------------------------------------------------------------

def test_stolen_document_hits_whatever_its_written_form(lists):
    result = screen(lists, Traveller(document_issuer="uto", document_number="zz 987-654/3", document_type="I"),
                    SETTINGS)
    hit = only(result, list="documents", entry_id="UTO:ZZ9876543", kind="document", score=1.0)
    assert hit.explanation == "document UTO ZZ9876543 reported stolen, listed as type I"


def test_document_type_mismatch_never_hides_a_stolen_document(lists):
    result = screen(lists, Traveller(document_issuer="UTO", document_number="ZZ9876543", document_type="P"), SETTINGS)
    hit = only(result, entry_id="UTO:ZZ9876543", score=1.0)
    assert "listed as type I, presented as P" in hit.explanation


def test_document_reported_twice_is_one_hit_with_both_reports(lists):
    hit = only(screen(lists, Traveller(document_issuer="UTO", document_number="ZZ1111111"), SETTINGS), kind="document")
    assert hit.explanation == ("document UTO ZZ1111111 reported lost, listed as type P; "
                               "document UTO ZZ1111111 reported stolen later")


@pytest.mark.parametrize("traveller", [
    Traveller(document_issuer="D", document_number="ZZ9876543"),  # same number, other state
    Traveller(document_issuer="UTO", document_number="ZZ9876544"),
    Traveller(document_number="ZZ9876543"),  # no issuing state: the state is part of the key
])
def test_document_near_misses(lists, traveller):
    assert screen(lists, traveller, SETTINGS).hits == []


# -- Persons ----------------------------------------------------------------------------

def test_exact_name_and_full_birth_date_scores_1(lists):
    result = screen(lists, Traveller(surname="DOE", given_names="JOHN", birth_date="1980-01-01", sex="M",
                                     nationality="UTO"), SETTINGS)
    hit = only(result, list="persons", entry_id="P-1", kind="person", score=1.0)
    assert hit.explanation.startswith("surname and given names equal, birth date equal")
    assert hit.explanation.endswith("listed for: arrest warrant")


def test_mrz_names_match_accented_hyphenated_list_names(lists):
    result = screen(lists, Traveller(surname="ERIKSSON", given_names="ANNA<MARIA", birth_date="1974-08-12"), SETTINGS)
    only(result, entry_id="P-2", score=1.0)


@pytest.mark.parametrize("birth_date, score, text", [
    ("1980-01-01", 0.9, "birth date compatible (list: 1980)"),  # list "1980"
    ("1980", 0.9, "birth date compatible (list: 1980, traveller: 1980)"),
    (None, 0.8, "traveller's birth date not known (list: 1980)"),
])
def test_partial_list_birth_year(lists, birth_date, score, text):
    hit = only(screen(lists, Traveller(surname="ROE", given_names="RICHARD", birth_date=birth_date), SETTINGS),
               score=score)
    assert text in hit.explanation


@pytest.mark.parametrize("birth_date, hits", [("1985-03-17", 1), ("1985-03", 1), ("1985", 1), ("1985-04-17", 0),
                                              ("1986", 0)])
def test_partial_list_birth_month(lists, birth_date, hits):
    result = screen(lists, Traveller(surname="KOWALCZYK", given_names="MARTA", birth_date=birth_date), SETTINGS)
    assert len(result.hits) == hits
    if hits:
        assert result.hits[0].score == 0.9


def test_traveller_partial_birth_date_is_compatible_with_a_full_list_date(lists):
    hit = only(screen(lists, Traveller(surname="DOE", given_names="JOHN", birth_date="1980-01"), SETTINGS),
               entry_id="P-1",
               score=0.9)
    # The officer reads that the match rests on the year and month the document gives.
    assert "birth date compatible (list: 1980-01-01, traveller: 1980-01)" in hit.explanation


def test_different_birth_date_is_below_the_threshold_but_can_be_asked_for(lists):
    traveller = Traveller(surname="DOE", given_names="JOHN", birth_date="1975-06-30")
    assert screen(lists, traveller, SETTINGS).hits == []
    hit = only(screen(lists, traveller, SETTINGS, threshold=0.3), entry_id="P-1", score=0.4)
    assert "birth date differs (list: 1980-01-01)" in hit.explanation


def test_empty_list_birth_date_matches_any_at_a_lower_score(lists):
    hit = only(screen(lists, Traveller(surname="SMITH", given_names="ALICE", birth_date="1990-05-05"), SETTINGS),
               entry_id="P-7", score=0.8)
    assert "no birth date on the list" in hit.explanation


def test_empty_list_given_names_match_on_surname_alone_at_a_lower_score(lists):
    hit = only(screen(lists, Traveller(surname="OYELARAN", given_names="ADE", birth_date="1959-09-30"), SETTINGS),
               entry_id="P-5", score=0.8)
    assert hit.explanation.startswith("surname equal (no given names on the list)")
    # The same surname with a listed given name that differs is no hit.
    assert screen(lists, Traveller(surname="DOE", given_names="JANE", birth_date="1980-01-01"), SETTINGS).hits == []


def test_swapped_name_parts_match_at_a_lower_score(lists):
    hit = only(screen(lists, Traveller(surname="JOHN", given_names="DOE", birth_date="1980-01-01"), SETTINGS),
               entry_id="P-1", score=0.85)
    assert hit.explanation.startswith("surname and given names equal but swapped")


def test_alias_matches_and_is_named(lists):
    hit = only(screen(lists, Traveller(surname="ROWE", given_names="DICK", birth_date="1980-05-05"), SETTINGS),
               entry_id="P-3", score=0.9)
    assert hit.explanation.startswith("alias ROWE, DICK: surname and given names equal")


def test_non_latin_name_is_found_through_its_latin_alias(lists):
    only(screen(lists, Traveller(surname="NIKOLAIDIS", given_names="STEFANOS", birth_date="1968-04-22"), SETTINGS),
         entry_id="P-6", score=1.0)


def test_conflicting_sex_lowers_the_score(lists):
    hit = only(screen(lists, Traveller(surname="DOE", given_names="JOHN", birth_date="1980-01-01", sex="F"), SETTINGS),
               entry_id="P-1", score=0.8)
    assert "sex differs (list: M)" in hit.explanation


def test_persons_listed_document_is_a_hit(lists):
    hit = only(screen(lists, Traveller(surname="NOBODY", document_issuer="UTO", document_number="AB123456"), SETTINGS),
               list="persons", entry_id="P-7", score=1.0)
    assert hit.explanation.startswith("listed document UTO AB123456 equal")
    assert screen(lists, Traveller(document_issuer="D", document_number="AB123456"), SETTINGS).hits == []


def test_persons_listed_document_without_issuer_hits_at_a_lower_score(lists):
    only(screen(lists, Traveller(document_issuer="D", document_number="CD789"), SETTINGS), entry_id="P-8", score=0.8)


def test_name_and_document_of_one_person_make_one_hit(lists):
    hit = only(screen(lists, Traveller(surname="SMITH", given_names="ALICE", document_issuer="UTO",
                                       document_number="AB123456"), SETTINGS), entry_id="P-7", score=1.0)
    assert "listed document UTO AB123456 equal" in hit.explanation
    assert "surname and given names equal" in hit.explanation


def test_unknown_traveller_has_no_hit(lists):
    result = screen(lists, Traveller(surname="OKAFOR", given_names="CHIDI", birth_date="1988-02-11",
                                     document_issuer="UTO", document_number="XY1234567"), SETTINGS)
    assert result.hits == []
    assert result.lists == {"documents": "d-3", "persons": "p-7"}


# -- Results ----------------------------------------------------------------------------

def test_hits_come_best_first_with_every_consulted_list_version(lists):
    import_bytes(lists, "persons", PERSONS.encode(), list_name="national", version="n-1")
    result = screen(lists, Traveller(surname="DOE", given_names="JOHN", birth_date="1980",
                                     document_issuer="UTO", document_number="ZZ9876543"), SETTINGS)
    assert [(h.list, h.entry_id, h.score) for h in result.hits] == [
        ("documents", "UTO:ZZ9876543", 1.0), ("national", "P-1", 0.9), ("persons", "P-1", 0.9)]
    assert result.lists == {"documents": "d-3", "national": "n-1", "persons": "p-7"}
    data = result.to_dict()
    assert set(data) == {"hits", "lists", "stale", "warnings", "refer"}
    assert set(data["hits"][0]) == {"list", "entry_id", "kind", "score", "explanation", "reasons"}
    json.dumps(data)


def test_only_the_lists_a_traveller_can_be_checked_against_are_reported(lists):
    assert screen(lists, Traveller(surname="OKAFOR"), SETTINGS).lists == {"persons": "p-7"}
    assert screen(lists, Traveller(), SETTINGS).lists == {}


def test_no_lists_no_hits(store):
    result = screen(store, Traveller(surname="DOE", given_names="JOHN", document_issuer="UTO", document_number="X1"),
                    SETTINGS)
    assert result.to_dict() == {"hits": [], "lists": {}, "stale": {}, "warnings": [], "refer": None}


def test_screening_sees_a_replaced_list_and_its_new_version(lists):
    traveller = Traveller(surname="DOE", given_names="JOHN", birth_date="1980-01-01")
    assert screen(lists, traveller, SETTINGS).hits
    header = ",".join(COLUMNS["persons"])
    import_bytes(lists, "persons", f"{header}\nP-9,ROE,JANE,,,,,,,x\n".encode(), version="p-8")
    result = screen(lists, traveller, SETTINGS)
    assert result.hits == [] and result.lists["persons"] == "p-8"


def test_lookups_use_indexes_not_scans(lists):
    statements: list[str] = []
    lists.conn.set_trace_callback(statements.append)
    try:
        screen(lists, Traveller(surname="DOE", given_names="JOHN", birth_date="1980-01-01",
                                document_issuer="UTO", document_number="ZZ9876543"), SETTINGS)
    finally:
        lists.conn.set_trace_callback(None)
    selects = [s for s in statements if s.lstrip().upper().startswith("SELECT") and "watchlist_" in s]
    # Entry details of the name index's candidates, and the persons' listed documents;
    # documents lists are answered by their index files, not by SQLite.
    assert len(selects) == 2
    assert not any("watchlist_documents" in s for s in selects)
    for statement in selects:
        plan = " ".join(row[3] for row in lists.conn.execute(f"EXPLAIN QUERY PLAN {statement}"))
        assert "SCAN" not in plan, (statement, plan)


@pytest.mark.parametrize("traveller, field", [
    (Traveller(surname="DOE", birth_date="1980-02-30"), "birth_date"),
    (Traveller(surname="DOE", birth_date="30.01.1980"), "birth_date"),
    (Traveller(surname="DOE", nationality="Utopia"), "nationality"),
    (Traveller(surname="DOE", sex="Q"), "sex"),
    (Traveller(document_issuer="U2", document_number="X1"), "document_issuer"),
    (Traveller(document_issuer="UTO", document_number="X#1"), "document_number"),
    (Traveller(document_issuer="UTO", document_number="X1", document_type="PASS"), "document_type"),
])
def test_malformed_traveller_fields_are_refused(lists, traveller, field):
    with pytest.raises(WorkflowError, match=field):
        screen(lists, traveller, SETTINGS)


def test_threshold_must_be_between_0_and_1(lists):
    with pytest.raises(WorkflowError, match="threshold"):
        screen(lists, Traveller(surname="DOE"), SETTINGS, threshold=1.5)
    assert SETTINGS.threshold == 0.7


def test_mrz_filler_in_codes_and_sex_is_tolerated(lists):
    result = screen(lists, Traveller(surname="DOE", given_names="JOHN", birth_date="1980-01-01", sex="<",
                                     nationality="UTO<", document_issuer="D<<", document_number="C01X00T47<"), SETTINGS)
    # Both score 1.0: on a tie the document hit comes first.
    assert [(h.entry_id, h.score) for h in result.hits] == [("D:C01X00T47", 1.0), ("P-1", 1.0)]
    assert "nationality equal" in result.hits[1].explanation


def test_demo_lists_hit_the_demo_entries(store):
    demo = resources.files("appliance").joinpath("demo_data")
    for kind in ("persons", "documents"):
        with resources.as_file(demo.joinpath(f"{kind}.csv")) as path:
            import_csv(store, kind, path, actor="test")
    result = screen(store, Traveller(surname="DOE", given_names="JOHN", birth_date="1980-01-01", sex="M",
                                     nationality="UTO", document_issuer="UTO", document_type="I",
                                     document_number="ZZ9876543"), SETTINGS)
    assert [(h.list, h.entry_id, h.score) for h in result.hits] == [
        ("documents", "UTO:ZZ9876543", 1.0), ("persons", "P-0001", 1.0)]
    assert "reported stolen (demo)" in result.hits[0].explanation


# -- CLI --------------------------------------------------------------------------------

@pytest.fixture
def cli(run_cli, lists):
    """``kiosk screen ARGS`` against the lists above, in the conftest kiosk."""
    return lambda *args: run_cli("screen", *args)


def test_cli_json_shape_with_hits_best_first(cli):
    result = cli("--json", "--surname", "Doe", "--given-names", "John", "--birth-date", "1980",
                 "--nationality", "uto", "--sex", "m", "--document", "uto:ZZ98-76543")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert set(data) == {"hits", "lists"}
    assert data["lists"] == {"documents": "d-3", "persons": "p-7"}
    assert [set(hit) for hit in data["hits"]] == [{"list", "entry_id", "score", "explanation"}] * 2
    assert [(h["list"], h["entry_id"], h["score"]) for h in data["hits"]] == [
        ("documents", "UTO:ZZ9876543", 1.0), ("persons", "P-1", 0.9)]


def test_cli_exits_0_without_hits(cli):
    result = cli("--json", "--surname", "OKAFOR", "--given-names", "CHIDI")
    assert result.exit_code == 0
    assert json.loads(result.stdout) == {"hits": [], "lists": {"persons": "p-7"}}
    assert cli("--surname", "OKAFOR").stdout == "no hit (lists consulted: persons p-7)\n"


def test_cli_threshold(cli):
    args = ("--json", "--surname", "DOE", "--given-names", "JOHN", "--birth-date", "1975-01-01")
    assert json.loads(cli(*args).stdout)["hits"] == []
    assert [h["score"] for h in json.loads(cli(*args, "--threshold", "0.4").stdout)["hits"]] == [0.4]


def test_cli_text_output_names_the_hit(cli):
    result = cli("--document", "UTO:ZZ9876543")
    assert result.exit_code == 0
    assert result.stdout.splitlines() == [
        "HIT documents/UTO:ZZ9876543 score 1.00: document UTO ZZ9876543 reported stolen, listed as type I",
        "lists consulted: documents d-3, persons p-7",
    ]


@pytest.mark.parametrize("args, message", [
    (("--surname", "DOE", "--birth-date", "1980-02-30"), "is not a valid date"),
    (("--surname", "DOE", "--birth-date", "01/01/1980"), "is not YYYY-MM-DD, YYYY-MM or YYYY"),
    (("--document", "ZZ9876543"), "is not ISSUER:NUMBER"),
    (("--document", "UTOPIA:ZZ9876543"), "is not ISSUER:NUMBER"),
    (("--document", "UTO:"), "is not ISSUER:NUMBER"),
    (("--document", "UTO:ZZ#1"), "is not ISSUER:NUMBER"),
    (("--surname", "DOE", "--nationality", "U2"), "is not an ICAO code"),
    (("--surname", "DOE", "--sex", "male"), "'male' is not M, F or X"),
    (("--surname", "DOE", "--threshold", "2"), "--threshold"),
    (("--birth-date", "1980-01-01", "--nationality", "UTO"), "nothing to screen by"),
    ((), "nothing to screen by"),
])
def test_cli_bad_arguments_give_a_clear_error(cli, args, message):
    result = cli(*args)
    assert result.exit_code == 2
    assert message in result.stderr
