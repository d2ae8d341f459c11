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
# Needs valgrind. Compare two commits by running this in a worktree of each.
set -euo pipefail
small=${SMALL:-2000}
large=${LARGE:-6000}
db=brigade_bench_append_instructions
cd "$(dirname "$0")/../.."
source bench/callgrind.sh
trap 'node --import tsx -e "await (await import(\"./bench/database.ts\")).dropDatabase(process.argv[1])" "$db"' EXIT
echo "migrating $db…" >&2
url=$(node --import tsx -e "
  const { freshDatabase } = await import('./bench/database.ts');
  const { runMigrations } = await import('./src/platform/migrations/index.ts');
  const { migrationSets } = await import('./src/composition/services.ts');
  const url = await freshDatabase(process.argv[1]);
  await runMigrations({ url, sets: migrationSets() });
  process.stdout.write(url);" "$db")
count() {
  BENCH_DATABASE_URL="$url" BENCH_APPENDS="$1" instructions node --single-threaded --import tsx bench/event-store/appendClient.ts
}
echo "counting instructions with $small and $large appends (valgrind: slow)" >&2
echo "$(per_item appends "$small" "$large" count) instructions per append in the client"
