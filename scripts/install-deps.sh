#!/usr/bin/env bash
# Installs everything Glasshouse needs to build, test and benchmark on Debian 12 (bookworm).
# The packages are listed in scripts/deps/*.txt, one file per area (base, and each feature's
# test daemons and consumers), so that areas add what they need without touching each other.
# Runs apt-get as root, or through sudo when started by another user.
set -euo pipefail
cd "$(dirname "$0")"

mapfile -t packages < <(sed 's/#.*//' deps/*.txt | tr -s ' \t' '\n' | sed '/^$/d' | sort -u)
# Extra packages asked for by hand (benchmarks) are added too.
packages+=(${GLASSHOUSE_EXTRA_PACKAGES:-})

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing: ${missing[*]}"
  as_root apt-get update -q
  # Daemons installed for the tests must not start (and hold ports) on their own: the tests
  # start them in their namespaces. policy-rc.d refuses every start during this install.
  policy=/usr/sbin/policy-rc.d
  had_policy=0; [ -e "$policy" ] && had_policy=1
  if [ "$had_policy" -eq 0 ]; then
    printf '#!/bin/sh\nexit 101\n' | as_root tee "$policy" >/dev/null
    as_root chmod 0755 "$policy"
  fi
  rc=0
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" || rc=$?
  [ "$had_policy" -eq 1 ] || as_root rm -f "$policy"
  exit "$rc"
fi
