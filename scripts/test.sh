#!/usr/bin/env bash
# Install everything the tests need (Debian packages when missing, pip extras), then run
# the linters and the whole test suite. Extra arguments go to pytest.
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
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

python3 -m pip install -q --disable-pip-version-check -e '.[test]'
python3 -m ruff check numaopt tests benchmarks
python3 -m mypy numaopt
python3 -m pytest "$@"
