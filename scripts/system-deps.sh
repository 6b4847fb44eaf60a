#!/usr/bin/env bash
# Installs the Debian packages the test and demo commands need, only when missing.
set -euo pipefail

needed=()
probe=$(mktemp -d)
python3 -m venv "$probe/venv" >/dev/null 2>&1 || needed+=(python3-venv)
rm -rf "$probe"
command -v git >/dev/null 2>&1 || needed+=(git)
command -v shellcheck >/dev/null 2>&1 || needed+=(shellcheck)
# The node service and its tests: nvme-cli, filesystems, loop devices, kernel modules.
command -v nvme >/dev/null 2>&1 || needed+=(nvme-cli)
command -v mkfs.xfs >/dev/null 2>&1 || needed+=(xfsprogs)
command -v mkfs.ext4 >/dev/null 2>&1 || needed+=(e2fsprogs)
command -v losetup >/dev/null 2>&1 || needed+=(mount)
command -v modprobe >/dev/null 2>&1 || needed+=(kmod)
# The SSH tests: an OpenSSH jump host (sshd), a real ssh-agent, ssh-add and ssh-keygen.
[ -x /usr/sbin/sshd ] || needed+=(openssh-server)
command -v ssh-agent >/dev/null 2>&1 && command -v ssh-keygen >/dev/null 2>&1 || needed+=(openssh-client)
# The metrics tests: a real Prometheus server to scrape the driver, and promtool to check its output.
command -v prometheus >/dev/null 2>&1 && command -v promtool >/dev/null 2>&1 || needed+=(prometheus)

if [ "${#needed[@]}" -gt 0 ]; then
    if [ "$(id -u)" -ne 0 ]; then
        echo "Missing Debian packages: ${needed[*]}. Run as root or install them with apt-get." >&2
        exit 1
    fi
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${needed[@]}"
fi
