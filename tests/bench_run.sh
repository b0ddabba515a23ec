#!/bin/sh
# bench_run.sh - `make bench`: every figure of both sides, then the ratios
# against REFERENCE.md's targets, as JSON lines on stdout and in OUT.
#
#   bench_run.sh SRCDIR BUILDDIR OUT PYTHON SECONDS THREADS...
#
# The PyTorch side runs when PYTHON can import torch; its figures are
# skipped (and so are the ratios that need them) otherwise.
set -u
srcdir=$1 builddir=$2 out=$3 python=$4 seconds=$5
shift 5
threads="$*"
tmp=$(mktemp "${TMPDIR:-/tmp}/bench.XXXXXX")
trap 'rm -f "$tmp"' EXIT
: > "$out"

# Runs a figure's program; its lines go to stdout and OUT as they come.
figure() {
    "$@" > "$tmp" || { cat "$tmp"; echo "bench_run: $* failed" >&2; exit 1; }
    cat "$tmp" >> "$out"
    cat "$tmp"
}

if "$python" -c 'import torch' 2>/dev/null; then torch=yes; else torch=no; fi
torch_figure() {
    if [ "$torch" = yes ]; then
        figure "$python" "$srcdir/tests/reference/bench_torch.py" "$@" --seconds "$seconds"
    else
        echo '{"bench": "'"$4"'", "side": "pytorch", "skipped": "python3-torch not installed"}'
    fi
}

conf="$srcdir/conf/spos-fmnist.conf"
for t in $threads; do figure "$builddir/tests/bench_ops" --threads "$t"; done
figure "$builddir/tests/bench_estimate" "$conf"
figure "$builddir/tests/bench_estimate" "$srcdir/conf/search.conf"
for t in $threads; do
    figure "$builddir/tests/bench_train" -t "$t" -s "$seconds" "$conf"
    torch_figure --threads "$t" --only train
done
for t in $threads; do
    figure "$builddir/tests/bench_eval" -t "$t" -s "$seconds" "$conf"
    # PyTorch's candidate evaluation varies widely across processes (6.5
    # to 10 s at 2 threads here, bimodal on other hosts, with millions of
    # page faults from its allocations either way): three processes, the
    # ratio takes its best. Ours runs in three processes too, so that both
    # sides' figure is the best of three, the two sides' processes in turn
    # (the load of this shared machine drifts by 20-30% between one minute
    # and the next, and neither side should have the quiet minutes alone).
    torch_figure --threads "$t" --only candidate_eval
    for rep in 2 3; do
        figure "$builddir/tests/bench_eval" -c -t "$t" -s "$seconds" "$conf"
        torch_figure --threads "$t" --only candidate_eval
    done
    for b in forward256 latency1; do
        torch_figure --threads "$t" --only "$b"
    done
done
# A generation of random candidates scored as the daemon scores it (in
# groups that share their first cells), against PyTorch scoring the same
# candidates one at a time, as its tool chain does; PyTorch in two
# processes, the ratio takes its best.
for t in $threads; do last=$t; done
figure "$builddir/tests/bench_eval" -g -t "$last" "$conf"
archs=$(sed -n 's/.*"archs": "\([0-9,;]*\)".*/\1/p' "$out" | tail -n 1)
for rep in 1 2; do
    torch_figure --threads "$last" --only candidate_eval_generation --archs "$archs"
done
# The speed-up of the last thread count over one, timed in alternation
# (bench_paired_speedup): the separate runs above are minutes apart, and
# the load of this shared machine drifts in between.
if [ "$last" -gt 1 ]; then
    # Each round also times one thread on each CPU in turn (the speed-ups
    # the CPUs' own speeds allow, bench_common.h): half as long again.
    figure "$builddir/tests/bench_train" -p -t "$last" -s "$((3 * seconds / 2))" "$conf"
    figure "$builddir/tests/bench_eval" -p -t "$last" -s "$((3 * seconds))" "$conf"
fi
# Memory at the last thread count only (REFERENCE.md's protocol: 2): it takes
# minutes, and the thread count changes only the per-thread scratch.
figure "$SHELL" "$srcdir/tests/bench_memory.sh" "$builddir/mutatord" "$conf" "$last"
figure "$SHELL" "$srcdir/tests/bench_ratios.sh" "$out"
