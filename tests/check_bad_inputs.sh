#!/bin/sh
# check_bad_inputs.sh - a corpus of bad inputs, each with the exit status
# and the message it must give: syntax errors, wrong types, values out of
# range, unknown keys, impossible settings and constraints, missing,
# unreadable, truncated and foreign data files, bad subnet files, plugins
# that do not load or register nothing. Every case must exit with its
# sysexits code (never a crash: no status of 128 or more), print exactly
# one error line, which names the file (and line) or path, and leave no
# temp file behind.
set -u
srcdir=${srcdir:-.}
dir=$(mktemp -d /tmp/mutatord-check-bad-XXXXXX)
trap 'rm -rf "$dir"' EXIT
fail() { echo "FAIL: $*" >&2; cat "$dir/out" >&2; exit 1; }
cases=0

. "$srcdir/tests/tiny_space.sh"
{ tiny_space; cat <<CONF
train = { epochs = 1; batch_size = 32; optimizer = { lr = 0.1; momentum = 0.9; };
          schedule = { warmup_epochs = 0.5; }; };
search = { generations = 1; population = 4; top_k = 2; num_mutation = 1; num_crossover = 1;
           batch_size = 100; };
CONF
} > "$dir/good.conf"
./mutatord -c "$dir/good.conf" -r "$dir/good" > "$dir/out" 2>&1 || fail "the good config does not run"

# expect NAME MODE EXIT NEEDLE: runs the input in $dir/NAME.
#   check: mutatord --check; run: a whole mutatord run in a fresh directory;
#   subnet: mutator-eval --subnet on the good run.
expect() {
    name=$1; mode=$2; want=$3; needle=$4
    f="$dir/$name"
    cases=$((cases + 1))
    case $mode in
        check) ./mutatord -c "$f" --check > "$dir/out" 2>&1 ;;
        run) ./mutatord -c "$f" -r "$dir/run-$name" > "$dir/out" 2>&1 ;;
        subnet) ./mutator-eval -c "$dir/good.conf" -r "$dir/good" --subnet "$f" --no-timing \
                    > "$dir/out" 2>&1 ;;
    esac
    code=$?
    [ "$code" -lt 128 ] || fail "$name: crashed (exit $code)"
    [ "$code" -eq "$want" ] || fail "$name: exit $code, not $want"
    grep -q -- "$needle" "$dir/out" || fail "$name: no '$needle' in the output"
    errors=$(grep -c ' error: \|^mutatord: \|^mutator-eval: ' "$dir/out")
    [ "$errors" -eq 1 ] || fail "$name: $errors error lines, not 1"
    [ -z "$(find "$dir" -name '*.tmp')" ] || fail "$name: a temp file was left: $(find "$dir" -name '*.tmp')"
}
# variant NAME SED...: the good config edited.
variant() { name=$1; shift; sed "$@" "$dir/good.conf" > "$dir/$name"; }
# text NAME: the input from stdin.
text() { cat > "$dir/$1"; }

# --- Syntax ------------------------------------------------------------------
variant syntax-equals.conf 's/classes = 10;/classes = = 10;/'
expect syntax-equals.conf check 78 'syntax-equals.conf:[0-9]*: syntax error'
variant syntax-brace.conf 's/last = { channels = 32; }; };/last = { channels = 32; };/'
expect syntax-brace.conf check 78 'syntax-brace.conf:[0-9]*: syntax error'
printf 'supernet = { input = { channels = 1; height = "28; };\n' | text syntax-string.conf
expect syntax-string.conf check 78 'syntax-string.conf:[0-9]*: '
printf '@@@ = 1;\n' | text syntax-garbage.conf
expect syntax-garbage.conf check 78 'syntax-garbage.conf:1: '
: > "$dir/empty.conf"
expect empty.conf check 78 'empty.conf:.*supernet'
expect missing.conf check 66 'missing.conf: cannot open: No such file or directory'
mkdir "$dir/adir.conf"
expect adir.conf check 78 'adir.conf'

