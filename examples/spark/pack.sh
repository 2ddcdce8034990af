#!/usr/bin/env bash
# Build quantcli's manylinux wheel and the archive of Python that Spark's executors run
# (spark-submit --archives). Run it from the source tree with the dist extra installed:
#
#   pip install '.[dist]' && examples/spark/pack.sh [OUT]        (OUT: dist by default)
#
# It writes OUT/quantcli-*-manylinux_*.whl and OUT/quantcli-executor.tar.gz. The archive
# holds quantcli and the executor extra (pyarrow, pandas, fsspec) but not PySpark, which
# the cluster's Spark provides. Its python is a link to the interpreter the venv was made
# from (venv-pack's way): the executors need that Python at the same path, or give
# venv-pack --python-prefix.
set -euo pipefail
out=${1:-dist}
python=${PYTHON:-python3}

rm -rf "$out/build" "$out/executor-env"
"$python" -m pip wheel . --no-deps -w "$out/build"
"$python" -m auditwheel repair "$out"/build/quantcli-*.whl -w "$out"
wheel=$(ls -t "$out"/quantcli-*manylinux*.whl | head -n 1)

"$python" -m venv "$out/executor-env"
"$out/executor-env/bin/python" -m pip install --quiet "$wheel[executor]"
rm -f "$out/quantcli-executor.tar.gz"
"$python" -m venv_pack --quiet --prefix "$out/executor-env" --output "$out/quantcli-executor.tar.gz"
chmod 644 "$out/quantcli-executor.tar.gz"
rm -rf "$out/build" "$out/executor-env"
ls -l "$wheel" "$out/quantcli-executor.tar.gz"
