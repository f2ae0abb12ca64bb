"""The SD card's health as the kernel shows it: free space, error counters, bytes written, an age estimate.

SD cards say little about their own wear (eMMC modules do, in ``device/life_time`` and
``pre_eol_info``); what every card has is ext4's count of bytes written to the data
partition since it was made (``/sys/fs/ext4/<dev>/lifetime_write_kbytes``) and its error
counter (``errors_count``). Written bytes divided by the card's size is how many times the
card was written over; against ``storage.card_rated_cycles`` that is the age estimate.
Every file is optional: a laptop or VM has none of them, and says so rather than failing.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from appliance.storage.budget import DiskUsage, measure, statvfs_usage

if TYPE_CHECKING:
    from appliance.config import Config

# mmcblk0p3 -> mmcblk0, nvme0n1p2 -> nvme0n1, sda1 -> sda
_PARTITION = re.compile(r"^(?P<disk>(?:mmcblk|nvme\d+n)\d+)p\d+$|^(?P<sd>[a-z]+)\d+$")
PRE_EOL = {1: "normal", 2: "warning (80% of reserved blocks used)", 3: "urgent (reserved blocks nearly all used)"}
LIFE_WARN_PERCENT = 90


def report(config: Config, disk_usage: DiskUsage = statvfs_usage) -> dict[str, Any]:
    """What the card says about itself; ``problems`` lists what a technician should act on. Never raises."""
    settings = config.storage
    sysfs = settings.sysfs_root
    out: dict[str, Any] = {"partition": None, "disk": None, "problems": []}
    problems: list[str] = out["problems"]
    try:
        fill = measure(config, None, disk_usage)
        out.update(total_bytes=fill.total_bytes, available_bytes=fill.available_bytes, used_bytes=fill.used_bytes,
                   budget_bytes=fill.budget_bytes, budget_percent=fill.percent, level=fill.level)
        if fill.level == "full":
            problems.append(f"the data partition is at {fill.percent:g}% of its storage budget")
    except OSError as exc:
        problems.append(f"cannot read the data partition's free space: {exc}")
    partition = settings.data_device or _device_of(config.kiosk.data_dir, sysfs)
    if not partition:
        return out
    disk = _disk_of(partition)
    out.update(partition=partition, disk=disk)
    ext4 = sysfs / "fs" / "ext4" / partition
    written_kib = _number(ext4 / "lifetime_write_kbytes")
    errors = _number(ext4 / "errors_count")
    out["written_bytes"] = None if written_kib is None else written_kib * 1024
    out["ext4_errors"] = errors
    if errors:
        first = _text(ext4 / "first_error_time")
        problems.append(f"ext4 recorded {errors} error(s) on {partition}"
                        + (f" (first at {first})" if first else "") + ": the card may be failing")
    stat = _text(sysfs / "block" / disk / "stat")
    if stat:
        fields = stat.split()
        out["io"] = {"reads": int(fields[0]), "writes": int(fields[4])} if len(fields) >= 5 else None
    sectors = _number(sysfs / "block" / disk / "size")
    card_bytes = None if sectors is None else sectors * 512
    out["card_bytes"] = card_bytes
    if out["written_bytes"] is not None and card_bytes:
        full_writes = out["written_bytes"] / card_bytes
        out["full_writes"] = round(full_writes, 2)
        out["life_used_percent"] = round(100 * full_writes / settings.card_rated_cycles, 1)
        if out["life_used_percent"] >= LIFE_WARN_PERCENT:
            problems.append(f"the card was written over {full_writes:.0f} times, {out['life_used_percent']:g}% of "
                            f"its rated {settings.card_rated_cycles}")
    eol = _text(sysfs / "block" / disk / "device" / "pre_eol_info")
    if eol:
        level = int(eol, 16) if eol.startswith("0x") else int(eol)
        out["pre_eol"] = PRE_EOL.get(level, eol)
        if level >= 2:
            problems.append(f"the card reports its end of life is near: {out['pre_eol']}")
    life = _text(sysfs / "block" / disk / "device" / "life_time")
    if life:  # eMMC: two estimates in steps of 10% of the rated life
        out["emmc_life_used_percent"] = max(int(part, 16) for part in life.split()) * 10
    return out


def summary(health: dict[str, Any]) -> str:
    """One line for the self-test table."""
    parts = []
    if "available_bytes" in health:
        parts.append(f"{_gb(health['available_bytes'])} free of {_gb(health['total_bytes'])}, "
                     f"{health['budget_percent']:g}% of the storage budget ({health['level']})")
    if health.get("written_bytes") is not None:
        text = f"{_gb(health['written_bytes'])} written"
        if "full_writes" in health:
            text += f" (~{health['full_writes']:g} full-card writes, ~{health['life_used_percent']:g}% of rated life)"
        parts.append(text)
    if health.get("ext4_errors") is not None:
        parts.append(f"{health['ext4_errors']} ext4 error(s)")
    if health.get("io"):
        parts.append(f"{health['io']['reads']} reads, {health['io']['writes']} writes since boot")
    if "pre_eol" in health:
        parts.append(f"pre-EOL {health['pre_eol']}")
    if health.get("partition") is None:
        parts.append("no card counters in sysfs (not on a card?)")
    elif health.get("written_bytes") is None:
        parts.append(f"no ext4 counters for {health['partition']}")
    return "; ".join(parts)


def _device_of(path: Path, sysfs: Path) -> str | None:
    try:
        st = os.stat(path)
        link = sysfs / "dev" / "block" / f"{os.major(st.st_dev)}:{os.minor(st.st_dev)}"
        return link.resolve(strict=True).name
    except OSError:
        return None


def _disk_of(partition: str) -> str:
    match = _PARTITION.match(partition)
    if not match:
        return partition
    return match.group("disk") or match.group("sd")


def _text(path: Path) -> str | None:
    try:
        return path.read_text().strip()
    except (OSError, UnicodeDecodeError):
        return None


def _number(path: Path) -> int | None:
    text = _text(path)
    try:
        return None if text is None else int(text)
    except ValueError:
        return None


def _gb(value: int) -> str:
    return f"{value / 1e9:.1f} GB"
