#!/usr/bin/env bash
# Install numaopt into a virtual environment in this checkout (.venv), creating it when
# absent. A stock Debian 12 refuses `pip install` into its own Python (PEP 668,
# "externally-managed-environment"), so nothing is installed outside .venv; Debian's
# python3-venv (and python3 itself, when there is none) is installed with apt-get (with
# sudo when not root) when `python3 -m venv` cannot work without it. The venv is made by
# the first python3 on PATH.
#
#   bash scripts/setup.sh          numaopt and its dependencies
#   bash scripts/setup.sh test     the same plus the test extras (pytest, ruff, mypy, ...)
#
# Installs again only when pyproject.toml changed since the last success (or the checkout
# moved).
set -euo pipefail
cd "$(dirname "$0")/.."

extras="${1:-}"
case "$extras" in
  "" | test | plot | fast | dask) ;;
  *) echo "scripts/setup.sh: unknown extras '$extras' (valid: test, plot, fast, dask, or none)" >&2; exit 2 ;;
esac
venv=.venv

as_root() {
  if [ "$(id -u)" -eq 0 ]; then
    "$@"
  elif command -v sudo >/dev/null 2>&1; then
    sudo "$@"
  else
    echo "scripts/setup.sh: need root for '$*' and there is no sudo: run that as root, then this script again" >&2
    exit 1
  fi
}

# Debian splits venv's pip bootstrap (ensurepip) into python3.X-venv: without it
# `python3 -m venv` stops with "ensurepip is not available".
packages=()
if ! command -v python3 >/dev/null 2>&1; then
  packages+=(python3 python3-venv)
elif ! [ -x "$venv/bin/python" ] && ! python3 -c 'import ensurepip, venv' >/dev/null 2>&1; then
  packages+=(python3-venv)
fi
if ((${#packages[@]})); then
  if ! command -v apt-get >/dev/null 2>&1; then
    echo "scripts/setup.sh: cannot make a virtual environment (missing: ${packages[*]}) and there is no apt-get: install Python >= 3.11 with its venv module" >&2
    exit 1
  fi
  echo "installing Debian packages: ${packages[*]}"
  as_root apt-get update -q
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${packages[@]}"
fi

if ! python3 -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
  echo "scripts/setup.sh: numaopt needs Python >= 3.11; python3 on PATH is $(python3 -V 2>&1)" >&2
  exit 1
fi

# A venv whose interpreter no longer runs (its Python was removed or upgraded) is remade.
if ! "$venv/bin/python" -c 'import sys' >/dev/null 2>&1; then
  echo "creating the virtual environment $venv with $(command -v python3) ($(python3 -V 2>&1))"
  python3 -m venv --clear "$venv"
fi

# One stamp per extra: the pyproject.toml and the checkout it was installed from. Any
# install satisfies a plain one.
want="$(sha256sum pyproject.toml | cut -d' ' -f1) $(pwd -P)"
if [ -z "$extras" ]; then
  target=. name=base
  for stamp in "$venv"/.numaopt-installed-*; do
    [ "$(cat "$stamp" 2>/dev/null)" != "$want" ] || exit 0
  done
else
  target=".[$extras]" name=$extras
  [ "$(cat "$venv/.numaopt-installed-$name" 2>/dev/null)" != "$want" ] || exit 0
fi
echo "installing numaopt ($target) into $venv"
"$venv/bin/python" -m pip install -q --disable-pip-version-check -e "$target"
printf '%s\n' "$want" >"$venv/.numaopt-installed-$name"
