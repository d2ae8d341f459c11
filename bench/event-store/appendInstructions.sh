#!/usr/bin/env bash
# Instructions the client (this Node process: validation, metadata, the batch's bytes, parsing the
# results) executes per append: a count the machine's speed does not move, where CPU time per append
# does. Runs bench/event-store/appendClient.ts under valgrind's callgrind with SMALL and LARGE appends
# and divides the difference of the totals by the difference of the appends, so start-up cancels out.
# Repeats agree within about 2.5 % (one writer, V8 single-threaded): compare changes larger than that,
# or repeat. About 10 s per 1,000 appends.
#
#   DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres bench/event-store/appendInstructions.sh
#   SMALL=2000 LARGE=6000
#
# Needs valgrind and psql. Compare two commits by running this in a worktree of each.
set -euo pipefail
small=${SMALL:-2000}
large=${LARGE:-6000}
admin=${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres}
db=brigade_bench_append_instructions
url="${admin%/*}/$db"
cd "$(dirname "$0")/../.."
command -v valgrind >/dev/null || { echo "valgrind is not installed (apt-get install valgrind)" >&2; exit 1; }
psql -q "$admin" -c "drop database if exists $db with (force)" -c "create database $db" >/dev/null 2>&1
trap 'psql -q "$admin" -c "drop database if exists $db with (force)" >/dev/null 2>&1' EXIT
echo "migrating $db…" >&2
node --import tsx -e "
  const { runMigrations } = await import('./src/platform/migrations/index.ts');
  const { migrationSets } = await import('./src/composition/services.ts');
  await runMigrations({ url: process.argv[1], sets: migrationSets() });" "$url" >/dev/null
count() {
  local out
  out=$(BENCH_DATABASE_URL="$url" BENCH_APPENDS="$1" valgrind --tool=callgrind --callgrind-out-file=/dev/null --smc-check=all-non-file \
    node --single-threaded --import tsx bench/event-store/appendClient.ts 2>&1) || { echo "$out" >&2; exit 1; }
  grep -oE 'Collected : [0-9]+' <<<"$out" | grep -oE '[0-9]+$'
}
echo "counting instructions with $small and $large appends (valgrind: slow)" >&2
a=$(count "$small")
echo "  $small appends: $a instructions" >&2
b=$(count "$large")
echo "  $large appends: $b instructions" >&2
echo "$(( (b - a) / (large - small) )) instructions per append in the client"
