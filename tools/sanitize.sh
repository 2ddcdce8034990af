#!/usr/bin/env bash
# Builds the C++ core with AddressSanitizer and UndefinedBehaviorSanitizer (gcc) into a
# venv of its own, then runs the core tests, the PNG tests and the fuzz harness under it.
# Exits non-zero on any sanitizer report (ASan stops the process; UBSan is built not to
# recover) and on any failing test.
#
#   tools/sanitize.sh                     # what CI runs: a few minutes on 2 cores
#   tools/sanitize.sh --fuzz-runs 200000  # plus a longer fuzz of each target
#
# Needs: g++ (with libasan/libubsan, as Debian's gcc ships them), zlib1g-dev, python3-venv.
# The build and the venv live in build/sanitize (SANITIZE_DIR to change it); a second run
# reuses them and only rebuilds what changed.
set -euo pipefail
cd "$(dirname "$0")/.."
repo="$PWD"

fuzz_runs=0
while [[ $# -gt 0 ]]; do
  case "$1" in
    --fuzz-runs) fuzz_runs="$2"; shift 2 ;;
    *) echo "usage: tools/sanitize.sh [--fuzz-runs N]" >&2; exit 2 ;;
  esac
done

work="${SANITIZE_DIR:-$PWD/build/sanitize}"
mkdir -p "$work"
if [[ ! -x "$work/venv/bin/python" ]]; then
  python3 -m venv "$work/venv"
fi
# shellcheck disable=SC1091
. "$work/venv/bin/activate"
# The runtime and fuzz dependencies as pyproject.toml lists them, then the sanitized
# build of quantcli itself (not editable: it lives in this venv only; no LTO, which would
# only slow the build down).
python - > "$work/requirements.txt" <<'PY'
import tomllib

project = tomllib.load(open("pyproject.toml", "rb"))["project"]
print("\n".join(project["dependencies"] + project["optional-dependencies"]["fuzz"]))
PY
python -m pip install -q scikit-build-core pybind11 pytest hypothesis -r "$work/requirements.txt"
python -m pip install -q --no-build-isolation --force-reinstall --no-deps \
  -Cbuild-dir="$work/cmake" \
  -Ccmake.define.QUANTCLI_SANITIZE=ON \
  -Ccmake.define.CMAKE_INTERPROCEDURAL_OPTIMIZATION=OFF \
  .

libasan="$(g++ -print-file-name=libasan.so)"
# Found without importing it: that needs the runtime preloaded, below.
module="$(python -c 'import glob, sysconfig; print(*glob.glob(sysconfig.get_paths()["platlib"] + "/quantcli/_core.*.so"))')"
if [[ "$(ldd "$module")" != *libasan* ]]; then
  echo "sanitize: $module is not built with AddressSanitizer" >&2
  exit 1
fi

# Python is not built with ASan, so the runtime must be loaded first, and libstdc++ with
# it, or ASan cannot find the real __cxa_throw when the core throws. Python's own
# allocations are never freed at exit, hence no leak check.
export LD_PRELOAD="$libasan $(g++ -print-file-name=libstdc++.so)"
export ASAN_OPTIONS="detect_leaks=0:halt_on_error=1:abort_on_error=0:exitcode=86"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
export PYTHONFAULTHANDLER=1

# The tests import quantcli from this venv, not from the source tree.
# --capture=sys: a sanitizer report goes to the real stderr, not into a capture file.
python -m pytest -q -p no:cacheprovider --capture=sys tests/test_core.py tests/test_png.py tests/test_plain_png.py tests/test_fuzz.py
if [[ "$fuzz_runs" -gt 0 ]]; then
  for target in decode api; do
    # Findings (crash-*) are written to the build folder.
    (cd "$work" && python "$repo/fuzz/run.py" "$target" --runs "$fuzz_runs" --seed 1)
  done
fi
echo "sanitize: no sanitizer report"
