#!/bin/sh
# spawn.sh DIR CODE: run shell code CODE in the background, in a session of
# its own, stdin from /dev/null, stdout and stderr to DIR/out.
# DIR/leader gets the session leader's pid (a small wrapper shell), DIR/pid
# the pid of the process running CODE (the program itself when CODE starts
# with "exec"), DIR/status its exit status once it has ended.
# Prints "<leader> <pid>".
dir=$1
mkdir -p "$dir"
setsid sh -c '
    # A handler, not "ignore": the child gets default dispositions, and the
    # wrapper survives a group-wide TERM long enough to record the status.
    trap : TERM INT HUP
    eval "$1" &
    child=$!
    echo "$child" >"$2/pid.new" && mv "$2/pid.new" "$2/pid"
    while :; do
        wait "$child"
        status=$?
        kill -0 "$child" 2>/dev/null || break
    done
    echo "$status" >"$2/status.new" && mv "$2/status.new" "$2/status"
' spawn "$2" "$dir" </dev/null >"$dir/out" 2>&1 &
echo "$!" >"$dir/leader"
tries=0
while [ ! -e "$dir/pid" ] && [ $tries -lt 500 ]; do
    usleep 10000
    tries=$((tries + 1))
done
echo "$(cat "$dir/leader") $(cat "$dir/pid")"
