#!/usr/bin/env bash
# mypy --strict on numaopt WITHOUT its optional extras (numba, dask, matplotlib): the code
# must type-check whether or not a user installed them, with no `type: ignore` that only
# one of the two environments needs. Uses a second virtual environment, .venv-bare, with
# numaopt's required dependencies and the same mypy as .venv (made once; remade when
# pyproject.toml or that mypy changes). Run by scripts/test.sh after scripts/setup.sh test.
set -euo pipefail
cd "$(dirname "$0")/.."

venv=.venv-bare
mypy_version="$(.venv/bin/python -m mypy --version | awk '{print $2}')"
want="$(sha256sum pyproject.toml | cut -d' ' -f1) $(pwd -P) mypy==$mypy_version"
if ! "$venv/bin/python" -c 'import sys' >/dev/null 2>&1; then
  python3 -m venv --clear "$venv"
fi
if [ "$(cat "$venv/.numaopt-installed" 2>/dev/null)" != "$want" ]; then
  echo "installing numaopt (no extras) and mypy $mypy_version into $venv"
  "$venv/bin/python" -m pip install -q --disable-pip-version-check -e . "mypy==$mypy_version"
  printf '%s\n' "$want" >"$venv/.numaopt-installed"
fi
"$venv/bin/python" -m mypy numaopt
