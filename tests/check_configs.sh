#!/bin/sh
# check_configs.sh - every shipped config passes `mutatord --check`; the
# reference space reports its 16,777,216 subnets; a broken config exits 78
# with its file and line.
set -u
srcdir=${srcdir:-.}
fail() { echo "FAIL: $*" >&2; exit 1; }

for conf in "$srcdir"/conf/*.conf; do
    ./mutatord -c "$conf" --check > check.out 2>&1 || { cat check.out >&2; fail "$conf does not pass --check"; }
done
./mutatord -c "$srcdir/conf/spos-fmnist.conf" --check > check.out 2>&1
grep -q '^subnets: 16,777,216$' check.out || { cat check.out >&2; fail "spos-fmnist does not report 16,777,216 subnets"; }

sed 's/channels = 96;  stride = 2;/channels = 96;  strde = 2;/' "$srcdir/conf/spos-fmnist.conf" > broken.conf
./mutatord -c broken.conf --check > check.out 2>&1
code=$?
[ "$code" -eq 78 ] || fail "a broken config exits $code, not 78"
grep -q 'broken.conf:[0-9]*: supernet.stages\[1\].strde: unknown key' check.out || { cat check.out >&2; fail "no file:line message"; }
rm -f check.out broken.conf
echo "PASS: shipped configs"
