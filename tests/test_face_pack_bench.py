"""`kiosk bench face` runs on the real pack and photos and reports what the docs say it reports."""

from __future__ import annotations

import json

from .face_pack import built_pack, sample_photos


def test_bench_face_reports_stages_cosines_separation_conditions_and_lfw(run_cli, tmp_path):
    # An LFW-layout folder from the packages' photos: two people, a pairs file in LFW's format.
    photos = sample_photos()
    for person, names in (("Obama", ("obama", "obama2", "obama3")), ("Biden", ("biden",)),
                          ("Collins", ("astronaut",))):
        (tmp_path / "lfw" / person).mkdir(parents=True)
        for number, name in enumerate(names, start=1):
            (tmp_path / "lfw" / person / f"{person}_{number:04d}.jpg").write_bytes(photos[name])
    pairs = tmp_path / "pairs.txt"
    pairs.write_text("1\t3\nObama\t1\t2\nObama\t1\t3\nObama\t2\t3\nObama\t1\tBiden\t1\nBiden\t1\tCollins\t1\n"
                     "Obama\t3\tCollins\t1\n", encoding="utf-8")
    result = run_cli("bench", "face", "--pack", str(built_pack()), "--rounds", "1", "--lfw", str(tmp_path / "lfw"),
                     "--pairs", str(pairs), "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert set(report["latency_ms"]) == {"float32", "int8-weights", "int8"}
    for figures in report["latency_ms"].values():
        for stages in figures["per_photo"].values():
            assert set(stages) == {"resize", "detect", "align", "embed", "total", "detect_align_embed"}
            assert all(value > 0 for value in stages.values())
    assert min(report["cosine_vs_float32"]["int8"].values()) >= 0.95
    assert min(report["cosine_vs_float32"]["int8-weights"].values()) >= 0.99
    for variant in ("float32", "int8-weights", "int8"):
        separation = report["separation"][variant]
        assert len(separation["genuine"]) == 3 and len(separation["impostor"]) == 7
        assert separation["every_genuine_above"] and separation["every_impostor_below"]
    peer = report["separation"]["peer_box_crop_float32"]
    assert peer["highest_impostor"] > peer["lowest_genuine"]  # without alignment the two overlap
    conditions = report["conditions"]
    assert conditions["small: eyes 24 px"]["caught"] == {"too_small": 5}
    assert conditions["dim x0.15"]["caught"] == {"too_dark": 5} and conditions["rotated 15 deg"]["caught_rate"] == 0
    lfw = report["lfw"]
    assert (lfw["genuine_pairs"], lfw["impostor_pairs"], lfw["skipped_pairs"]) == (3, 3, 0)
    assert lfw["tar_at_far_0.001"]["tar"] == 1.0 and lfw["variant"] == "int8-weights"
    assert len(report["load_average"]) == 3
    text = run_cli("bench", "face", "--pack", str(built_pack()), "--rounds", "1")
    assert "detect+align+embed" in text.stdout and "peer: box crop, no alignment" in text.stdout
    lonely = run_cli("bench", "face", "--lfw", str(tmp_path / "lfw"))
    assert lonely.exit_code == 2 and "--lfw and --pairs go together" in lonely.output
