#!/bin/sh
# check_kill.sh - `make check-faults`: the daemon on a tiny search, killed
# with SIGKILL at 20 random moments (training and search alike) and
# restarted each time by the same command, ends with the history.csv and
# best/ of a run straight through; the same with 20 SIGTERMs. The moments
# come from a fixed seed (KILL_SEED) so that a failure can be replayed.
set -u
srcdir=${srcdir:-.}
seed=${KILL_SEED:-1}
points=${KILL_POINTS:-20}
dir=$(mktemp -d /tmp/mutatord-check-kill-XXXXXX)
trap 'rm -rf "$dir"' EXIT
fail() { echo "FAIL: $*" >&2; for f in "$dir"/*/mutatord.log; do tail -5 "$f" >&2; done; exit 1; }

. "$srcdir/tests/tiny_space.sh"
{ tiny_space; cat <<CONF
train = { epochs = 6; batch_size = 32; checkpoint_every = 7; };
search = { generations = 3; population = 8; top_k = 3; num_mutation = 3; num_crossover = 3;
           checkpoint_every = 3; batch_size = 100; };
CONF
} > "$dir/tiny.conf"

start=$(date +%s.%N)
./mutatord -c "$dir/tiny.conf" -r "$dir/straight" > /dev/null 2>&1 || fail "the straight run failed"
took=$(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN { printf "%.2f", b - a }')
echo "straight run: ${took}s"

# The moments: uniform in [0.05, took] seconds after each (re)start.
delays=$(awk -v seed="$seed" -v n="$points" -v t="$took" \
    'BEGIN { srand(seed); for (i = 0; i < n; i++) printf "%.2f ", 0.05 + rand() * t }')

for sig in KILL TERM; do
    run="$dir/$sig"
    i=0
    for d in $delays; do
        i=$((i + 1))
        ./mutatord -c "$dir/tiny.conf" -r "$run" > /dev/null 2>&1 &
        pid=$!
        sleep "$d"
        kill -"$sig" "$pid" 2> /dev/null
        wait "$pid" 2> /dev/null
        code=$?
        # SIGKILL: 137, or 0 when the run had finished; SIGTERM: 0.
        case "$sig:$code" in
            KILL:137 | KILL:0 | TERM:0) ;;
            *) fail "SIG$sig $i after ${d}s: exit $code" ;;
        esac
    done
    ./mutatord -c "$dir/tiny.conf" -r "$run" > /dev/null 2>&1 || fail "SIG$sig: the last restart failed"
    grep -q '"phase": "done"' "$run/status.json" || fail "SIG$sig: not done"
    cmp -s "$run/history.csv" "$dir/straight/history.csv" || fail "SIG$sig: history.csv differs"
    diff -r "$run/best" "$dir/straight/best" > /dev/null || fail "SIG$sig: best/ differs"
    resumes=$(grep -c "resumed\|continues from\|already complete" "$run/mutatord.log")
    echo "SIG$sig at $points moments ($delays): same results ($resumes resume lines in the log)"
done
exit 0
