#!/usr/bin/env bash
# Installs what building and testing mpprof needs, from Debian/Ubuntu
# packages only, and only what is missing.  Safe to run repeatedly.
set -euo pipefail

pkgs=(build-essential cmake pkg-config libzmq3-dev libmsgpack-dev
      python3 python3-dev valgrind clang)
# libFuzzer's runtime moved packages between releases; take what exists.
if apt-cache show libclang-rt-dev >/dev/null 2>&1; then
    pkgs+=(libclang-rt-dev)
fi

missing=()
for p in "${pkgs[@]}"; do
    dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
    exit 0
fi

sudo=""
if [ "$(id -u)" -ne 0 ]; then
    sudo="sudo"
fi
echo "mpprof: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
