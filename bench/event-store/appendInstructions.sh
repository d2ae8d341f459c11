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
source bench/callgrind.sh
psql -q "$admin" -c "drop database if exists $db with (force)" -c "create database $db" >/dev/null 2>&1
trap 'psql -q "$admin" -c "drop database if exists $db with (force)" >/dev/null 2>&1' EXIT
echo "migrating $db…" >&2
node --import tsx -e "
  const { runMigrations } = await import('./src/platform/migrations/index.ts');
  const { migrationSets } = await import('./src/composition/services.ts');
  await runMigrations({ url: process.argv[1], sets: migrationSets() });" "$url" >/dev/null
count() {
  BENCH_DATABASE_URL="$url" BENCH_APPENDS="$1" instructions node --single-threaded --import tsx bench/event-store/appendClient.ts
}
echo "counting instructions with $small and $large appends (valgrind: slow)" >&2
echo "$(per_item appends "$small" "$large" count) instructions per append in the client"
