#!/usr/bin/env bash
# Instructions the relay's Node process executes per relayed row: a count that does not move with the
# machine's speed, where CPU time per row does (±30 % between runs of bench/outbox/drain.ts on the
# shared 2-core machine). Runs the drain twice under valgrind's callgrind, with SMALL and LARGE rows,
# and divides the difference of the two totals by the difference of the rows, so start-up (module
# loading, compiling, the stream's set-up) cancels out. About 2 minutes per 10,000 rows.
#
#   NATS_URL=nats://127.0.0.1:4222 bench/outbox/drainInstructions.sh [nats|postgres]
#   SMALL=10000 LARGE=25000 BATCH=48 PAYLOAD=order|small (48 rows: a batch of the commit → handler benchmark)
#
# Needs valgrind. Compare two commits by running this in a worktree of each (same SMALL, LARGE), one
# right after the other, and never two at once (their streams' subjects overlap). The count is not
# fixed: under valgrind the relay's rounds still depend on timing (how many rows each claim finds), and
# the same commit gave 95,409 and 132,588 per row in runs minutes apart (3 Dec 2026); two versions
# measured back to back agreed in direction and size in every pair (decision 0061, revisited).
set -euo pipefail
kind=${1:-nats}
small=${SMALL:-10000}
large=${LARGE:-25000}
batch=${BATCH:-48}
cd "$(dirname "$0")/../.."
source bench/callgrind.sh
count() {
  BENCH_ROUNDS=1 BENCH_BATCH="$batch" BENCH_ROWS="$1" BENCH_PAYLOAD="${PAYLOAD:-order}" instructions node --import tsx bench/outbox/drain.ts "$kind"
}
echo "relay → $kind, batches of $batch: counting instructions with $small and $large rows (valgrind: slow)" >&2
echo "$kind: $(per_item rows "$small" "$large" count) instructions per row in the relay's Node process"
