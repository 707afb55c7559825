#!/usr/bin/env bash
# The GPU check on a lent GPU machine that has JAX (and PyTorch) but no TensorFlow, no Loom
# dependencies and no internet: installs the wheels in .whl/ that the machine lacks into
# /tmp/site, then runs bench/gpu_check.py on the JAX backend. Its log goes under $OUT.
#
#   bash bench/gpu_check_device.sh [gpu_check.py options]     (from the repository root)
#
# .whl/ is git-ignored: carry it along (`carry: [".whl"]`). Arguments go to gpu_check.py;
# KERAS_BACKEND=torch picks PyTorch instead.
set -uo pipefail
OUT=${OUT:-/tmp/gpu-check-out}
PY=${PYTHON:-python3}
SITE=${SITE:-/tmp/site}
mkdir -p "$OUT" "$SITE"
echo "python: $($PY --version 2>&1)"

# A support wheel (typing_extensions, pillow...) whose distribution is already installed is
# skipped, so nothing preinstalled is shadowed by another version from $SITE; Loom's pinned
# dependencies are installed unless that very version is already there.
wheels=$($PY - <<'EOF'
import glob
import importlib.metadata as md
import os
import sys

PINNED = {"keras", "dask", "distributed", "sqlalchemy", "alembic"}
for path in sorted(glob.glob(".whl/*.whl")):
    name, version = os.path.basename(path).split("-")[:2]
    try:
        installed = md.version(name)
    except md.PackageNotFoundError:
        installed = None
    if installed and (name.lower() not in PINNED or installed == version):
        print(f"skip {name} {version}: {installed} is installed", file=sys.stderr)
    else:
        print(path)
EOF
)
if [ -z "$wheels" ] && ! ls .whl/*.whl >/dev/null 2>&1; then
    echo "no wheels in .whl/: carry .whl along with the working tree" >&2
fi
if [ -n "$wheels" ]; then
    # shellcheck disable=SC2086  # one path per word
    if $PY -m pip --version >/dev/null 2>&1; then
        $PY -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
            --target "$SITE" $wheels 2>&1 | tee "$OUT/pip.log"
    else  # no pip: these wheels install by unpacking (no scripts or data that the check needs)
        $PY -c 'import sys, zipfile; [zipfile.ZipFile(w).extractall(sys.argv[1]) for w in sys.argv[2:]]' \
            "$SITE" $wheels
    fi
fi
export PYTHONPATH="$SITE:$PWD"
export KERAS_BACKEND=${KERAS_BACKEND:-jax}
nvidia-smi -L 2>&1 | tee "$OUT/nvidia-smi.txt"
$PY -c 'import keras, dask, distributed, sqlalchemy, alembic, PIL; print("imports ok:", keras.__version__,
dask.__version__, sqlalchemy.__version__, alembic.__version__, PIL.__version__)' 2>&1 | tee "$OUT/imports.txt"

OUT="$OUT" timeout "${GPU_CHECK_TIMEOUT:-300}" $PY bench/gpu_check.py "$@" 2>&1 | tee "$OUT/gpu_check.log"
exit "${PIPESTATUS[0]}"
