"""A card that never fills: the storage budget, photo thinning in housekeeping, the warnings, the card's health."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from appliance import config as config_module
from appliance.errors import ConfigError
from appliance.hw import open_devices
from appliance.service.housekeeping import Housekeeping
from appliance.storage import budget, card_health
from appliance.uplink import outbox, telemetry
from appliance.workflow import biometrics, crossings, selftest, storage_budget

from .samples import CLEAR_OKAFOR, PERSON_HIT_DOE, import_demo_lists


class Card:
    """A small card holding the kiosk's real data dir, for ``budget.measure``'s disk-usage seam.

    A test cannot fill a real partition to its budget, so the card's size and what the rest
    of the system takes (``base``) are played; the database, its WAL and every other file
    in the data dir are the real ones, so what housekeeping deletes or shrinks shows.
    """

    def __init__(self, data_dir: Path, total: int, base: int) -> None:
        self.data_dir, self.total, self.base = data_dir, total, base

    def __call__(self, _path: Path) -> tuple[int, int, int]:
        used = self.base + sum(p.stat().st_size for p in self.data_dir.rglob("*") if p.is_file())
        return self.total, used, self.total - used


def _with_storage(config_path: Path, text: str, environ: dict[str, str]) -> config_module.Config:
    config_path.write_text(config_path.read_text() + "\n[storage]\n" + text)
    return config_module.load(config_path, environ=environ)


@pytest.fixture
def env(config) -> dict[str, str]:
    return {"KIOSK_SECURITY_BIOMETRIC_KEY": config.security.biometric_key.get_secret_value()}


def _crossing_with_photo(store, config, officer, mrz: str) -> tuple[str, str]:
    devices = open_devices(config.hardware)
    try:
        photo = biometrics.capture_photo(store, config, devices, officer)["capture_id"]
    finally:
        devices.close()
    crossing = crossings.record(store, config, officer, crossings.CrossingRequest(
        direction="entry", mrz=mrz, capture_ids=[photo]))
    return crossing.to_dict()["id"], photo


def _receipt(store, *ref_ids: str) -> None:
    with store.lock:
        pairs = store.conn.execute(
            f"SELECT seq, ref_id FROM outbox WHERE ref_id IN ({','.join('?' * len(ref_ids))})", ref_ids).fetchall()
    with store.transaction():
        outbox.acknowledge(store, pairs)


@pytest.fixture
def camera_config(config_path, env, tmp_path) -> config_module.Config:
    """The simulated camera taking 640x480 JPEG photos of some detail (the package's sample is a tiny PNG)."""
    import cv2
    import numpy as np

    photos = tmp_path / "photos"
    photos.mkdir()
    rng = np.random.default_rng(7)
    image = (np.add.outer(np.arange(480), np.arange(640)) % 256).astype(np.uint8)[:, :, None].repeat(3, axis=2)
    image = np.clip(image.astype(int) + rng.integers(-40, 40, image.shape), 0, 255).astype(np.uint8)
    cv2.imwrite(str(photos / "face.jpg"), image, [cv2.IMWRITE_JPEG_QUALITY, 90])
    config_path.write_text(config_path.read_text() + f'\n[hardware.simulated]\ncamera_dir = "{photos}"\n')
    return config_module.load(config_path, environ=env)


@pytest.fixture
def post(store, camera_config, officers):
    """Four cleared travellers with photos (two receipted by HQ, crossing and photo), one referred (receipted)."""
    config = camera_config
    import_demo_lists(store)
    alice = officers.get("alice")
    cleared = [_crossing_with_photo(store, config, alice, CLEAR_OKAFOR) for _ in range(4)]
    referred = _crossing_with_photo(store, config, alice, PERSON_HIT_DOE)
    for crossing_id, photo in [*cleared[:2], referred]:
        _receipt(store, crossing_id, photo)
    return {"receipted_cleared": cleared[:2], "pending_cleared": cleared[2:], "referred": referred}


def _faces(store) -> dict[str, tuple[str, dict]]:
    rows = store.conn.execute("SELECT id, format, quality FROM captures WHERE kind = 'face'").fetchall()
    return {capture_id: (fmt, json.loads(quality)) for capture_id, fmt, quality in rows}


def _audit(store, action: str) -> list[dict]:
    return [json.loads(d) for (d,) in store.conn.execute("SELECT details FROM audit WHERE action = ? ORDER BY seq",
                                                        (action,))]


def _photo_bytes(store) -> int:
    return store.conn.execute("SELECT sum(length(ciphertext)) FROM captures").fetchone()[0]


def _card_at(store, config, percent: float, free: int = 0) -> Card:
    """A card on which the data partition is at ``percent`` of its 16 MiB budget, plus ``free`` bytes."""
    card = Card(config.kiosk.data_dir, total=64 * 2**20, base=0)
    card.base = int(16 * 2**20 * percent / 100) - budget.measure(config, store, card).used_bytes + free
    return card


def test_under_the_warning_nothing_happens(store, config_path, env, post):
    config = _with_storage(config_path, "budget_bytes = 16777216\n", env)
    result = storage_budget.enforce(store, config, _card_at(store, config, 50))
    assert (result["level"], result["photos_deleted"], result["thumbnails"]) == ("ok", 0, 0)
    assert len(_faces(store)) == 5


def test_the_officer_and_hq_are_warned_before_anything_is_thinned(store, config_path, env, post):
    config = _with_storage(config_path, "budget_bytes = 16777216\nwarn_percent = 80\nthin_percent = 90\n", env)
    result = storage_budget.enforce(store, config, _card_at(store, config, 85))
    assert (result["level"], result["photos_deleted"], result["thumbnails"]) == ("warn", 0, 0)
    assert [entry["percent"] >= 80 for entry in _audit(store, "storage.level")] == [True]
    storage_budget.enforce(store, config, _card_at(store, config, 85))
    assert len(_audit(store, "storage.level")) == 1, "a level is audited when it changes, not every round"


def test_first_the_photos_of_cleared_travellers_hq_holds_go(store, config_path, env, post):
    config = _with_storage(config_path, "budget_bytes = 16777216\n", env)
    photo_size = _photo_bytes(store) // 5
    # Just over the threshold: deleting the two receipted cleared photos is enough.
    card = _card_at(store, config, 90, free=photo_size)
    crossings_before = store.conn.execute("SELECT count(*) FROM crossings").fetchone()[0]
    result = storage_budget.enforce(store, config, card)
    assert result["photos_deleted"] == 2 and result["thumbnails"] == 0 and result["level"] in ("ok", "warn")
    faces = _faces(store)
    assert not {photo for _, photo in post["receipted_cleared"]} & faces.keys()
    assert {photo for _, photo in post["pending_cleared"]} | {post["referred"][1]} == faces.keys()
    assert store.conn.execute("SELECT count(*) FROM crossings").fetchone()[0] == crossings_before
    assert _audit(store, "storage.photos_deleted")[0]["count"] == 2


def test_then_thumbnails_replace_the_other_photos_and_crossings_stay(store, config_path, env, post):
    import cv2
    import numpy as np

    config = _with_storage(config_path, "budget_bytes = 16777216\nthumbnail_width = 64\n", env)
    in_flight = post["pending_cleared"][1][1]
    with store.transaction():  # HQ holds part of this photo: its thumbnail would not match
        store.conn.execute("UPDATE outbox SET progress = 100 WHERE ref_id = ?", (in_flight,))
    crossings_before = store.conn.execute("SELECT count(*) FROM crossings").fetchone()[0]
    outbox_before = outbox.depth(store)
    result = storage_budget.enforce(store, config, _card_at(store, config, 150))
    assert result["photos_deleted"] == 2 and result["thumbnails"] == 2
    assert result["level"] in ("thin", "full"), "still tight: nothing else may go"
    faces = _faces(store)
    thumbs = {capture_id for capture_id, (_, quality) in faces.items() if "thumbnail" in quality}
    assert thumbs == {post["pending_cleared"][0][1], post["referred"][1]}
    for capture_id in thumbs:
        data, fmt = biometrics.read(store, config, capture_id)
        assert fmt == "image/jpeg" and data.startswith(b"\xff\xd8")
        assert cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR).shape[1] == 64
        assert faces[capture_id][1]["thumbnail"]["from_bytes"] > len(data)
    assert "thumbnail" not in faces[in_flight][1], "a photo half-way to HQ is left whole"
    pending = next(r for r in outbox.next_rows(store, 3, 0, 10) if r.ref_id == post["pending_cleared"][0][1])
    assert pending.payload["format"] == "image/jpeg", "HQ is told it gets the thumbnail"
    assert store.conn.execute("SELECT count(*) FROM crossings").fetchone()[0] == crossings_before
    assert outbox.depth(store) == outbox_before
    assert _audit(store, "storage.thumbnails")[0]["count"] == 2
    levels = [entry for entry in _audit(store, "storage.level")]
    assert levels and levels[0]["percent"] >= 90


