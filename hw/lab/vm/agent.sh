#!/bin/sh
# Command agent on the virtio serial port named "wanctl.ctl".
#
# Request: one line "<id> <timeout-seconds> <base64 of shell code>".
# Answer:  "@@A <id>\n" at once (read), then once the code has ended
#          "@@B <id>\n", its stdout and stderr, "\n@@E <id> <status> <timed-out>\n".
#
# The port is not a tty, so nothing is echoed and bytes pass unchanged.
# Each command runs as a script in its own session with stdin from /dev/null
# and its output in a file, sent once it has ended: no process the command
# leaves behind holds the port (a virtio port opens only once, and a new
# agent must be able to open it) or writes into a later answer.  A watchdog
# kills the command's session after the timeout, so a hung command cannot
# wedge the agent (the answer then carries timed-out 1).
. /etc/wanctl-vm/env
port=
for entry in /sys/class/virtio-ports/*; do
    [ "$(cat "$entry/name" 2>/dev/null)" = wanctl.ctl ] && port=/dev/${entry##*/}
done
if [ -z "$port" ] || ! exec 3<>"$port"; then
    echo "wanctl-vm agent: cannot open control port wanctl.ctl (${port:-not found})" >&2
    sleep 1
    exit 1
fi
mkdir -p /run/wanctl
printf '@@READY\n' >&3
while IFS= read -r request <&3; do
    set -- $request
    id=$1 limit=$2 code=$3
    printf '@@A %s\n' "$id" >&3
    # Through a file, not "sh -c": an argument may not exceed 128 KiB.
    script=/run/wanctl/command.$id
    output=/run/wanctl/output.$id
    printf '%s' "$code" | base64 -d >"$script" 3>&-
    setsid sh "$script" </dev/null >"$output" 2>&1 3>&- &
    pid=$!
    # The flag comes first: once the kill lands, the agent moves on at once.
    setsid sh -c "sleep $limit; : >/run/wanctl/timeout.$id; kill -KILL -- -$pid" \
        </dev/null >/dev/null 2>&1 3>&- &
    watchdog=$!
    wait $pid
    status=$?
    kill -KILL -- -$watchdog 2>/dev/null
    timed_out=0
    if [ -e /run/wanctl/timeout.$id ]; then
        [ "$status" = 137 ] && timed_out=1
        rm -f /run/wanctl/timeout.$id
    fi
    printf '@@B %s\n' "$id" >&3
    cat "$output" >&3
    printf '\n@@E %s %s %s\n' "$id" "$status" "$timed_out" >&3
    rm -f "$script" "$output"
done
# EOF: the host closed the control socket; busybox init starts a new agent.
sleep 1
