#!/bin/sh
# soak.sh - `make soak`: SOAK_CANDIDATES (default 2000) candidate
# evaluations (BN calibration and accuracy) in one mutator-eval process on a
# tiny trained run; its resident memory is sampled twice a second and must
# stay flat: the end within 2% (plus 1 MiB) of what it was after the first
# tenth of the candidates. Prints both.
set -u
srcdir=${srcdir:-.}
n=${SOAK_CANDIDATES:-2000}
dir=$(mktemp -d /tmp/mutatord-soak-XXXXXX)
trap 'rm -rf "$dir"' EXIT
. "$srcdir/tests/tiny_space.sh"
{ tiny_space; cat <<CONF
train = { epochs = 1; batch_size = 32; };
search = { generations = 1; population = 4; top_k = 2; num_mutation = 1; num_crossover = 1;
           batch_size = 100; };
CONF
} > "$dir/tiny.conf"
./mutatord -c "$dir/tiny.conf" -r "$dir/run" > "$dir/out" 2>&1 || { cat "$dir/out"; exit 1; }
./mutator-eval -c "$dir/tiny.conf" -r "$dir/run" --sample "$n" --no-timing --split val \
    --csv "$dir/soak.csv" > "$dir/eval.out" 2>&1 &
pid=$!
: > "$dir/rss"
while kill -0 "$pid" 2> /dev/null; do
    rss=$(awk '/^VmRSS/ { print $2 }' "/proc/$pid/status" 2> /dev/null)
    done_=$(grep -c 'info: subnets' "$dir/eval.out" 2> /dev/null)
    [ -n "$rss" ] && echo "$done_ $rss" >> "$dir/rss"
    sleep 0.5
done
wait "$pid" || { tail "$dir/eval.out"; echo "FAIL: mutator-eval failed" >&2; exit 1; }
rows=$(($(wc -l < "$dir/soak.csv") - 1))
[ "$rows" -eq "$n" ] || { echo "FAIL: $rows rows, not $n" >&2; exit 1; }
awk -v n="$n" '
    { if ($1 >= n / 10 && start == "") { start = $2; at = $1 } last = $2; if ($2 > peak) peak = $2 }
    END {
        if (start == "") { print "FAIL: no sample after the first tenth"; exit 1 }
        printf "soak: %d candidate evaluations; RSS %d KiB after %d, %d KiB at the end, peak %d KiB\n",
               n, start, at, last, peak
        if (last > start * 1.02 + 1024) { print "FAIL: resident memory grew"; exit 1 }
    }' "$dir/rss"
