"""The runtime dependencies resolve to wheels on the board (linux-aarch64, CPython 3.11) and on x86-64.

Each test asks PyPI (pip's resolver, ``--dry-run --report``: metadata only where PyPI serves
it) what ``pip install --only-binary=:all:`` would install for the target, with the markers
of pyproject.toml evaluated for that target rather than for this machine. The image build
downloads its aarch64 wheels with the same flags (``image-build/lib/wheels``), so what
passes here is what the image can install offline. Needs the network to PyPI.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path

import pytest
from packaging.markers import Marker
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name, parse_wheel_filename
from packaging.version import Version

ROOT = Path(__file__).resolve().parent.parent
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
GLIBC_MINOR = 36  # Debian bookworm (and Raspberry Pi OS bookworm): glibc 2.36

# Packages of the [pi] extra that no wheel can bring, each with the reason. The image gets
# them from apt or not at all; the code imports each lazily and says what is missing.
NOT_FROM_WHEELS = {
    "picamera2": "Raspberry Pi OS's apt package python3-picamera2: it needs libcamera's Python "
                 "bindings, which only Raspberry Pi OS builds (PyPI has none), and on PyPI its "
                 "dependencies PiDNG and python-prctl are source-only",
    "systemd-python": "source-only on PyPI (compiled against libsystemd); Debian's python3-systemd "
                      "is the built one, and without it the kiosk logs to stdout, which journald keeps",
}


@dataclass(frozen=True)
class Target:
    machine: str
    platforms: tuple[str, ...]

    def environment(self) -> dict[str, str]:
        """The PEP 508 marker values of CPython 3.11 on this target."""
        return {"implementation_name": "cpython", "platform_python_implementation": "CPython",
                "os_name": "posix", "sys_platform": "linux", "platform_system": "Linux",
                "platform_machine": self.machine, "python_version": "3.11", "python_full_version": "3.11.2",
                "implementation_version": "3.11.2", "extra": ""}

    def applies(self, marker: Marker | None, extra: str = "") -> bool:
        return marker is None or marker.evaluate({**self.environment(), "extra": extra})


def _manylinux(machine: str, oldest_minor: int) -> tuple[str, ...]:
    # pip does not widen a --platform to the older manylinux tags it implies, so every
    # glibc the target meets is listed (a wheel tagged only manylinux_2_27 is found only
    # through that tag).
    legacy = {"aarch64": ["manylinux2014"], "x86_64": ["manylinux1", "manylinux2010", "manylinux2014"]}[machine]
    tags = [f"manylinux_2_{minor}_{machine}" for minor in range(oldest_minor, GLIBC_MINOR + 1)]
    return tuple(tags + [f"{name}_{machine}" for name in legacy] + [f"linux_{machine}"])


TARGETS = {"aarch64": Target("aarch64", _manylinux("aarch64", 17)),
           # The board as an installer sees it that knows only the manylinux2014 tag (glibc 2.17).
           "aarch64-manylinux2014": Target("aarch64", ("manylinux2014_aarch64", "manylinux_2_17_aarch64")),
           "x86_64": Target("x86_64", _manylinux("x86_64", 5))}
# The LiteRT each target resolves to: 2.x where the manylinux_2_27 wheels are seen, else 1.4.
LITERT_FLOOR = {"aarch64": "2.3", "aarch64-manylinux2014": "1.4", "x86_64": "2.3"}


def _requirements(strings: list[str], target: Target) -> list[Requirement]:
    """The requirements whose markers hold on ``target``, markers removed (pip would judge them by this machine)."""
    chosen = []
    for text in strings:
        requirement = Requirement(text)
        if target.applies(requirement.marker):
            requirement.marker = None
            chosen.append(requirement)
    return chosen


def _resolve(requirements: list[Requirement], target: Target, tmp_path: Path) -> dict[str, dict]:
    """{canonical name: the report's entry} of what pip would install on ``target``."""
    report = tmp_path / f"report-{target.machine}.json"
    command = [sys.executable, "-m", "pip", "install", "--dry-run", "--ignore-installed", "--quiet",
               "--only-binary=:all:", "--python-version", "3.11", "--implementation", "cp", "--abi", "cp311",
               "--target", str(tmp_path / "target"), "--report", str(report)]
    for platform in target.platforms:
        command += ["--platform", platform]
    # PyPI alone: no pip config file (a machine's local mirrors or find-links could hold a wheel
    # PyPI does not have), no PIP_* settings but the certificate bundle and the timeout.
    environment = {key: value for key, value in os.environ.items()
                   if not key.startswith("PIP_") or key in ("PIP_CERT", "PIP_DEFAULT_TIMEOUT")}
    environment["PIP_CONFIG_FILE"] = os.devnull
    result = subprocess.run(command + [str(r) for r in requirements], capture_output=True, text=True,
                            env=environment, timeout=600)
    assert result.returncode == 0, f"pip cannot resolve wheels for {target.machine}:\n{result.stderr[-3000:]}"
    entries = json.loads(report.read_text(encoding="utf-8"))["install"]
    return {canonicalize_name(entry["metadata"]["name"]): entry for entry in entries}


def _check_wheels(resolved: dict[str, dict], requirements: list[Requirement], target: Target) -> None:
    for requirement in requirements:
        name = canonicalize_name(requirement.name)
        assert name in resolved, f"{requirement} did not resolve for {target.machine}"
        assert requirement.specifier.contains(resolved[name]["metadata"]["version"], prereleases=True)
    for name, entry in resolved.items():
        filename = entry["download_info"]["url"].rsplit("/", 1)[-1]
        assert filename.endswith(".whl"), f"{name} would be built from source on {target.machine}: {filename}"
        platforms = {tag.platform for tag in parse_wheel_filename(filename)[3]}
        assert platforms & ({"any"} | set(target.platforms)), f"{filename} is not a wheel for {target.machine}"
        # pip judged the dependencies' markers by this machine: judge them again for the target.
        for text in entry["metadata"].get("requires_dist", []):
            dependency = Requirement(text)
            if target.applies(dependency.marker):
                assert canonicalize_name(dependency.name) in resolved, (
                    f"{name} needs {dependency} on {target.machine}, which pip left out")


@pytest.mark.parametrize("machine", sorted(TARGETS))
def test_runtime_dependencies_are_wheels(machine: str, tmp_path: Path) -> None:
    target = TARGETS[machine]
    requirements = _requirements(PROJECT["dependencies"], target)
    resolved = _resolve(requirements, target, tmp_path)
    _check_wheels(resolved, requirements, target)
    # The face embedder's runtime, with numpy 2 on every target.
    assert Version(resolved["ai-edge-litert"]["metadata"]["version"]) >= Version(LITERT_FLOOR[machine])
    assert Version(resolved["numpy"]["metadata"]["version"]) >= Version("2")
    assert "pyfusefilter" not in resolved  # source-only: the document filter is fuse_filter.py


def test_pi_extra_is_wheels_on_the_board(tmp_path: Path) -> None:
    target = TARGETS["aarch64"]
    extra = [text for text in PROJECT["optional-dependencies"]["pi"]
             if canonicalize_name(Requirement(text).name) not in NOT_FROM_WHEELS]
    requirements = _requirements(PROJECT["dependencies"] + extra, target)
    resolved = _resolve(requirements, target, tmp_path)
    _check_wheels(resolved, requirements, target)
    assert {"lgpio", "opencv-python-headless"} <= set(resolved)


@pytest.mark.parametrize("name", sorted(NOT_FROM_WHEELS))
def test_pi_packages_left_out_really_have_no_wheels(name: str, tmp_path: Path) -> None:
    # Keeps the list above honest: once one of them resolves to wheels, move it into the check.
    target = TARGETS["aarch64"]
    assert any(canonicalize_name(Requirement(text).name) == name for text in PROJECT["optional-dependencies"]["pi"])
    with pytest.raises(AssertionError, match="pip cannot resolve wheels"):
        _resolve([Requirement(name)], target, tmp_path)
