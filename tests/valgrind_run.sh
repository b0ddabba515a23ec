#!/bin/sh
# valgrind_run.sh - `make check-valgrind`, second part: a whole tiny run of
# mutatord (training, search, checkpoints, outputs) and a mutator-eval of
# its best subnet with an export, each under $VALGRIND; any memory error
# or leak fails.
set -u
srcdir=${srcdir:-.}
dir=$(mktemp -d /tmp/mutatord-valgrind-XXXXXX)
trap 'rm -rf "$dir"' EXIT
. "$srcdir/tests/tiny_space.sh"
{ tiny_space; cat <<CONF
train = { epochs = 1; batch_size = 32; checkpoint_every = 20; };
search = { generations = 2; population = 4; top_k = 2; num_mutation = 1; num_crossover = 1;
           batch_size = 100; checkpoint_every = 2; };
CONF
} > "$dir/tiny.conf"
# shellcheck disable=SC2086
$VALGRIND ./mutatord -c "$dir/tiny.conf" -r "$dir/run" > "$dir/out" 2>&1 \
    || { cat "$dir/out"; echo "FAIL: mutatord under valgrind" >&2; exit 1; }
grep -h "ERROR SUMMARY" "$dir/out"
# shellcheck disable=SC2086
$VALGRIND ./mutator-eval -c "$dir/tiny.conf" -r "$dir/run" --best --repeats 2 \
    --export "$dir/exp" > "$dir/out" 2>&1 \
    || { cat "$dir/out"; echo "FAIL: mutator-eval under valgrind" >&2; exit 1; }
grep -h "ERROR SUMMARY" "$dir/out"
echo "PASS: a tiny run and its evaluation under valgrind: no errors, no leaks"