def test_housekeeping_keeps_the_budget_on_the_real_file_system(store, config_path, env, post):
    # 16 MiB of budget on this machine's real disk (statvfs): far over it, so both steps run.
    config = _with_storage(config_path, "budget_bytes = 16777216\nthumbnail_width = 64\n", env)
    removed = Housekeeping(store, config=config).run_once()
    assert removed["photos_deleted"] == 2 and removed["thumbnails"] == 3
    assert store.conn.execute("SELECT count(*) FROM crossings").fetchone()[0] == 5
    health = telemetry.collect(store, config)
    assert health["storage"]["level"] == "full" and health["storage"]["budget_bytes"] == 16777216


def test_health_telemetry_carries_the_budget(store, config):
    health = telemetry.collect(store, config)
    assert set(health["storage"]) >= {"level", "percent", "used_bytes", "budget_bytes", "available_bytes"}
    assert health["storage"]["level"] in budget.LEVELS


@pytest.mark.parametrize("text, reason", [
    ("warn_percent = 95\nthin_percent = 90\n", "must be below storage.thin_percent"),
    ("budget_bytes = 1000\n", "budget_bytes"),
    ("budget_percent = 99.5\n", "budget_percent"),
    ("thumbnail_width = 10\n", "thumbnail_width"),
    ("data_device = \"../etc\"\n", "data_device"),
    ("max_photos = 3\n", "max_photos"),
])
def test_a_bad_storage_section_is_refused(config_path, env, text, reason):
    with pytest.raises(ConfigError, match=reason):
        _with_storage(config_path, text, env)


