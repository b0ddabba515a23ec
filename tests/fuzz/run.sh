#!/bin/sh
# run.sh - `make fuzz`: builds the libFuzzer harnesses with clang
# (AddressSanitizer and UndefinedBehaviorSanitizer on) and runs each for
# FUZZ_SECONDS (default 600) from its seed corpus in tests/fuzz/corpus/<name>.
# New inputs go to the build's fuzz/corpus/<name>; a crash stops with the
# input saved as fuzz/crash-<name>-*, to be turned into a regression test.
#   usage: run.sh SRCDIR BUILDDIR [HARNESS...]
set -eu
srcdir=$(cd "$1" && pwd)
builddir=$(cd "$2" && pwd)
shift 2
seconds=${FUZZ_SECONDS:-600}
harnesses=${*:-config subnet checkpoint idx}
CLANG=${CLANG:-clang}
command -v "$CLANG" > /dev/null || { echo "make fuzz needs clang (apt-get install clang)" >&2; exit 1; }

out="$builddir/fuzz"
mkdir -p "$out"
# The library, without the programs' mains.
lib_sources="$(find "$srcdir/src" -name '*.c' ! -path '*/eval/*' ! -path '*/daemon/*' \
               ! -path '*/onnx/*' ! -name mutatord.c ! -name mutator_eval.c | sort)
             $builddir/src/onnx/onnx.pb-c.c $srcdir/tests/fuzz/fuzz_common.c"
cflags="-g -O1 -fsanitize=address,undefined -fno-sanitize-recover=undefined -fopenmp
        -I$srcdir/include -I$srcdir/src/tensor -I$builddir -I$builddir/src/onnx
        -I$srcdir/tests/fuzz $(pkg-config --cflags openblas libconfig zlib libprotobuf-c)"
libs="$(pkg-config --libs openblas libconfig zlib libprotobuf-c) -ldl -lm"
# The library once, instrumented for coverage; then each harness.
echo "== building the library for fuzzing"
mkdir -p "$out/obj"
objects=
for src in $lib_sources; do
    obj="$out/obj/$(echo "$src" | sed 's|^[./]*||; s|/|_|g; s|\.c$|.o|')"
    # shellcheck disable=SC2086
    $CLANG $cflags -fsanitize=fuzzer-no-link -c "$src" -o "$obj"
    objects="$objects $obj"
done
for h in $harnesses; do
    echo "== building fuzz_$h"
    # shellcheck disable=SC2086
    $CLANG $cflags -fsanitize=fuzzer -o "$out/fuzz_$h" "$srcdir/tests/fuzz/fuzz_$h.c" $objects $libs
done
# Real checkpoints as seeds: the payload parser is out of reach otherwise.
case " $harnesses " in *" checkpoint "*)
    mkdir -p "$out/corpus/checkpoint"
    # shellcheck disable=SC2086
    $CLANG $cflags -o "$out/make_checkpoint_seed" "$srcdir/tests/fuzz/make_checkpoint_seed.c" \
        $objects $libs
    rm -rf "$out/corpus/checkpoint/run"
    "$out/make_checkpoint_seed" "$out/corpus/checkpoint" && rm -rf "$out/corpus/checkpoint/run" ;;
esac
for h in $harnesses; do
    mkdir -p "$out/corpus/$h"
    echo "== fuzz_$h: $seconds s"
    (cd "$out" && OMP_NUM_THREADS=1 LSAN_OPTIONS="suppressions=$srcdir/tests/fuzz/lsan.supp" ./"fuzz_$h" -max_total_time="$seconds" \
        -max_len=65536 -artifact_prefix="crash-$h-" -print_final_stats=1 \
        "corpus/$h" "$srcdir/tests/fuzz/corpus/$h" > "$out/$h.log" 2>&1) || true
    grep -E "stat::number_of_executed_units|stat::average_exec_per_sec|stat::new_units_added|stat::peak_rss_mb" "$out/$h.log" || true
    if ls "$out"/crash-"$h"-* > /dev/null 2>&1; then
        echo "fuzz_$h found a crash:" "$out"/crash-"$h"-*
        exit 1
    fi
done
