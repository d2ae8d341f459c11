import type pg from 'pg';
import { unitOfWork } from '../../../src/platform/db/index.ts';
import { writeToOutbox } from '../../../src/platform/outbox/index.ts';

export { waitFor, token, deferred } from '../messaging/support.ts';

export const TENANT = '0198c3a0-0000-7000-8000-0000000000aa';

/** One business transaction of the delivery service that writes message `seq` of aggregate `key`. */
export async function produce(pool: pg.Pool, subject: string, key: string, seq: number): Promise<string> {
  const [id] = await unitOfWork(pool, { service: 'delivery', tenantId: TENANT, actor: { kind: 'staff', id: TENANT } }, (tx) =>
    writeToOutbox(tx, [{ subject, key, payload: { key, seq } }]),
  );
  return id!;
}

/** Rows of the delivery outbox as the relay sees them (actor kind system); `published`: at or before the relay's checkpoint. */
export async function outboxRows(pool: pg.Pool): Promise<Array<{ id: string; message_id: string; aggregate_key: string; published: boolean }>> {
  return unitOfWork(pool, { service: 'delivery', actor: { kind: 'system', id: 'test' } }, async (tx) =>
    (
      await tx.query<{ id: string; message_id: string; aggregate_key: string; published: boolean }>(
        `select o.id, o.message_id, o.aggregate_key, (o.transaction_id, o.id) <= (s.relayed_transaction_id, s.relayed_id) as published
           from delivery.outbox o, delivery.outbox_state s order by o.id`,
      )
    ).rows,
  );
}

/** Groups consumed messages' `seq` by aggregate key, in consumption order. */
export function sequencesByKey(messages: ReadonlyArray<{ readonly payload: unknown }>): Map<string, number[]> {
  const out = new Map<string, number[]>();
  for (const m of messages) {
    const p = m.payload as { key: string; seq: number };
    const list = out.get(p.key) ?? [];
    list.push(p.seq);
    out.set(p.key, list);
  }
  return out;
}

/**
 * The client, among `clients` (a pool's, collected from its `connect` event), whose session holds the
 * relay's leader lock of the outbox `schema` (createRelay: `pg_try_advisory_lock(0x6f757462,
 * hashtext('brigade_outbox:<schema>'))`). Asked on `admin`.
 */
export async function relayLockHolder(admin: pg.Pool, clients: readonly pg.Client[], schema: string): Promise<pg.Client> {
  const { rows } = await admin.query<{ pid: number }>(
    `select pid from pg_locks
      where locktype = 'advisory' and granted and objsubid = 2 and database = (select oid from pg_database where datname = current_database())
        and classid = $1::int::oid and objid = hashtext($2)::oid`,
    [0x6f75_7462, `brigade_outbox:${schema}`],
  );
  const pid = rows[0]?.pid;
  const holder = clients.find((c) => (c as pg.Client & { processID?: number }).processID === pid);
  if (holder === undefined) throw new Error(`no client of the pool holds the leader lock of the outbox ${schema} (held by ${pid ?? 'nobody'})`);
  return holder;
}
