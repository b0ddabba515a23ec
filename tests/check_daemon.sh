#!/bin/sh
# check_daemon.sh - mutatord as a daemon, end to end on a tiny space and the
# bundled data: one instance per run directory (exit 75 naming the pid),
# SIGUSR1 writes status.json (and a burst of them is survived), SIGTERM
# checkpoints and exits 0 within 5 seconds and removes the pidfile, the
# same command finishes the run with the same results as a run straight
# through, --fresh moves the old run aside, -d detaches.
set -u
srcdir=${srcdir:-.}
fail() { echo "FAIL: $*" >&2; [ -f "$dir/a/mutatord.log" ] && cat "$dir/a/mutatord.log" >&2; exit 1; }
dir=$(mktemp -d /tmp/mutatord-check-daemon-XXXXXX)
trap 'rm -rf "$dir"' EXIT

. "$srcdir/tests/tiny_space.sh"
{ tiny_space; cat <<CONF
train = { epochs = 24; batch_size = 32; checkpoint_every = 20; };
search = { generations = 3; population = 6; top_k = 3; num_mutation = 2; num_crossover = 2;
           checkpoint_every = 2; batch_size = 100; };
CONF
} > "$dir/tiny.conf"

wait_for() {  # wait_for FILE SECONDS
    i=0
    while [ ! -s "$1" ] && [ $i -lt $(($2 * 10)) ]; do sleep 0.1; i=$((i + 1)); done
    [ -s "$1" ]
}

# Straight through, for reference.
./mutatord -c "$dir/tiny.conf" -r "$dir/straight" > "$dir/straight.out" 2>&1 \
    || { cat "$dir/straight.out" >&2; fail "the straight run failed"; }
grep -q '"phase": "done"' "$dir/straight/status.json" || fail "status.json does not say done"
[ -f "$dir/straight/best/subnet-01.conf" ] || fail "no best/subnet-01.conf"
[ ! -e "$dir/straight/mutatord.pid" ] || fail "the pidfile outlived the run"

# Interrupted: a second instance is refused, SIGUSR1, SIGTERM.
./mutatord -c "$dir/tiny.conf" -r "$dir/a" > "$dir/a.out" 2>&1 &
pid=$!
wait_for "$dir/a/mutatord.pid" 10 || fail "no pidfile"
./mutatord -c "$dir/tiny.conf" -r "$dir/a" > "$dir/second.out" 2>&1
code=$?
[ "$code" -eq 75 ] || fail "a second instance exits $code, not 75"
grep -q "is in use by mutatord (pid $pid" "$dir/second.out" || { cat "$dir/second.out" >&2; fail "no pid in the refusal"; }
# (the run trains for some seconds: signals arrive while it works)
rm -f "$dir/a/status.json"
kill -USR1 $pid || fail "the daemon ended before SIGUSR1"
wait_for "$dir/a/status.json" 5 || fail "SIGUSR1 wrote no status.json"
grep -q '"phase": "\(starting\|train\)"' "$dir/a/status.json" || fail "status.json has no phase"
# A burst of signals, some landing while the main thread is busy writing
# status: each must reach it, none may take the daemon down (threads that
# OpenBLAS started before main once did, after a few dozen).
i=0
while [ $i -lt 300 ]; do kill -USR1 $pid 2>/dev/null || break; i=$((i + 1)); done
sleep 0.3
kill -0 $pid 2>/dev/null || fail "a burst of SIGUSR1 ended the daemon (after $i)"
start=$(date +%s)
kill -TERM $pid
wait $pid
code=$?
took=$(($(date +%s) - start))
[ "$code" -eq 0 ] || fail "SIGTERM: exit $code, not 0"
[ "$took" -le 5 ] || fail "SIGTERM took $took s"
[ ! -e "$dir/a/mutatord.pid" ] || fail "SIGTERM left the pidfile"
grep -q 'continues from there' "$dir/a/mutatord.log" || fail "no stop message in the log"

# The same command finishes it, with the straight run's results.
./mutatord -c "$dir/tiny.conf" -r "$dir/a" > "$dir/a2.out" 2>&1 || fail "the resumed run failed"
cmp -s "$dir/a/history.csv" "$dir/straight/history.csv" || fail "resumed history.csv differs"
diff -r "$dir/a/best" "$dir/straight/best" > /dev/null || fail "resumed best/ differs"

# --fresh keeps the old run aside; -d detaches.
./mutatord -c "$dir/tiny.conf" -r "$dir/a" --fresh -d 2> "$dir/fresh.err"
code=$?
[ "$code" -eq 0 ] || fail "-d exits $code"
ls -d "$dir"/a.old-* > /dev/null 2>&1 || fail "--fresh did not keep the old run"
[ -f "$dir"/a.old-*/best/subnet-01.conf ] || fail "the kept run lost its results"
# When -d returns, the pidfile already names the daemon (not the process
# that has just exited).
[ -s "$dir/a/mutatord.pid" ] || fail "the daemon wrote no pidfile"
dpid=$(cat "$dir/a/mutatord.pid")
kill -0 "$dpid" 2> /dev/null || fail "the daemon (pid $dpid) is not running"
kill -TERM "$dpid"
i=0
while kill -0 "$dpid" 2> /dev/null && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
kill -0 "$dpid" 2> /dev/null && fail "the daemon did not stop on SIGTERM"
echo "PASS: daemon"
