#!/usr/bin/env bash
# Installs everything Glasshouse needs to build, test and benchmark on Debian 12 (bookworm).
# Runs apt-get as root, or through sudo when started by another user.
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config clang-format
  libfmt-dev libcli11-dev libtomlplusplus-dev libssl-dev libpcap-dev libnftables-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  iproute2 nftables python3 python3-yaml procps
  nmap tcpdump masscan
)
# Extra packages a module asks for (the watch lab tests, benchmarks) are listed here too.
packages+=(${GLASSHOUSE_EXTRA_PACKAGES:-})

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing: ${missing[*]}"
  as_root apt-get update -q
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
