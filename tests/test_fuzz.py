"""The bounded fuzzing run of CI: each harness of tests/fuzz/ for a few thousand inputs, coverage-guided.

The long run is ``scripts/fuzz`` (docs/reliability.md). Crashes found by either become
regression tests in tests/test_fuzz_regressions.py.
"""

from __future__ import annotations

import platform
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.fuzz import runner, seeds, targets

ROOT = Path(__file__).resolve().parent.parent
RUNS = 4000


def test_atheris_is_there_where_it_has_a_wheel():
    # The dev extra installs it on x86-64; elsewhere the runner falls back to hypothesis.
    if platform.machine() == "x86_64":
        assert runner.atheris is not None, "pip install -e '.[dev]' (atheris)"


def test_every_harness_has_a_name_and_seeds():
    assert set(runner.NAMES) == set(targets.TARGETS) == set(seeds.SEEDS)


@pytest.mark.parametrize("name", runner.NAMES)
def test_seeds_pass_their_harness(name):
    found = seeds.SEEDS[name]()
    assert found
    for seed in found:
        targets.TARGETS[name](seed)


def test_a_harness_lets_through_only_the_documented_error(monkeypatch):
    """A decoder raising anything but its own error is a crash the harness reports."""
    from appliance.domain import mrz

    def broken(text, today=None):
        raise IndexError("a decoder bug")

    monkeypatch.setattr(mrz, "parse", broken)
    with pytest.raises(IndexError):
        targets.mrz_parse(b"P<UTO")


@pytest.mark.parametrize("name", runner.NAMES)
def test_bounded_fuzz_run_finds_no_crash(name, tmp_path):
    done = subprocess.run([sys.executable, "-m", "tests.fuzz.runner", name, "--runs", str(RUNS),
                           "--artifacts", str(tmp_path)], cwd=ROOT, capture_output=True, text=True, timeout=600)
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-4000:]
    assert not list(tmp_path.glob("crash-*")), output[-4000:]
    if runner.atheris is not None:
        # Coverage-guided for real: the instrumented decoders report edges, and the corpus grew.
        final = re.findall(r"DONE\s+cov: (\d+) ft: \d+ corp: (\d+)/", output)
        assert final, output[-2000:]
        coverage, corpus = map(int, final[-1])
        assert coverage > 20 and corpus >= len(seeds.SEEDS[name]()), output[-2000:]