# --- Wrong types -------------------------------------------------------------
variant type-stem.conf 's/stem = { channels = 8;/stem = { channels = "8";/'
expect type-stem.conf check 78 'type-stem.conf:[0-9]*: supernet.stem.channels: expected an integer'
variant type-classes.conf 's/classes = 10;/classes = 10.5;/'
expect type-classes.conf check 78 'type-classes.conf:[0-9]*: supernet.classes'
variant type-ops.conf 's/ops = \["shuffle_3x3", "shuffle_7x7"\]/ops = "shuffle_3x3"/'
expect type-ops.conf check 78 'type-ops.conf:[0-9]*: supernet.stages\[1\].ops'
variant type-epochs.conf 's/epochs = 1;/epochs = true;/'
expect type-epochs.conf check 78 'type-epochs.conf:[0-9]*: train.epochs'
variant type-prob.conf 's/batch_size = 100; };/batch_size = 100; mutate_prob = "high"; };/'
expect type-prob.conf check 78 'type-prob.conf:[0-9]*: search.mutate_prob'
variant type-dir.conf "s|dir = \"[^\"]*\";|dir = 5;|"
expect type-dir.conf check 78 'type-dir.conf:[0-9]*: data.dir'
variant type-mutators.conf 's/mutators = ( { type = "OneShotModuleMutator"; } );/mutators = { type = "OneShotModuleMutator"; };/'
expect type-mutators.conf check 78 'type-mutators.conf:[0-9]*: mutators'
variant type-threads.conf 's/threads = 2;/threads = 1.5;/'
expect type-threads.conf check 78 'type-threads.conf:[0-9]*: threads'

# --- Out of range ------------------------------------------------------------
variant range-stem.conf 's/stem = { channels = 8;/stem = { channels = 0;/'
expect range-stem.conf check 78 'range-stem.conf:[0-9]*: supernet.stem.channels: expected an integer in'
variant range-stride.conf 's/channels = 16; stride = 2;/channels = 16; stride = 3;/'
expect range-stride.conf check 78 'range-stride.conf:[0-9]*: supernet.stages\[0\].stride'
variant range-classes.conf 's/classes = 10;/classes = 1;/'
expect range-classes.conf check 78 'range-classes.conf:[0-9]*: supernet.classes'
variant range-batch.conf 's/batch_size = 32;/batch_size = 1;/'
expect range-batch.conf check 78 'range-batch.conf:[0-9]*: train.batch_size'
variant range-population.conf 's/population = 4;/population = 0;/'
expect range-population.conf check 78 'range-population.conf:[0-9]*: search.population'
variant range-prob.conf 's/batch_size = 100; };/batch_size = 100; crossover_prob = 1.5; };/'
expect range-prob.conf check 78 'range-prob.conf:[0-9]*: search.crossover_prob'
variant range-threads.conf 's/threads = 2;/threads = 5000;/'
expect range-threads.conf check 78 'range-threads.conf:[0-9]*: threads'
variant range-momentum.conf 's/momentum = 0.9;/momentum = 1.0;/'
expect range-momentum.conf check 78 'range-momentum.conf:[0-9]*: train.optimizer.momentum'
variant range-val.conf 's/val_images = 500;/val_images = -5;/'
expect range-val.conf check 78 'range-val.conf:[0-9]*: data.val_images'
variant range-channels.conf 's/channels = 1; height = 28;/channels = 3; height = 28;/'
expect range-channels.conf run 78 "the data has 1 channel, the supernet's input 3"
variant range-cuda.conf 's/threads = 2;/threads = -1;/'
expect range-cuda.conf check 78 'range-cuda.conf:[0-9]*: threads'

