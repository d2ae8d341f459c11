#!/usr/bin/env bash
# Server-side cost of an append's parts, without a Node client: pgbench runs the production statements
# (role and settings, append_events, the tenant fence, the outbox row as a second statement or, as the
# ordering store does since decision 0058, in the append's own statement) as custom scripts, 16 clients,
# each script in turn for ROUNDS rounds (default 3). Needs a database migrated by brigade:
#   createdb -h 127.0.0.1 -U postgres brigade_bench_parts
#   DATABASE_URL=postgres://postgres@127.0.0.1:5432/brigade_bench_parts npx brigade migrate
#   bench/event-store/pgbench/run.sh postgres://postgres@127.0.0.1:5432/brigade_bench_parts
# CPU-bound instead of commit-bound (decision 0058): PGOPTIONS='-c synchronous_commit=off' CLIENTS=8 run.sh …
set -euo pipefail
url=${1:?database URL of a migrated brigade database}
rounds=${ROUNDS:-3}
clients=${CLIENTS:-16}
cd "$(dirname "$0")"
# Producers see the relay awake (no NOTIFY), as while a relay runs.
psql -q "$url" -c "update ordering.outbox_state set sleeping = false"
for r in $(seq 1 "$rounds"); do
  for script in append append-fence append-fence-outbox append-fence-outbox-in-append; do
    out=$(pgbench -n -M prepared -c "$clients" -j 2 -T 4 -f "$script.sql" "$url" 2>&1) || true
    tps=$(grep -o 'tps = [0-9]*' <<<"$out" | cut -d' ' -f3 || true)
    if [ -n "$tps" ]; then echo "round $r  $script  $tps tps"; else echo "round $r  $script  failed: $(grep -m1 -i error <<<"$out")"; fi
  done
done
