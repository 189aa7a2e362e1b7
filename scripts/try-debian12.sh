#!/usr/bin/env bash
# Try README command 1 on a fresh Debian 12 (bookworm, debootstrap --variant=minbase: no
# python3 at all) in a chroot, from a clone of this checkout's committed state: first as
# root, then as a user with sudo on a system that has python3 but not python3-venv.
# Needs root (debootstrap, chroot), network to deb.debian.org and PyPI, about 700 MB.
#
#   sudo bash scripts/try-debian12.sh [WORKDIR]     (WORKDIR is kept; a temporary one is removed)
#
# debootstrap is used from Debian's package unpacked into WORKDIR when it is not
# installed. PIP_CERT, when set here (a proxy with its own CA), is copied into the chroot.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$(id -u)" -ne 0 ]; then
  echo "scripts/try-debian12.sh: needs root (debootstrap and chroot)" >&2
  exit 1
fi
command="$(grep -m1 '^bash scripts/setup.sh && ' README.md)" ||
  { echo "scripts/try-debian12.sh: README.md has no 'bash scripts/setup.sh && ...' command" >&2; exit 1; }
if [ $# -ge 1 ]; then
  work="$1"
  mkdir -p "$work"
else
  work="$(mktemp -d /tmp/numaopt-debian12.XXXXXX)"
  trap 'rm -rf "$work"' EXIT
fi
root="$work/root"

debootstrap=(debootstrap)
if ! command -v debootstrap >/dev/null 2>&1; then
  (cd "$work" && apt-get download -q debootstrap >/dev/null 2>&1 && dpkg -x debootstrap_*.deb tools)
  debootstrap=(env DEBOOTSTRAP_DIR="$work/tools/usr/share/debootstrap" "$work/tools/usr/sbin/debootstrap")
fi
echo "debootstrap --variant=minbase bookworm into $root"
"${debootstrap[@]}" --variant=minbase bookworm "$root" http://deb.debian.org/debian >"$work/debootstrap.log" 2>&1
cp /etc/resolv.conf "$root/etc/resolv.conf"
pip_env=()
if [ -n "${PIP_CERT:-}" ]; then
  cp "$PIP_CERT" "$root/etc/pip-cert.pem"
  pip_env=(PIP_CERT=/etc/pip-cert.pem)
fi

# run USER HOME: README command 1 in HOME/numaopt inside the chroot, with a clean environment.
run() {
  local user=$1 home=$2
  git clone -q . "$root$home/numaopt"
  chroot "$root" chown -R "$user:" "$home/numaopt"
  echo "as $user: $command"
  chroot "$root" /usr/bin/setpriv --reuid "$user" --regid "$user" --init-groups \
    /usr/bin/env -i PATH=/usr/local/bin:/usr/bin:/bin HOME="$home" "${pip_env[@]}" \
    /bin/bash -c "cd ~/numaopt && $command" >"$work/$user.log" 2>&1 && status=0 || status=$?
  grep -E '^(installing|creating) ' "$work/$user.log" | sed 's/^/  /' || true
  echo "  exit $status; $(grep -c '^    -numa ' "$work/$user.log" || true) -numa options printed (log: $work/$user.log)"
  return "$status"
}

chroot "$root" sh -c 'command -v python3 || echo "no python3 in the chroot"' | sed 's/^/  /'
run root /root
# A user with sudo, on a system with python3 but without python3-venv (Debian's default).
chroot "$root" /usr/bin/env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends sudo >/dev/null 2>&1
chroot "$root" /usr/bin/env DEBIAN_FRONTEND=noninteractive apt-get purge -y -q python3-venv python3.11-venv >/dev/null 2>&1
chroot "$root" useradd -m tester
echo "tester ALL=(ALL) NOPASSWD: ALL" >"$root/etc/sudoers.d/tester"
run tester /home/tester
