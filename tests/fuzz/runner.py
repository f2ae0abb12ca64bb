"""Run one fuzz harness: ``python -m tests.fuzz.runner TARGET [--runs N | --seconds S] [--corpus DIR]``.

With atheris (x86-64; the dev extra) the run is coverage-guided: the project's modules are
instrumented as they are imported and libFuzzer mutates the seed corpus (valid inputs of
each kind, written by ``seeds``) towards new branches. A crash prints the traceback, saves
the input as ``crash-<sha1>`` under ``--artifacts`` and exits non-zero; replay it with
``python -m tests.fuzz.runner TARGET --replay FILE``. Where atheris has no wheel (aarch64)
the same harness runs under hypothesis, seeded and mutated from the same corpus; not
coverage-guided, but the same checks.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

try:
    import atheris
except ImportError:  # no wheel for this platform: see the module docstring
    atheris = None


NAMES = ("mrz", "mrz-framing", "r30x", "envelope", "bundle", "csv")


def _mutated(seeds: list[bytes]):
    from hypothesis import strategies as st

    def apply(args: tuple[bytes, list[tuple[int, int]], bytes]) -> bytes:
        seed, flips, tail = args
        data = bytearray(seed)
        for position, value in flips:
            if data:
                data[position % len(data)] = value
        return bytes(data) + tail

    return st.one_of(
        st.binary(max_size=2048),
        st.tuples(st.sampled_from(seeds), st.lists(st.tuples(st.integers(0, 1 << 16), st.integers(0, 255)),
                                                   max_size=8), st.binary(max_size=16)).map(apply),
    )


def run_hypothesis(name: str, runs: int) -> None:
    from hypothesis import HealthCheck, given, settings

    from tests.fuzz import seeds, targets

    target = targets.TARGETS[name]

    @settings(max_examples=runs, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    @given(_mutated(seeds.SEEDS[name]()))
    def fuzz(data: bytes) -> None:
        target(data)

    fuzz()


def run_atheris(name: str, libfuzzer_args: list[str], corpus: Path) -> None:
    assert atheris is not None
    with atheris.instrument_imports(include=["appliance", "hq", "tests.fuzz"]):
        from tests.fuzz import seeds, targets
    seeds.write(name, corpus)
    atheris.Setup([sys.argv[0], *libfuzzer_args, str(corpus)], targets.TARGETS[name])
    atheris.Fuzz()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m tests.fuzz.runner", description=__doc__.split("\n")[0])
    parser.add_argument("target")
    parser.add_argument("--runs", type=int, help="stop after this many inputs")
    parser.add_argument("--seconds", type=int, help="stop after this long")
    parser.add_argument("--corpus", type=Path, help="corpus directory, kept between runs (default: a temporary one)")
    parser.add_argument("--artifacts", type=Path, default=Path("."), help="where crash-* inputs are written")
    parser.add_argument("--replay", type=Path, help="run the harness once on this file (a saved crash)")
    args = parser.parse_args(argv)
    # The names only: importing the harnesses here would import the project's modules before
    # atheris can instrument them, and the fuzzer would run blind.
    if args.target not in NAMES:
        parser.error(f"unknown target {args.target!r}; one of {', '.join(NAMES)}")
    if args.replay:
        from tests.fuzz.targets import TARGETS

        TARGETS[args.target](args.replay.read_bytes())
        print(f"{args.replay}: no crash")
        return
    if atheris is None:
        run_hypothesis(args.target, args.runs or 2000)
        return
    libfuzzer = ["-max_len=8192", f"-artifact_prefix={args.artifacts}/", "-print_final_stats=1"]
    if args.runs:
        libfuzzer.append(f"-runs={args.runs}")
    if args.seconds:
        libfuzzer.append(f"-max_total_time={args.seconds}")
    if args.corpus:
        args.corpus.mkdir(parents=True, exist_ok=True)
        run_atheris(args.target, libfuzzer, args.corpus)
    else:
        with tempfile.TemporaryDirectory(prefix=f"fuzz-{args.target}-") as tmp:
            run_atheris(args.target, libfuzzer, Path(tmp))


if __name__ == "__main__":
    main()
