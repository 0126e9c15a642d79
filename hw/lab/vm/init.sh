#!/bin/sh
# PID 1 of the wanctl interop VM (an initramfs, no disk).
# Mounts the kernel filesystems, loads the PPP and virtio modules, then
# hands over to busybox init, which reaps orphans and keeps the command
# agent (agent.sh) running on the virtio control port.
. /etc/wanctl-vm/env
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mkdir -p /dev/pts /dev/shm
mount -t devpts -o ptmxmode=0666 devpts /dev/pts
mount -t tmpfs -o mode=0755 tmpfs /run
mkdir -p /run/wanctl
while read -r module; do
    insmod "/lib/modules/wanctl/$module" || echo "wanctl-vm: insmod $module failed"
done </etc/wanctl-vm/modules
# devtmpfs creates /dev/ppp when ppp_generic registers; older setups may not.
[ -c /dev/ppp ] || mknod -m 600 /dev/ppp c 108 0
hostname wanctl-vm
ip link set lo up
echo "wanctl-vm: init done, modules: $(cut -d' ' -f1 /proc/modules | tr '\n' ' ')"
exec /bin/init