# --- the card's health (sysfs played by a folder) ------------------------------------------


def _sysfs(root: Path, errors: int = 0, written_kib: int = 64 * 2**20, pre_eol: str | None = None) -> Path:
    ext4 = root / "fs" / "ext4" / "mmcblk0p3"
    ext4.mkdir(parents=True)
    (ext4 / "lifetime_write_kbytes").write_text(f"{written_kib}\n")
    (ext4 / "errors_count").write_text(f"{errors}\n")
    if errors:
        (ext4 / "first_error_time").write_text("1764633600\n")
    disk = root / "block" / "mmcblk0"
    (disk / "device").mkdir(parents=True)
    (disk / "size").write_text(f"{32 * 2**30 // 512}\n")  # a 32 GiB card
    (disk / "stat").write_text("  1200 0 9600 30 4500 0 36000 90 0 120 120\n")
    if pre_eol:
        (disk / "device" / "pre_eol_info").write_text(pre_eol + "\n")
    return root


def test_selftest_reports_the_cards_free_space_writes_and_age(config_path, env, tmp_path):
    root = _sysfs(tmp_path / "sys")
    config = _with_storage(config_path, f'data_device = "mmcblk0p3"\nsysfs_root = "{root}"\n'
                                        "card_rated_cycles = 1000\n", env)
    row = selftest.check_sd_card(config)
    assert row["ok"] and row["port"] == "/dev/mmcblk0p3", row
    health = card_health.report(config)
    assert health["written_bytes"] == 64 * 2**30 and health["full_writes"] == 2.0
    assert health["life_used_percent"] == 0.2 and health["ext4_errors"] == 0
    assert health["io"] == {"reads": 1200, "writes": 4500}
    assert "68.7 GB written (~2 full-card writes, ~0.2% of rated life)" in row["result"]
    assert "0 ext4 error(s)" in row["result"] and "free of" in row["result"]


