"""Run a fuzz target: coverage-guided with atheris when it is installed, else (or with
``--engine mutate``) a seeded mutation loop in plain Python.

    python fuzz/run.py decode --runs 300 --seed 1        # what CI runs (tests/test_fuzz.py)
    python fuzz/run.py api --runs 300 --seed 1
    python fuzz/run.py decode --runs 0 -- -max_total_time=3600 fuzz/corpus/decode   # a long run

``--runs 0`` runs until stopped (or until libFuzzer's own limits, passed after ``--``).
A finding is written to ``crash-<sha1>`` in the current folder (libFuzzer's format with
atheris, the same name with the mutation loop) and the exit code is non-zero; replay it
with ``python fuzz/run.py TARGET --replay FILE``.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import random
import sys
import tempfile
import traceback
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

# Interesting values for byte mutations, as fuzzers commonly use.
_INTERESTING = [0, 1, 0x7F, 0x80, 0xFF, 0x10, 0x20, 0x40, 0x64]


def mutate(rng: random.Random, data: bytes, corpus: list[bytes]) -> bytes:
    """One to four random edits: flip a bit, set a byte, insert or delete bytes, splice."""
    out = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        kind = rng.randrange(6)
        pos = rng.randrange(len(out) + 1)
        if kind == 0 and out:
            out[pos % len(out)] ^= 1 << rng.randrange(8)
        elif kind == 1 and out:
            out[pos % len(out)] = rng.choice(_INTERESTING)
        elif kind == 2:
            out[pos:pos] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 8)))
        elif kind == 3 and out:
            del out[pos : pos + rng.randint(1, 16)]
        elif kind == 4:
            other = rng.choice(corpus)
            start = rng.randrange(len(other) + 1)
            out[pos:] = other[start:]
        elif kind == 5 and out:
            del out[rng.randrange(len(out)) :]  # truncation: the commonest real corruption
    return bytes(out)


def run_mutation_loop(target, seeds: list[bytes], runs: int, seed: int) -> int:
    rng = random.Random(seed)
    corpus = list(seeds)
    count = 0
    while runs == 0 or count < runs:
        data = corpus[count] if count < len(corpus) else mutate(rng, rng.choice(corpus), corpus)
        count += 1
        try:
            target(data)
        except Exception:  # every escaping exception is a finding
            path = Path(f"crash-{hashlib.sha1(data).hexdigest()}")
            path.write_bytes(data)
            traceback.print_exc()
            print(f"finding after {count} inputs: {path}", file=sys.stderr)
            return 1
        if len(corpus) < 512 and rng.random() < 0.05:
            corpus.append(data)  # no coverage here: keep a few mutants to go deeper
    print(f"{count} inputs, no finding (mutation loop, seed {seed})")
    return 0


def run_atheris(name: str, runs: int, seed: int, extra: list[str]) -> int:
    import atheris
    import numpy  # noqa: F401 - imported uninstrumented: its coverage is noise here

    # Python coverage of quantcli and of Pillow's decoders guides the search; the C++
    # core is not instrumented (gcc has no -fsanitize=fuzzer), so it is fuzzed blind.
    with atheris.instrument_imports(include=["quantcli", "PIL", "targets"]):
        import targets
    target = targets.TARGETS[name]
    seeds = targets.seed_inputs(name)
    corpus_dirs = [a for a in extra if not a.startswith("-")]
    flags = [a for a in extra if a.startswith("-")]
    with tempfile.TemporaryDirectory() as scratch:
        # Always from the seeds too (an empty corpus folder would start from nothing);
        # libFuzzer adds new inputs to the first folder: the caller's, else the scratch one.
        for i, data in enumerate(seeds):
            Path(scratch, f"seed-{i}").write_bytes(data)
        corpus_dirs = [*corpus_dirs, scratch]
        argv = [sys.argv[0], f"-seed={seed}", *([f"-runs={runs}"] if runs else []), *flags, *corpus_dirs]
        atheris.Setup(argv, target)
        atheris.Fuzz()  # exits the process: 0 when no finding
    return 0


TARGET_NAMES = ("api", "decode")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("target", choices=TARGET_NAMES)
    parser.add_argument("--runs", type=int, default=300, help="inputs to try; 0: until stopped")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--engine", choices=["auto", "atheris", "mutate"], default="auto")
    parser.add_argument("--replay", type=Path, help="run one saved input and show the error")
    parser.add_argument("libfuzzer", nargs="*", help="after --: libFuzzer flags and corpus folders (atheris)")
    # Intermixed: "decode --runs 0 -- -max_total_time=60 DIR" would leave the libFuzzer
    # arguments unparsed (argparse fills the empty nargs="*" list before "--runs").
    args = parser.parse_intermixed_args()
    engine = args.engine
    if engine == "auto":
        try:
            import atheris  # noqa: F401
        except ImportError:
            engine = "mutate"
        else:
            # Under tools/sanitize.sh, gcc's preloaded libasan defines the coverage hooks
            # libFuzzer registers with, so atheris would run blind: use the loop instead.
            engine = "mutate" if "libasan" in os.environ.get("LD_PRELOAD", "") else "atheris"
    if engine == "atheris" and not args.replay:
        return run_atheris(args.target, args.runs, args.seed, args.libfuzzer)
    import targets

    assert set(targets.TARGETS) == set(TARGET_NAMES)
    if args.replay:
        targets.TARGETS[args.target](args.replay.read_bytes())
        print("no finding")
        return 0
    return run_mutation_loop(targets.TARGETS[args.target], targets.seed_inputs(args.target), args.runs, args.seed)


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")
    sys.exit(main())
