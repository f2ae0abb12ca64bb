"""``kiosk mrz parse``: exit codes 0/1/2, the JSON contract, messages on stderr."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from appliance.cli.mrz import command

REQUIRED_KEYS = {
    "format", "document_code", "issuing_state", "document_number", "surname", "given_names",
    "nationality", "birth_date", "expiry_date", "sex", "optional_data", "failed_checks", "valid", "messages",
}
TD1_SPECIMEN = (
    "I<UTOD231458907<<<<<<<<<<<<<<<\n"
    "7408122F1204159UTO<<<<<<<<<<<6\n"
    "ERIKSSON<<ANNA<MARIA<<<<<<<<<<"
)
TD3_SPECIMEN = (
    "P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<\n"
    "L898902C36UTO7408122F1204159ZE184226B<<<<<10"
)
OKAFOR = (
    "P<UTOOKAFOR<<CHIDI<<<<<<<<<<<<<<<<<<<<<<<<<<\n"
    "X123456785UTO8503149M3105205<<<<<<<<<<<<<<<8\n"
)


def replace(text: str, line: int, column: int, char: str) -> str:
    """``text`` with the character at (line, column), both 1-based, replaced."""
    lines = text.split("\n")
    lines[line - 1] = lines[line - 1][:column - 1] + char + lines[line - 1][column:]
    return "\n".join(lines)


def run(*args: str, input: str | bytes | None = None):
    return CliRunner().invoke(command, list(args), input=input)


def test_valid_mrz_exits_0_with_the_json_contract() -> None:
    result = run("parse", "--json", input=OKAFOR)
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert REQUIRED_KEYS <= set(data)
    assert data["format"] == "TD3" and data["valid"] is True and data["failed_checks"] == []
    assert (data["surname"], data["given_names"], data["document_number"]) == ("OKAFOR", "CHIDI", "X12345678")
    assert (data["birth_date"], data["expiry_date"], data["sex"]) == ("1985-03-14", "2031-05-20", "M")


def test_expired_but_valid_mrz_still_exits_0() -> None:
    result = run("parse", "--json", "--today", "2025-06-01", input=TD3_SPECIMEN)
    assert result.exit_code == 0
    assert json.loads(result.stdout)["expiry_date"] == "2012-04-15"


def test_td1_json_has_optional_data_2() -> None:
    result = run("parse", "--json", input=TD1_SPECIMEN.replace("\n", "\r\n") + "\r\n")
    assert result.exit_code == 0
    data = json.loads(result.stdout)
    assert data["format"] == "TD1" and data["optional_data_2"] == ""


def test_failed_check_exits_1_and_names_it() -> None:
    result = run("parse", "--json", input=replace(TD3_SPECIMEN, 2, 44, "5"))
    assert result.exit_code == 1
    data = json.loads(result.stdout)
    assert data["valid"] is False
    assert data["failed_checks"] == ["composite"]
    assert data["messages"] == ["composite check digit is 5, expected 0"]
    assert result.stderr == ""


@pytest.mark.parametrize("text, message", [
    (TD3_SPECIMEN[:-1], "error: not an MRZ: line 2 has 43 characters; a TD3 line has 44\n"),
    ("", "error: not an MRZ: no MRZ found: the input is empty\n"),
    (TD3_SPECIMEN.replace("P<UTOE", "P<UTO#"), "error: not an MRZ: line 1, column 6: '#' is not allowed in an MRZ"),
    (b"P<UTO\xff\xfe\n", "error: not an MRZ: got 1 line of 7 characters"),
    (TD3_SPECIMEN.encode("utf-8")[:-2] + b"\xff<", "line 2, column 43: '\ufffd' is not allowed"),
])
def test_not_an_mrz_exits_2_with_a_message_on_stderr(text: str | bytes, message: str) -> None:
    for args in (["parse", "--json"], ["parse"]):
        result = run(*args, input=text)
        assert result.exit_code == 2
        assert result.stdout == ""
        assert result.stderr.startswith("error: not an MRZ: ")
        assert message in result.stderr


def test_summary_without_json() -> None:
    result = run("parse", "--today", "2025-06-01", input=TD3_SPECIMEN)
    assert result.exit_code == 0
    assert "TD3 document P issued by UTO" in result.stdout
    assert "ERIKSSON, ANNA MARIA" in result.stdout
    assert "2012-04-15 (expired)" in result.stdout
    assert "checks: all passed" in result.stdout


def test_summary_lists_failures() -> None:
    result = run("parse", input=replace(TD3_SPECIMEN, 2, 10, "0"))
    assert result.exit_code == 1
    assert "checks failed: document_number, composite" in result.stdout
    assert "- document number check digit is 0, expected 6" in result.stdout


def test_reads_a_file_argument(tmp_path) -> None:
    path = tmp_path / "doc.mrz"
    path.write_text(OKAFOR, encoding="utf-8")
    result = run("parse", "--json", str(path))
    assert result.exit_code == 0
    assert json.loads(result.stdout)["document_number"] == "X12345678"


def test_needs_no_config(monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("KIOSK_CONFIG", str(tmp_path / "missing.toml"))
    assert run("parse", "--json", input=OKAFOR).exit_code == 0


def test_every_command_and_option_has_help() -> None:
    assert command.name == "mrz" and command.help
    for sub in command.commands.values():
        assert sub.help
        for param in sub.params:
            if param.param_type_name == "option":
                assert param.help, f"{sub.name} {param.name} has no help"
    result = run("parse", "--help")
    assert result.exit_code == 0 and "--json" in result.output and "Exits 0" in result.output
