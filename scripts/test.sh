#!/usr/bin/env bash
# Install everything the tests need (Debian packages when missing; numaopt with its test
# extras into the checkout's virtual environment .venv, by scripts/setup.sh), then run
# the linters and the whole test suite with the venv's Python. Extra arguments go to
# pytest.
set -euo pipefail
cd "$(dirname "$0")/.."

declare -A needs=(
  [qemu-system-x86_64]=qemu-system-x86
  [qemu-system-aarch64]=qemu-system-arm
  [lstopo-no-graphics]=hwloc
  [virt-xml-validate]=libvirt-clients
  [xmllint]=libxml2-utils
  [busybox]=busybox-static
)
missing=()
for tool in "${!needs[@]}"; do
  command -v "$tool" >/dev/null 2>&1 || missing+=("${needs[$tool]}")
done
# libvirt's QEMU driver (a library, no command): tests turn domains into QEMU command lines with it.
dpkg -s libvirt-daemon-driver-qemu >/dev/null 2>&1 || missing+=(libvirt-daemon-driver-qemu)
if ((${#missing[@]})); then
  echo "installing Debian packages: ${missing[*]}"
  sudo_cmd=()
  [ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
  "${sudo_cmd[@]}" apt-get update -q
  # through env: sudo drops the caller's environment
  "${sudo_cmd[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

bash scripts/setup.sh test
python=.venv/bin/python
"$python" -m ruff check numaopt tests benchmarks
"$python" -m mypy numaopt
bash scripts/typecheck-bare.sh  # and without the optional extras
"$python" -m pytest "$@"
