import assert from 'node:assert/strict';
import { test } from 'node:test';
import type pg from 'pg';
import { createReplicaReads, type ReplicaReadsOptions } from '../../../src/platform/db/index.ts';

// The routing's own bookkeeping, with the interleaving forced: the two pools are stand-ins that answer
// the reading's one query each (the primary's held until the test lets it go), so a write of the same
// actor, or enough other actors to fill the map, lands while a read waits for its reading. A real
// standby pair (test/platform/readReplica.int.test.ts) cannot hold the primary's position query
// between two steps of the routing.

/** A primary at WAL position `primaryAt` whose position query waits for `release()`; a standby that has replayed `replayed`. */
const servers = (primaryAt: bigint, replayed: bigint) => {
  const identity = { database: 'brigade', system: '7000000000000000001' };
  let held: (() => void) | null = null;
  let hold = true;
  let reached: () => void = () => undefined;
  const reachedPrimary = new Promise<void>((resolve) => (reached = resolve));
  const primary = {
    query: async () => {
      if (hold) {
        hold = false;
        reached();
        await new Promise<void>((resolve) => (held = resolve));
      }
      return { rows: [{ lsn: String(primaryAt), now_ms: Date.now(), ...identity }] };
    },
  } as unknown as pg.Pool;
  // Replayed a commit 10 ms ago: well within the lag bound, so only the actor's own write decides.
  const replica = {
    query: async () => ({ rows: [{ recovery: true, replayed: String(replayed), commit_ms: Date.now() - 10, ...identity }] }),
    totalCount: 0,
    waitingCount: 0,
    options: { max: 1 },
  } as unknown as pg.Pool;
  return { primary, replica, reachedPrimary, release: () => held?.() };
};

const routing = (primaryAt: bigint, replayed: bigint, options: Partial<ReplicaReadsOptions> = {}) => {
  const pools = servers(primaryAt, replayed);
  const routes: string[] = [];
  const reads = createReplicaReads({
    primary: pools.primary,
    replica: pools.replica,
    statusTtlMs: 0,
    onRoute: (target, reason) => routes.push(`${target}/${reason}`),
    ...options,
  });
  return { ...pools, routes, reads };
};

test("a read waiting for its reading stays on the primary when its actor writes again meanwhile, while the standby lacks the first write", async () => {
  // Before: the second write replaced the actor's entry in the map, the reading filled in only the
  // entries still there, and the held one, its position unknown, counted as nothing to wait for: the
  // read went to the standby as `fresh` (replica/fresh).
  const r = routing(100n, 50n);
  r.reads.wrote('staff:a');
  const chosen = r.reads.poolFor('staff:a');
  await r.reachedPrimary;
  r.reads.wrote('staff:a');
  r.release();
  const pool = await chosen;
  assert.deepEqual(r.routes, ['primary/own-write']);
  assert.equal(pool, r.primary);
});

test('a read waiting for its reading stays on the primary when other writers fill the map meanwhile, while the standby lacks its write', async () => {
  // Before: the full map was cleared for one mark of every actor, taken after the reading began; the
  // held entry left the map with it and was never filled in (replica/fresh).
  const r = routing(100n, 50n, { maxTrackedActors: 1 });
  r.reads.wrote('staff:a');
  const chosen = r.reads.poolFor('staff:a');
  await r.reachedPrimary;
  r.reads.wrote('staff:b');
  r.release();
  const pool = await chosen;
  assert.deepEqual(r.routes, ['primary/own-write']);
  assert.equal(pool, r.primary);
});

test('the same interleavings read the standby once it has replayed the write', async () => {
  for (const [other, options] of [
    ['staff:a', {}],
    ['staff:b', { maxTrackedActors: 1 }],
  ] as const) {
    const r = routing(100n, 100n, options);
    r.reads.wrote('staff:a');
    const chosen = r.reads.poolFor('staff:a');
    await r.reachedPrimary;
    r.reads.wrote(other);
    r.release();
    const pool = await chosen;
    assert.deepEqual(r.routes, ['replica/fresh'], other);
    assert.equal(pool, r.replica, other);
  }
});
