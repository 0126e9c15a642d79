#!/bin/sh
# Install wanctl's udev rules into /etc/udev/rules.d and make udev apply them
# (udevadm control --reload, udevadm trigger, udevadm settle).  Run as root:
#
#   sudo sh udev/install.sh                          # the rules
#   sudo sh udev/install.sh --autostart 0403:6001:A1B2C3D4   # + start a link on plug-in
#   sudo sh udev/install.sh --uninstall
#
# The work is done by hw/udev_install.py (also `wanctl udev-install`).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
repo=$(dirname "$here")
WANCTL_UDEV_DIR=$here PYTHONPATH="$repo${PYTHONPATH:+:$PYTHONPATH}" \
    exec "${PYTHON:-python3}" -m hw.udev_install "$@"
