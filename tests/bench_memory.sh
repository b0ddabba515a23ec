#!/bin/sh
# bench_memory.sh - peak memory of a whole mutatord run (supernet training,
# then an evolutionary search of 1,000 candidates) on conf/spos-fmnist.conf's
# space, against REFERENCE.md's budget: 1.5 x (supernet weights + optimizer
# state + one training batch of activations), the three as `mutatord --check`
# reports them. Training is cut to 10 batches and each candidate is scored
# on 100 + 200 images: neither changes what is allocated, only the time.
# The daemon logs its peak RSS (VmHWM) after every generation; the figure
# after generation 2 against the last (over 1,000 distinct subnets scored:
# the search scores each distinct subnet once) shows whether memory stays
# flat.
#
#   bench_memory.sh MUTATORD CONFIG THREADS
#
# Prints one JSON line.
set -eu
mutatord=$1 config=$2 threads=$3
work=$(mktemp -d "${TMPDIR:-/tmp}/bench_memory.XXXXXX")
trap 'rm -rf "$work"' EXIT
sed -e 's/train_images = [0-9]*; val_images = [0-9]*; calib_images = [0-9]*;/train_images = 1280; val_images = 200; calib_images = 100;/' \
    -e 's/^  epochs = [0-9]*;/  epochs = 1;/' -e 's/^  report_random = [0-9]*;/  report_random = 0;/' \
    -e '/^run_dir/d' "$config" > "$work/bench.conf"
grep -q 'train_images = 1280' "$work/bench.conf" || { echo "bench_memory: $config has no data line to shrink" >&2; exit 1; }
cat >> "$work/bench.conf" <<CONF
search = { generations = 40; population = 50; num_mutation = 25; num_crossover = 25;
           mutate_prob = 0.3; };
run_dir = "$work/run";
CONF
"$mutatord" -c "$work/bench.conf" --check > "$work/check.txt"
start=$(date +%s)
"$mutatord" -c "$work/bench.conf" --threads "$threads" > "$work/out.txt" 2>&1 || {
    cat "$work/out.txt" >&2; exit 1; }
seconds=$(( $(date +%s) - start ))
awk -v threads="$threads" -v seconds="$seconds" '
    /^memory:/ { gsub(/,/, ""); weights = $3; momentum = $9 }
    /training batch of/ { gsub(/[:,]/, ""); batch = $4; act = $6 }
    /generation [0-9]+\/[0-9]+ done/ {
        for (i = 1; i <= NF; i++) if ($i == "generation") { split($(i + 1), g, "/"); gen = g[1] }
        for (i = 1; i < NF; i++) if ($i == "RSS") rss[gen] = $(i + 1) / 1024.0
        for (i = 1; i < NF; i++) if ($(i + 1) == "subnets") scored[gen] = $i
        last = gen
    }
    END {
        if (act == "" || last == "" || scored[last] < 1000 || !(2 in rss)) { print "bench_memory: no figures" > "/dev/stderr"; exit 1 }
        budget = weights + momentum + act
        printf "{\"bench\": \"memory\", \"side\": \"mutatord\", \"threads\": %d, \"candidates\": %d, " \
               "\"peak_rss_mib\": %.1f, \"peak_rss_mib_at_%d\": %.1f, \"budget_base_mib\": %.1f, " \
               "\"weights_mib\": %.1f, \"momentum_mib\": %.1f, \"activations_mib\": %.1f, \"batch\": %d, " \
               "\"ratio\": %.3f, \"target\": 1.5, \"growth\": %.4f, \"seconds\": %d}\n",
               threads, scored[last], rss[last], scored[2], rss[2], budget, weights, momentum, act, batch,
               rss[last] / budget, rss[last] / rss[2] - 1.0, seconds
    }' "$work/check.txt" "$work/run/mutatord.log"
