"""``kiosk bench uplink``: drain a backlog to a local mosquitto, beside one-JSON-per-crossing paho QoS 1."""

from __future__ import annotations

import click

from appliance.cli.common import print_json


@click.command("uplink")
@click.option("--crossings", "count", default=10_000, show_default=True, type=click.IntRange(10, 1_000_000),
              help="Size of the backlog to drain.")
@click.option("--rounds", default=3, show_default=True, type=click.IntRange(1, 20),
              help="Alternating rounds of each side; the median round is reported.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object with the figures.")
def command(count: int, rounds: int, as_json: bool) -> None:
    """Crossings/s and bytes on the wire per crossing, kiosk uplink vs plain paho QoS 1 JSON."""
    from appliance.bench import uplink as bench

    figures = bench.run(count, rounds)
    if as_json:
        print_json(figures)
        return
    kiosk, base = figures["kiosk"], figures["baseline"]
    click.echo(f"backlog: {count} crossings through a local mosquitto (byte-counting relay on each client); "
               f"median of {rounds} alternating round(s)")
    click.echo(f"{'':34} {'crossings/s':>12} {'bytes/crossing':>15} {'seconds':>8}")
    click.echo(f"{'kiosk uplink (CBOR+zstd, receipts)':34} {kiosk['crossings_per_s']:12.0f} "
               f"{kiosk['bytes_per_crossing']:15.1f} {kiosk['seconds']:8.2f}")
    click.echo(f"{'paho QoS 1, one JSON each (PUBACK)':34} {base['crossings_per_s']:12.0f} "
               f"{base['bytes_per_crossing']:15.1f} {base['seconds']:8.2f}")
    idle, busy = kiosk["record_ms_idle"], kiosk["record_ms_while_draining"]
    if busy.get("n"):
        click.echo(f"recording a crossing meanwhile: p50 {busy['p50']} ms, p99 {busy['p99']} ms "
                   f"(idle: p50 {idle['p50']} ms, p99 {idle['p99']} ms; {busy['n']} recorded during the drain)")
    click.echo(f"speed ratio {figures['speed_ratio']:.2f}x (target >= 1.0), "
               f"bytes ratio {figures['bytes_ratio']:.3f} (target <= 0.5): "
               f"{'targets met' if figures['targets']['met'] else 'TARGETS NOT MET'}")