# --- Unknown keys and names --------------------------------------------------
variant unknown-top.conf 's/^search = {/serach = {/'
expect unknown-top.conf check 78 'unknown-top.conf:[0-9]*: serach: unknown key'
variant unknown-stem.conf 's/stem = { channels = 8;/stem = { chanels = 8;/'
expect unknown-stem.conf check 78 'unknown-stem.conf:[0-9]*: supernet.stem.chanels: unknown key'
variant unknown-opt.conf 's/lr = 0.1;/learning_rate = 0.1;/'
expect unknown-opt.conf check 78 'unknown-opt.conf:[0-9]*: train.optimizer.learning_rate: unknown key'
variant unknown-cons.conf 's/batch_size = 100; };/batch_size = 100; constraints = { flops = [0.0, 1.0]; }; };/'
expect unknown-cons.conf check 78 'unknown-cons.conf:[0-9]*: search.constraints.flops: unknown key'
variant unknown-mutkey.conf 's/type = "OneShotModuleMutator";/type = "OneShotModuleMutator"; tpye = 1;/'
expect unknown-mutkey.conf check 78 'unknown-mutkey.conf:[0-9]*: mutators\[0\].tpye'
variant unknown-op.conf 's/"shuffle_7x7"/"shuffle_9x9"/'
expect unknown-op.conf check 78 "unknown-op.conf:[0-9]*: .*unknown op 'shuffle_9x9'"
variant unknown-mutator.conf 's/OneShotModuleMutator/FooMutator/'
expect unknown-mutator.conf check 78 "unknown-mutator.conf:[0-9]*: .*unknown mutator 'FooMutator'"
variant unknown-sampler.conf 's/epochs = 1;/epochs = 1; sampler = "random";/'
expect unknown-sampler.conf check 78 'unknown-sampler.conf:[0-9]*: train.sampler'

# --- Settings that cannot hold together --------------------------------------
variant bad-population.conf 's/num_mutation = 1; num_crossover = 1;/num_mutation = 3; num_crossover = 3;/'
expect bad-population.conf check 78 'bad-population.conf:[0-9]*: .*exceeds the population'
variant bad-warmup.conf 's/warmup_epochs = 0.5;/warmup_epochs = 3.0;/'
expect bad-warmup.conf check 78 'bad-warmup.conf:[0-9]*: .*warm-up'
variant bad-nesterov.conf 's/momentum = 0.9;/momentum = 0.0; nesterov = true;/'
expect bad-nesterov.conf check 78 'bad-nesterov.conf:[0-9]*: .*nesterov needs a momentum'
variant bad-latency.conf 's/batch_size = 100; };/batch_size = 100; constraints = { latency = [0.0, 1.0]; }; };/'
expect bad-latency.conf check 78 'bad-latency.conf:[0-9]*: .*latency_table'
variant bad-range.conf 's/batch_size = 100; };/batch_size = 100; constraints = { macs = [2e6, 1e6]; }; };/'
expect bad-range.conf check 78 'bad-range.conf:[0-9]*: search.constraints.macs'
# (found by make fuzz: the default calib_images above a small train_images)
variant bad-calib.conf 's/train_images = 2000; val_images = 500; calib_images = 200;/train_images = 20; val_images = 500;/'
expect bad-calib.conf check 78 'bad-calib.conf:[0-9]*: data.train_images: the calibration set (2000 images)'
variant bad-nesterov-default.conf 's/momentum = 0.9;/momentum = 0.0;/'
expect bad-nesterov-default.conf check 78 'bad-nesterov-default.conf:[0-9]*: train.optimizer.momentum: nesterov needs a momentum'
variant bad-splits.conf 's/train_images = 2000; val_images = 500;/train_images = 4000; val_images = 2000;/'
expect bad-splits.conf run 65 'the training file holds 4000 images, fewer than train_images + val_images'
variant infeasible.conf 's/batch_size = 100; };/batch_size = 100; max_attempts = 200; constraints = { macs = [1.0, 2.0]; }; };/'
expect infeasible.conf run 78 'no subnet in 200 random draws has macs in \[1, 2\]'
variant no-table.conf "s|batch_size = 100; };|batch_size = 100; latency_table = \"$dir/none.csv\"; constraints = { latency = [0.0, 1.0]; }; };|"
expect no-table.conf run 66 "$dir/none.csv: cannot open the latency table"

