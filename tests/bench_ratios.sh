#!/bin/sh
# bench_ratios.sh - the ratios of `make bench`'s figures (JSON lines in
# FILE) against issue 7's targets: mutatord against PyTorch at each thread
# count, mutatord at 2 threads against 1, and peak memory against its
# budget (2 against 1 from the alternating measurement, *_speedup, when
# the run made one: the median of its pairs, with the ratio of each side's
# best round, "best", and the speed-up the two CPUs' own speeds allow when
# it measured them, "attainable"). Each line: {"ratio", "threads", "value", "target", "met", ...};
# "at_least" or "at_most" says which way the target goes. A figure measured
# more than once counts at its best (the hardest comparison for us when it
# is PyTorch's).
#
#   bench_ratios.sh FILE
set -eu
awk '
    function num(key,    m) {
        if (match($0, "\"" key "\": -?[0-9.e+-]+")) {
            m = substr($0, RSTART, RLENGTH); sub(/.*: /, "", m); return m + 0
        }
        return ""
    }
    function str(key,    m) {
        if (match($0, "\"" key "\": \"[^\"]*\"")) {
            m = substr($0, RSTART, RLENGTH); sub(/.*: "/, "", m); sub(/"$/, "", m); return m
        }
        return ""
    }
    /"bench": "(train|candidate_eval|candidate_eval_generation|forward256|latency1)"/ && !/skipped/ {
        b = str("bench"); k = b SUBSEP str("side") SUBSEP num("threads"); x = num("value")
        lower = b ~ /^candidate_eval/ || b == "latency1"   # times: lower is better
        if (!(k in v) || (lower ? x < v[k] : x > v[k])) v[k] = x
    }
    /"bench": "memory"/ { mem[num("threads")] = num("ratio") }
    /"bench": "(train|candidate_eval)_speedup"/ {
        speedup[str("bench"), num("threads")] = num("value")
        attainable[str("bench"), num("threads")] = num("attainable")
        best[str("bench"), num("threads")] = num("best")
    }
    function line(name, t, value, target, way, extra) {
        met = way == "at_least" ? value >= target : value <= target
        printf "{\"ratio\": \"%s\", \"threads\": %s, \"value\": %.3f, \"%s\": %s, \"met\": %s%s}\n",
               name, t, value, way, target, met ? "true" : "false", extra
    }
    # value: mutatord / pytorch, or pytorch / mutatord when inverse (a
    # time, as a speed-up)
    function versus(b, t, target, way, inverse,    m, p) {
        m = v[b, "mutatord", t]; p = v[b, "pytorch", t]
        if (m == "" || p == "" || m == 0 || p == 0) return
        line(b "_vs_pytorch", t, inverse ? p / m : m / p, target, way,
             sprintf(", \"mutatord\": %s, \"pytorch\": %s", m, p))
    }
    END {
        for (t = 1; t <= 2; t++) {
            versus("train", t, 2.0, "at_least", 0)
            versus("candidate_eval", t, 4.0, "at_least", 1)
            versus("candidate_eval_generation", t, 4.0, "at_least", 1)
            versus("forward256", t, 1.5, "at_least", 0)
            versus("latency1", t, 0.5, "at_most", 0)
            if (t in mem) line("memory_vs_budget", t, mem[t], 1.5, "at_most", "")
        }
        scaling("train", 0)
        scaling("candidate_eval", 1)
    }
    # 2 threads against 1: from the alternating measurement when there is
    # one, else from the two separate figures (shown as "separate"); with
    # the ratio of its best rounds and what the speeds of the two CPUs alone
    # allowed ("best", "attainable": bench_common.h) when it measured them.
    function scaling(b, inverse,    one, two, extra) {
        one = v[b, "mutatord", 1]; two = v[b, "mutatord", 2]
        if ((b "_speedup", 2) in speedup) {
            extra = one != "" && two != "" ? sprintf(", \"separate\": %.3f", inverse ? one / two : two / one) : ""
            if (best[b "_speedup", 2] != "")
                extra = extra sprintf(", \"best\": %.3f", best[b "_speedup", 2])
            if (attainable[b "_speedup", 2] != "")
                extra = extra sprintf(", \"attainable\": %.3f", attainable[b "_speedup", 2])
            line(b "_2_vs_1_threads", 2, speedup[b "_speedup", 2], 1.8, "at_least", extra)
        }
        else if (one != "" && two != "")
            line(b "_2_vs_1_threads", 2, inverse ? one / two : two / one, 1.8, "at_least", "")
    }' "$1"