@pytest.mark.parametrize("errors, written_kib, pre_eol, reason", [
    (3, 64 * 2**20, None, "ext4 recorded 3 error(s) on mmcblk0p3"),
    (0, 31 * 2**30, None, "of its rated 1000"),
    (0, 64 * 2**20, "0x03", "end of life is near: urgent"),
])
def test_selftest_fails_a_worn_or_failing_card_with_a_hint(config_path, env, tmp_path, errors, written_kib, pre_eol,
                                                           reason):
    root = _sysfs(tmp_path / "sys", errors=errors, written_kib=written_kib, pre_eol=pre_eol)
    config = _with_storage(config_path, f'data_device = "mmcblk0p3"\nsysfs_root = "{root}"\n', env)
    row = selftest.check_sd_card(config)
    assert not row["ok"] and reason in row["result"], row
    assert "replace the card" in row["hint"]


def test_selftest_on_a_machine_without_card_counters_says_so_and_passes(config_path, env, tmp_path):
    config = _with_storage(config_path, f'sysfs_root = "{tmp_path / "empty"}"\n', env)
    row = selftest.check_sd_card(config)
    assert row["ok"] and "no card counters in sysfs" in row["result"]


def test_the_officer_sees_the_warning_in_the_status_bar_in_both_languages(store, config_path, env, officers):
    from fastapi.testclient import TestClient

    from appliance.web.app import create_app

    # 16 MiB of budget on this machine's real disk: far over it.
    tight = TestClient(create_app(_with_storage(config_path, "budget_bytes = 16777216\n", env), store))
    page = tight.get("/login").text
    assert 'id="storage"' in page and "Storage full: photos reduced" in page and "level-critical" in page
    assert "Stockage plein : photos réduites" in tight.get("/login", params={"lang": "fr"}).text


def test_no_storage_pill_while_under_the_warning(store, config, officers):
    from fastapi.testclient import TestClient

    from appliance.web.app import create_app

    roomy = config.model_copy(update={"storage": config.storage.model_copy(update={"budget_bytes": 2**60})})
    assert 'id="storage"' not in TestClient(create_app(roomy, store)).get("/login").text


def test_hq_sees_the_warning_in_its_fleet_view(store, config_path, env, tmp_path):
    from hq.db import HQDatabase
    from hq.fleet import fleet_rows, render_table

    tight = _with_storage(config_path, "budget_bytes = 16777216\n", env)  # the real disk is far over it
    with HQDatabase(str(tmp_path / "hq.sqlite3")) as db:
        db.enrol("POST-T", "K9", "key")
        db.record_health("POST-T", "K9", telemetry.collect(store, tight))
        [row] = fleet_rows(db, 900)
        assert row["storage"]["level"] == "full" and "storage_full" in row["problems"]
        assert "% full" in render_table([row])
        db.record_health("POST-T", "K9", {**telemetry.collect(store, tight),
                                          "storage": {"level": "warn", "percent": 83.0}})
        [row] = fleet_rows(db, 900)
        assert "storage_warn" in row["problems"] and "83% warn" in render_table([row])


def test_thumbnails_wait_while_the_power_policy_defers_heavy_work(store, config_path, env, post):
    config = _with_storage(config_path, "budget_bytes = 16777216\nthumbnail_width = 64\n", env)
    low_battery = Housekeeping(store, config=config, heavy_work_allowed=lambda: False)
    removed = low_battery.run_once()
    assert removed["photos_deleted"] == 2 and removed["thumbnails"] == 0, "deleting is light; decoding waits"
    assert low_battery.last_storage["thumbnails_unavailable"] == "deferred by the power policy"
    assert Housekeeping(store, config=config, heavy_work_allowed=lambda: True).run_once()["thumbnails"] == 3