# --- Data files --------------------------------------------------------------
variant data-missing.conf "s|dir = \"[^\"]*\";|dir = \"$dir/nodata\";|"
expect data-missing.conf run 66 "$dir/nodata/train-images-idx3-ubyte"
cp -r "$srcdir/data" "$dir/trunc"
gzip -dc "$srcdir/data/train-images-idx3-ubyte.gz" | head -c 100000 > "$dir/trunc/train-images-idx3-ubyte"
rm "$dir/trunc/train-images-idx3-ubyte.gz"
variant data-trunc.conf "s|dir = \"[^\"]*\";|dir = \"$dir/trunc\";|"
expect data-trunc.conf run 65 "$dir/trunc/train-images-idx3-ubyte"
cp -r "$srcdir/data" "$dir/magic"
gzip -dc "$srcdir/data/train-labels-idx1-ubyte.gz" | { printf '\000\000\011\001'; tail -c +5; } > "$dir/magic/train-labels-idx1-ubyte"
rm "$dir/magic/train-labels-idx1-ubyte.gz"
variant data-magic.conf "s|dir = \"[^\"]*\";|dir = \"$dir/magic\";|"
expect data-magic.conf run 65 "$dir/magic/train-labels-idx1-ubyte"
cp -r "$srcdir/data" "$dir/swapped"
cp "$srcdir/data/t10k-labels-idx1-ubyte.gz" "$dir/swapped/train-labels-idx1-ubyte.gz"
variant data-count.conf "s|dir = \"[^\"]*\";|dir = \"$dir/swapped\";|"
expect data-count.conf run 65 "$dir/swapped"
cp -r "$srcdir/data" "$dir/notfile"
rm "$dir/notfile/train-images-idx3-ubyte.gz" && mkdir "$dir/notfile/train-images-idx3-ubyte.gz"
variant data-notfile.conf "s|dir = \"[^\"]*\";|dir = \"$dir/notfile\";|"
expect data-notfile.conf run 74 "$dir/notfile/train-images-idx3-ubyte.gz"

# --- Subnet files ------------------------------------------------------------
good_subnet="$dir/good/best/subnet-01.conf"
sed 's/stage1.block0/stage9.block0/' "$good_subnet" > "$dir/subnet-group.conf"
expect subnet-group.conf subnet 78 "subnet-group.conf:[0-9]*: .*no group 'stage9.block0'"
sed '0,/choice = "[^"]*"/s//choice = "shuffle_9x9"/' "$good_subnet" > "$dir/subnet-choice.conf"
expect subnet-choice.conf subnet 78 'subnet-choice.conf:[0-9]*: .*shuffle_9x9'
grep -v 'stage1.block1' "$good_subnet" > "$dir/subnet-missing.conf"
expect subnet-missing.conf subnet 78 'subnet-missing.conf.*stage1.block1'
printf 'subnet = ( { group = "stage1.block0"; choice = "shuffle_3x3"; }\n' > "$dir/subnet-syntax.conf"
expect subnet-syntax.conf subnet 78 'subnet-syntax.conf:[0-9]*: syntax error'
sed 's/choice = "\([^"]*\)"/choice = 3/' "$good_subnet" > "$dir/subnet-type.conf"
expect subnet-type.conf subnet 78 'subnet-type.conf:[0-9]*: '

# --- Plugins -----------------------------------------------------------------
{ echo "plugins = [\"$dir/none.so\"];"; cat "$dir/good.conf"; } > "$dir/plugin-missing.conf"
expect plugin-missing.conf check 78 "plugin-missing.conf:1: plugins\[0\]: cannot load plugin: .*none.so"
{ echo "plugins = [\"$PWD/tests/.libs/plugin_empty.so\"];"; cat "$dir/good.conf"; } > "$dir/plugin-empty.conf"
expect plugin-empty.conf check 78 "plugin-empty.conf:1: .*plugin_empty.so: mutatord_plugin_init registered no mutator"
zlib=$(ls /usr/lib/*/libz.so.1 /lib/*/libz.so.1 2> /dev/null | head -1)
{ echo "plugins = [\"$zlib\"];"; cat "$dir/good.conf"; } > "$dir/plugin-noinit.conf"
expect plugin-noinit.conf check 78 "plugin-noinit.conf:1: .*exports no mutatord_plugin_init"
{ echo "plugins = [1];"; cat "$dir/good.conf"; } > "$dir/plugin-type.conf"
expect plugin-type.conf check 78 "plugin-type.conf:1: plugins\[0\]: expected the path"

echo "PASS: $cases bad inputs, each with its exit status and one error line"
[ "$cases" -ge 40 ] || { echo "FAIL: only $cases cases" >&2; exit 1; }
exit 0
