#!/bin/sh
# check_eval.sh - mutator-eval end to end on a tiny run over the bundled
# data: usage errors (64), a missing run (66), a bad subnet file (78, file:line); the
# evaluation table and its CSV for --best and --sample; --finetune, resumed
# by a second run to the same score; --export then --model gives the same
# accuracy, and OpenCV runs model.onnx to the same accuracy (when
# python3-onnx and python3-opencv are installed); --rank prints Kendall's
# tau; --latency-table writes a table the search can constrain on.
set -u
srcdir=${srcdir:-.}
dir=$(mktemp -d /tmp/mutatord-check-eval-XXXXXX)
trap 'rm -rf "$dir"' EXIT
fail() { echo "FAIL: $*" >&2; [ -f "$dir/out" ] && cat "$dir/out" >&2; exit 1; }

. "$srcdir/tests/tiny_space.sh"
{ tiny_space; cat <<CONF
train = { epochs = 4; batch_size = 32; };
finetune = { optimizer = { lr = 0.02; }; };
search = { generations = 2; population = 6; top_k = 3; num_mutation = 2; num_crossover = 2;
           batch_size = 100; };
run_dir = "$dir/run";
CONF
} > "$dir/tiny.conf"
eval_() { ./mutator-eval "$@" > "$dir/out" 2>&1; }
expect_exit() {  # expect_exit CODE NEEDLE ARGS...
    want=$1; needle=$2; shift 2
    eval_ "$@"
    code=$?
    [ "$code" -eq "$want" ] || fail "mutator-eval $*: exit $code, not $want"
    grep -q -- "$needle" "$dir/out" || fail "mutator-eval $*: no '$needle' in the output"
}

expect_exit 64 "no configuration given"
expect_exit 64 "nothing to do" -c "$dir/tiny.conf"
expect_exit 64 "goes with --finetune" -c "$dir/tiny.conf" --best --from-scratch
expect_exit 64 "expected test or val" -c "$dir/tiny.conf" --best --split train
expect_exit 66 "no training checkpoint" -c "$dir/tiny.conf" --sample 1

./mutatord -c "$dir/tiny.conf" > "$dir/out" 2>&1 || fail "mutatord failed"

expect_exit 66 "no such subnet file" -c "$dir/tiny.conf" --subnet "$dir/none.conf"
sed 's/stage1.block0/stage9.block0/' "$dir/run/best/subnet-01.conf" > "$dir/bad.conf"
expect_exit 78 "bad.conf:3: subnet\[0\]: this search space has no group" -c "$dir/tiny.conf" --subnet "$dir/bad.conf"

# More calibration images than the training split holds: refused, not read past.
expect_exit 78 "5000 calibration images: more than the 2000" -c "$dir/tiny.conf" --best --calib 5000

# The table: 3 best subnets and 2 samples, on the test split.
expect_exit 0 "test split" -c "$dir/tiny.conf" --best --sample 2 --repeats 5 --csv "$dir/t.csv"
[ "$(wc -l < "$dir/t.csv")" -eq 6 ] || fail "t.csv has $(wc -l < "$dir/t.csv") lines, not 6"
grep -q '^"best/subnet-01",[0-9a-f]\{16\},test,0\.[0-9]*,nan,[0-9]*,[0-9]*,[0-9.]*,[0-9.]*$' "$dir/t.csv" \
    || fail "t.csv row: $(sed -n 2p "$dir/t.csv")"

# Finetune and export; the same command again resumes to the same score.
expect_exit 0 "exported to" -c "$dir/tiny.conf" --subnet "$dir/run/best/subnet-01.conf" \
    --finetune 2 --export "$dir/exp" --no-timing --csv "$dir/ft.csv"
ft=$(sed -n 2p "$dir/ft.csv" | cut -d, -f5)
expect_exit 0 "finetuned" -c "$dir/tiny.conf" --subnet "$dir/run/best/subnet-01.conf" \
    --finetune 2 --no-timing --csv "$dir/ft2.csv"
grep -q "training already complete" "$dir/out" || fail "the second finetune did not resume"
[ "$(sed -n 2p "$dir/ft2.csv" | cut -d, -f5)" = "$ft" ] || fail "the resumed finetune scores differently"

# The exported model alone scores what the finetuned subnet scored.
expect_exit 0 "test split" --model "$dir/exp" --no-timing --csv "$dir/model.csv"
[ "$(sed -n 2p "$dir/model.csv" | cut -d, -f4)" = "$ft" ] \
    || fail "the exported model scores $(sed -n 2p "$dir/model.csv" | cut -d, -f4), the subnet $ft"
/usr/bin/python3 "$srcdir/tests/onnx_check.py" accuracy "$dir/exp/model.onnx" "$srcdir/data" \
    0.2860 0.3530 "$ft" > "$dir/out" 2>&1
code=$?
if [ "$code" -eq 77 ] || [ "$code" -eq 127 ]; then
    echo "ONNX accuracy check skipped: python3-onnx and python3-opencv are not installed"
else
    [ "$code" -eq 0 ] || fail "OpenCV's accuracy on model.onnx differs"
fi

expect_exit 0 "Kendall's tau" -c "$dir/tiny.conf" --rank 3

# A latency table, then a search constrained on it.
expect_exit 0 "mean absolute error" -c "$dir/tiny.conf" --latency-table "$dir/lat.csv" --repeats 5
grep -q '^cell,op,in,out,mid,ms$' "$dir/lat.csv" || fail "lat.csv has no header"
sed -e "s|batch_size = 100; };|batch_size = 100; latency_table = \"$dir/lat.csv\"; constraints = { latency = [0.0, 0.000001]; }; };|" \
    -e "s|run_dir = \"$dir/run\"|run_dir = \"$dir/run2\"|" "$dir/tiny.conf" > "$dir/lat.conf"
cp -r "$dir/run" "$dir/run2" && rm -f "$dir"/run2/search-*.ckpt
./mutatord -c "$dir/lat.conf" > "$dir/out" 2>&1
code=$?
[ "$code" -eq 78 ] || fail "an impossible latency constraint: exit $code, not 78"
grep -q "latency in \[0, 1e-06\] ms" "$dir/run2/mutatord.log" || { cat "$dir/run2/mutatord.log"; fail "no latency in the too-tight message"; }
exit 0
