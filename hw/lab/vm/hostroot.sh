#!/bin/sh
# hostroot.sh ROOT: run by the command agent (busybox, in the initramfs).
# Makes ROOT the host's own root filesystem, shared read-only by qemu over
# 9p (mount tag "hostroot"), under a tmpfs overlay so the guest may write
# anywhere (rules in /etc/udev, lock files, __pycache__) and the host stays
# untouched.  The kernel filesystems are mounted inside it for chroot use.
set -eu
root=${1:-/newroot}
mkdir -p /mnt/host /mnt/rw "$root"
# cache=loose: the share does not change under a test, and Python's imports
# over 9p are many small reads that the page cache then serves.
mount -t 9p -o trans=virtio,version=9p2000.L,ro,msize=262144,cache=loose hostroot /mnt/host
mount -t tmpfs -o mode=0755 tmpfs /mnt/rw
mkdir -p /mnt/rw/upper /mnt/rw/work
mount -t overlay -o lowerdir=/mnt/host,upperdir=/mnt/rw/upper,workdir=/mnt/rw/work overlay "$root"
mount -t proc proc "$root/proc"
mount -t sysfs sysfs "$root/sys"
mount -t devtmpfs devtmpfs "$root/dev"
mkdir -p "$root/dev/pts" "$root/dev/shm"
mount -t devpts -o ptmxmode=0666 devpts "$root/dev/pts"
mount -t tmpfs -o mode=0755 tmpfs "$root/run"
# /tmp is left as the overlay shows it (writable, from the tmpfs upper layer):
# a fresh tmpfs there would hide a checkout that lives under the host's /tmp.
mount -t debugfs debugfs "$root/sys/kernel/debug" 2>/dev/null || true
# Debian's /var/lock points into /run: UUCP lock files must have a home.
mkdir -p "$root/run/lock" "$root/run/udev"
# The kernel's request_module() runs its helper in the initramfs, which has
# no module tree; send it into the chroot (g_serial asks for usb_f_acm).
printf '#!/bin/sh\nexec chroot %s /sbin/modprobe "$@"\n' "$root" >/sbin/modprobe-chroot
chmod 755 /sbin/modprobe-chroot
echo /sbin/modprobe-chroot >/proc/sys/kernel/modprobe
echo "hostroot: $root ready"
