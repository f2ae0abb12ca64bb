"""``kiosk bench face``: the model pack's pipeline on real photos, each int8 variant beside float32.

The measuring is ``appliance.bench.face``; this command runs it and prints the figures.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import click

from appliance.cli.common import KioskCommand, print_json


def _report(r: dict[str, Any]) -> None:
    load = os.getloadavg()
    click.echo(f"face pipeline, pack {r['pack']}, 1 thread, median of {r['rounds']} rounds "
               f"(load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f})")
    for name, photo in r["photos"].items():
        state = "passes the gates" if photo["passed"] else f"FAILS: {r['photos_failing_gates'].get(name)}"
        click.echo(f"  {name:<10} {photo['size'][1]}x{photo['size'][0]} ({photo['person']}): {state}")
    click.echo(f"\nlatency per capture, ms (median over photos; target detect + align + embed <= "
               f"{r['pipeline_target_ms']:.0f} ms on every photo; resize depends on the frame's size)")
    float_ms = r["latency_ms"].get("float32", {}).get("median_total_ms")
    for variant, figures in r["latency_ms"].items():
        stages = {stage: statistics_median([p[stage] for p in figures["per_photo"].values()])
                  for stage in ("resize", "detect", "align", "embed")}
        ratio = f"  ({figures['median_total_ms'] / float_ms:.2f}x float32)" if float_ms and variant != "float32" else ""
        met = "met" if figures["max_detect_align_embed_ms"] <= r["pipeline_target_ms"] else "NOT met"
        click.echo(f"  {variant:<13} resize {stages['resize']:5.2f}  detect {stages['detect']:5.2f}  align "
                   f"{stages['align']:5.2f}  embed {stages['embed']:5.2f}  total {figures['median_total_ms']:6.2f} "
                   f"(max {figures['max_total_ms']:.2f}){ratio}; detect+align+embed "
                   f"{figures['median_detect_align_embed_ms']:.2f} (max {figures['max_detect_align_embed_ms']:.2f}): {met}")
    click.echo(f"\ncosine to the float32 embedding of the same face (target >= {r['cosine_target']})")
    for variant, cosines in r["cosine_vs_float32"].items():
        click.echo(f"  {variant:<13} min {min(cosines.values()):.4f}  " +
                   "  ".join(f"{name} {value:.4f}" for name, value in cosines.items()))
    click.echo("\ngenuine and impostor pairs of the shipped photos (few: 3 genuine pairs, all of one person)")
    for variant, s in r["separation"].items():
        genuine = " ".join(f"{p['pair']} {p['cosine']:.3f}" for p in s["genuine"])
        impostor = max(s["impostor"], key=lambda p: p["cosine"]) if s["impostor"] else None
        if variant.startswith("peer"):
            click.echo(f"  peer: box crop, no alignment (float32): genuine {genuine}; highest impostor "
                       f"{impostor['pair'] if impostor else '-'} {s['highest_impostor']}")
            continue
        verdict = ("every genuine pair above, every impostor below" if s["every_genuine_above"]
                   and s["every_impostor_below"] else "NOT separated")
        click.echo(f"  {variant:<13} threshold {s['threshold']}: genuine {genuine}; highest impostor "
                   f"{impostor['pair'] if impostor else '-'} {impostor['cosine'] if impostor else '-'}: {verdict}")
    click.echo("\ncapture conditions (the photos that pass the gates, transformed): share caught by a gate, by gate; "
               "cosine to the original of those that pass")
    for condition, c in r["conditions"].items():
        caught = ", ".join(f"{code} {n}" for code, n in sorted(c["caught"].items())) or "none"
        similarity = f"min {c['min_similarity']:.3f}" if c["min_similarity"] is not None else "-"
        click.echo(f"  {condition:<22} caught {c['caught_rate']:.0%} ({caught}); passing: {similarity}")
    if "lfw" in r:
        lfw = r["lfw"]
        click.echo(f"\nLFW pairs ({lfw['variant']}): {lfw['genuine_pairs']} genuine, {lfw['impostor_pairs']} impostor, "
                   f"{lfw['skipped_pairs']} skipped by the gates")
        for key in ("tar_at_far_0.001", "tar_at_far_0.01"):
            click.echo(f"  {key}: TAR {lfw[key]['tar']:.4f} at threshold {lfw[key]['threshold']:.4f}")


def statistics_median(values: list[float]) -> float:
    import statistics

    return statistics.median(values)


@click.command("face", cls=KioskCommand)
@click.option("--pack", "pack", type=click.Path(file_okay=False, path_type=Path),
              help="The model pack to measure (default: build it into the cache, as `kiosk models build` does).")
@click.option("--rounds", default=20, show_default=True, type=click.IntRange(1, 1000), help="Timed runs per photo.")
@click.option("--lfw", "lfw", type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="A folder in LFW layout (NAME/NAME_0001.jpg) to validate the model on (needs --pairs).")
@click.option("--pairs", "pairs", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Its pairs file (LFW's pairs.txt format).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def command(pack: Path | None, rounds: int, lfw: Path | None, pairs: Path | None, as_json: bool) -> None:
    """Per-stage latency of float32, int8-weights and int8 on one thread, int8 vs float32 cosine, genuine vs
    impostor similarity on the packages' real photos (beside a plain box crop), gates under capture conditions,
    and TAR at FAR 1e-3 on an LFW-style folder."""
    from appliance.bench import face
    from appliance.inference import pack_build

    if (lfw is None) != (pairs is None):
        raise click.UsageError("--lfw and --pairs go together")
    say = (lambda _line: None) if as_json else (lambda line: click.echo(line, err=True))
    if pack is None:
        pack = pack_build.cache_root() / "packs" / pack_build.input_key()
        if not (pack / "manifest.json").is_file():
            say(f"building the pack into {pack}")
            pack_build.build(pack, log=say)
    result = face.run(pack, rounds=rounds, lfw=lfw, lfw_pairs=pairs, say=say)
    result["load_average"] = [round(v, 2) for v in os.getloadavg()]
    if as_json:
        print_json(result)
    else:
        _report(result)
