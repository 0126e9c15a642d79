#!/bin/sh
# Command agent on the virtio serial port named "wanctl.ctl".
#
# Request: one line "<id> <timeout-seconds> <base64 of shell code>".
# Answer:  "@@B <id>\n", the code's stdout and stderr, "\n@@E <id> <status> <timed-out>\n".
#
# The port is not a tty, so nothing is echoed and bytes pass unchanged.
# Each command runs as a script in its own session with stdin from /dev/null;
# a watchdog kills that session after the timeout, so a hung command cannot
# wedge the agent (the answer then carries timed-out 1).
. /etc/wanctl-vm/env
port=
for entry in /sys/class/virtio-ports/*; do
    [ "$(cat "$entry/name" 2>/dev/null)" = wanctl.ctl ] && port=/dev/${entry##*/}
done
if [ -z "$port" ] || ! exec 3<>"$port"; then
    echo "wanctl-vm agent: control port wanctl.ctl not found" >&2
    sleep 2
    exit 1
fi
mkdir -p /run/wanctl
printf '@@READY\n' >&3
while IFS= read -r request <&3; do
    set -- $request
    id=$1 limit=$2 code=$3
    # Through a file, not "sh -c": an argument may not exceed 128 KiB.
    script=/run/wanctl/command.$id
    printf '%s' "$code" | base64 -d >"$script"
    printf '@@B %s\n' "$id" >&3
    setsid sh "$script" </dev/null >&3 2>&1 &
    pid=$!
    # The flag comes first: once the kill lands, the agent moves on at once.
    setsid sh -c "sleep $limit; : >/run/wanctl/timeout.$id; kill -KILL -- -$pid" \
        </dev/null >/dev/null 2>&1 &
    watchdog=$!
    wait $pid
    status=$?
    kill -KILL -- -$watchdog 2>/dev/null
    rm -f "$script"
    timed_out=0
    if [ -e /run/wanctl/timeout.$id ]; then
        [ "$status" = 137 ] && timed_out=1
        rm -f /run/wanctl/timeout.$id
    fi
    printf '\n@@E %s %s %s\n' "$id" "$status" "$timed_out" >&3
done
# EOF: the host closed the control socket; busybox init starts a new agent.
sleep 1
