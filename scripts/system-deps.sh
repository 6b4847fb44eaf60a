#!/usr/bin/env bash
# Installs the Debian packages the test and demo commands need, only when missing.
set -euo pipefail

needed=()
probe=$(mktemp -d)
python3 -m venv "$probe/venv" >/dev/null 2>&1 || needed+=(python3-venv)
rm -rf "$probe"
command -v git >/dev/null 2>&1 || needed+=(git)
command -v shellcheck >/dev/null 2>&1 || needed+=(shellcheck)

if [ "${#needed[@]}" -gt 0 ]; then
    if [ "$(id -u)" -ne 0 ]; then
        echo "Missing Debian packages: ${needed[*]}. Run as root or install them with apt-get." >&2
        exit 1
    fi
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${needed[@]}"
fi
