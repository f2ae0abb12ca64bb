"""Store pragmas and migrations; the audit chain detects changed, deleted and truncated rows."""

from __future__ import annotations

import json
import sqlite3

import pytest

from appliance.storage import audit
from appliance.errors import StoreError
from appliance.storage.store import SCHEMA_VERSION, Store


def test_durable_pragmas(store):
    assert store.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert store.conn.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    assert store.schema_version == SCHEMA_VERSION


def test_store_closes_at_the_end_of_its_with_block(config):
    with Store(config.db_path) as store:
        assert store.journal_mode() == "wal"
    with pytest.raises(sqlite3.ProgrammingError, match="closed"):
        store.conn.execute("SELECT 1")


def test_migrations_run_once(config):
    with Store(config.db_path):
        pass
    with Store(config.db_path) as again:
        assert again.migrate() == 0


def test_newer_schema_is_refused(config):
    with Store(config.db_path) as store:
        store.conn.execute(f"PRAGMA user_version={SCHEMA_VERSION + 1}")
    with pytest.raises(StoreError, match="newer than this software"):
        Store(config.db_path)


def test_not_a_database_is_a_clear_error(tmp_path):
    path = tmp_path / "junk.sqlite3"
    path.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(StoreError, match="not usable"):
        Store(path)


def test_transaction_rolls_back_on_error(store):
    with pytest.raises(RuntimeError):
        with store.transaction():
            audit.append(store, "a", "x")
            raise RuntimeError("boom")
    assert store.conn.execute("SELECT count(*) FROM audit").fetchone()[0] == 0


def test_counter_never_reuses_values(store):
    with store.transaction():
        assert [store.next_counter("c") for _ in range(3)] == [1, 2, 3]
    assert store.conn.execute("SELECT value FROM counters WHERE name='c'").fetchone()[0] == 3


def _chain(store, n=5):
    for i in range(n):
        audit.record(store, "alice", "test.action", f"s{i}", {"i": i})


def test_intact_chain_verifies(store):
    _chain(store)
    assert audit.verify(store) == (5, [])


def test_changed_row_is_named(store):
    _chain(store)
    store.conn.execute("UPDATE audit SET details = ? WHERE seq = 3", (json.dumps({"i": 99}),))
    checked, problems = audit.verify(store)
    assert [p.seq for p in problems] == [3]
    assert "changed" in problems[0].message


def test_rehashed_row_breaks_the_next_link(store):
    _chain(store)
    row = store.conn.execute("SELECT * FROM audit WHERE seq = 2").fetchone()
    forged = audit._row_hash(2, row[1], "mallory", row[3], row[4], row[5], row[6])
    store.conn.execute("UPDATE audit SET actor = 'mallory', hash = ? WHERE seq = 2", (forged,))
    _, problems = audit.verify(store)
    assert [p.seq for p in problems] == [3]
    assert "link" in problems[0].message


def test_deleted_row_is_named(store):
    _chain(store)
    store.conn.execute("DELETE FROM audit WHERE seq = 4")
    _, problems = audit.verify(store)
    assert problems and problems[0].seq == 4 and "deleted" in problems[0].message


def test_truncated_tail_is_detected(store):
    _chain(store)
    store.conn.execute("DELETE FROM audit WHERE seq >= 4")
    _, problems = audit.verify(store)
    assert [p.seq for p in problems] == [4]
    assert "4-5" in problems[0].message


def test_cli_verify_and_db_check(store, run_cli):
    _chain(store, 3)
    ok = run_cli("audit", "verify")
    assert ok.exit_code == 0 and "3 rows" in ok.stdout
    assert run_cli("db", "check").exit_code == 0
    store.conn.execute("UPDATE audit SET action = 'x' WHERE seq = 2")
    bad = run_cli("audit", "verify", "--json")
    assert bad.exit_code == 1
    assert json.loads(bad.stdout)["problems"][0]["seq"] == 2


def test_db_check_reports_corruption(config, run_cli):
    with Store(config.db_path) as store:
        _chain(store, 200)
        store.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        root = store.conn.execute("SELECT rootpage FROM sqlite_master WHERE name = 'audit'").fetchone()[0]
        page_size = store.conn.execute("PRAGMA page_size").fetchone()[0]
    # Scribble over the cell pointers of the audit table's root page, as a failing SD card might.
    data = bytearray(config.db_path.read_bytes())
    start = (root - 1) * page_size + 12
    data[start : start + 64] = b"\xff" * 64
    config.db_path.write_bytes(bytes(data))
    result = run_cli("db", "check", "--json")
    assert result.exit_code == 1
    report = json.loads(result.stdout)
    assert report["ok"] is False and report["problems"]


def test_the_head_is_the_newest_entry(store):
    from appliance.storage import audit

    assert audit.head(store) == {"seq": 0, "hash": audit.GENESIS_HASH}
    audit.record(store, "alice", "login")
    seq = audit.record(store, "alice", "logout")
    last_hash = store.conn.execute("SELECT hash FROM audit WHERE seq = ?", (seq,)).fetchone()[0]
    assert audit.head(store) == {"seq": seq, "hash": last_hash}
