#!/bin/sh
# Installs everything the test suite needs on a fresh Debian machine (run as root):
# the PPP peer (pppd, chat), the Debian kernel and qemu that run pppd in a VM,
# tshark to decode captures, iproute2/ping for the namespace tests, and the
# project itself with its Python test dependencies.
set -eu
cd "$(dirname "$0")/.."
if command -v apt-get >/dev/null 2>&1; then
    export DEBIAN_FRONTEND=noninteractive
    pkgs="ppp linux-image-amd64 qemu-system-x86 busybox-static tshark iproute2 iputils-ping
          procps kmod xz-utils zstd cpio libusb-1.0-0 udev systemd"
    missing=""
    for p in $pkgs; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" \
            || missing="$missing $p"
    done
    if [ -n "$missing" ]; then
        apt-get update -qq
        apt-get install -y -qq --no-install-recommends $missing >/dev/null
    fi
fi
python3 -m pip install -q --disable-pip-version-check -e '.[test]'
