#!/bin/sh
# check_safety.sh - the run directory is the owner's: created 0700, every
# file 0600 (whatever the umask allows more); the pidfile, the log and the
# checkpoints are never written through a symlink planted in the run
# directory; each plugin load is logged; the daemon holds no socket.
set -u
srcdir=${srcdir:-.}
dir=$(mktemp -d /tmp/mutatord-check-safety-XXXXXX)
trap 'rm -rf "$dir"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
. "$srcdir/tests/tiny_space.sh"
{ echo "plugins = [\"$PWD/tests/.libs/plugin_shared_op.so\"];"; tiny_space; cat <<CONF
train = { epochs = 3; batch_size = 32; checkpoint_every = 20; };
search = { generations = 1; population = 4; top_k = 2; num_mutation = 1; num_crossover = 1;
           batch_size = 100; };
CONF
} > "$dir/tiny.conf"

# Modes, with a permissive umask: the program sets its own.
(umask 000 && ./mutatord -c "$dir/tiny.conf" -r "$dir/run/nested" > "$dir/out" 2>&1 &
 echo $! > "$dir/pid"; wait) &
i=0
while [ ! -s "$dir/run/nested/mutatord.pid" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
pid=$(cat "$dir/run/nested/mutatord.pid")
# While it runs: no socket among its descriptors.
sockets=$(ls -l "/proc/$pid/fd" 2> /dev/null | grep -c 'socket:')
[ "$sockets" -eq 0 ] || fail "the daemon holds $sockets socket(s)"
wait
grep -q '"phase": "done"' "$dir/run/nested/status.json" || { cat "$dir/out"; fail "the run failed"; }
for d in "$dir/run" "$dir/run/nested" "$dir/run/nested/best"; do
    [ "$(stat -c %a "$d")" = 700 ] || fail "$d is $(stat -c %a "$d"), not 700"
done
loose=$(find "$dir/run/nested" -type f ! -perm 600)
[ -z "$loose" ] || fail "files not 0600: $loose"
grep -q "plugin $PWD/tests/.libs/plugin_shared_op.so loaded" "$dir/run/nested/mutatord.log" \
    || fail "the plugin load is not logged"

# Symlinks planted where the daemon writes: refused, or replaced, never followed.
mkdir -m 700 "$dir/trap"
echo victim > "$dir/victim"
ln -s "$dir/victim" "$dir/trap/mutatord.pid"
./mutatord -c "$dir/tiny.conf" -r "$dir/trap" > "$dir/out" 2>&1 && fail "a symlinked pidfile was accepted"
rm "$dir/trap/mutatord.pid"
ln -s "$dir/victim" "$dir/trap/mutatord.log"
./mutatord -c "$dir/tiny.conf" -r "$dir/trap" > "$dir/out" 2>&1 && fail "a symlinked log was accepted"
rm "$dir/trap/mutatord.log"
# Temp files are where files are written before their rename.
ln -s "$dir/victim" "$dir/trap/train-0000000020.ckpt.tmp"
ln -s "$dir/victim" "$dir/trap/history.csv.tmp"
ln -s "$dir/victim" "$dir/trap/status.json.tmp"
./mutatord -c "$dir/tiny.conf" -r "$dir/trap" > "$dir/out" 2>&1 || { cat "$dir/out"; fail "the run with planted temp-file links failed"; }
[ "$(cat "$dir/victim")" = victim ] || fail "a file was written through a symlink"
links=$(find "$dir/trap" -type l)
[ -z "$links" ] || fail "planted links left in place: $links"
echo "PASS: modes 0700/0600, no symlink followed, plugin loads logged, no socket"
