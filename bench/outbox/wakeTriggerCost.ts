/**
 * What the outbox's wake-up trigger costs a producer per INSERT statement (decision 0036), server side
 * only: one backend inserts `BENCH_STATEMENTS` single-row messages into a real outbox (every
 * migration) from a PL/pgSQL loop, with the relay flagged awake (the producers' normal case), under each
 * variant in turn, `BENCH_ROUNDS` rounds in rotating order:
 *
 *   no trigger     the trigger disabled: the INSERT alone
 *   flag only      the first migration's trigger: reads the flag
 *   as built       the fifth migration's (outboxWakeIsolationSql): reads the isolation setting, then the flag
 *
 * Prints microseconds per statement for each variant (mean and each round), and the trigger's share.
 *
 *   DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres node --import tsx bench/outbox/wakeTriggerCost.ts
 */
import pg from 'pg';
import { outboxMigrationsSql, outboxSchemaSql, outboxWakeIsolationSql } from '../../src/platform/outbox/index.ts';
import { adminQuery, dropDatabase, freshDatabase } from '../database.ts';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 8);
const STATEMENTS = Number(process.env.BENCH_STATEMENTS ?? 50_000);
const options = { schema: 'bench', role: 'bench_producer' };

/** The first migration's trigger function, cut out of its DDL. */
const flagOnly = /create function "bench"\.outbox_wake\(\)[\s\S]*?\$fn\$;/.exec(outboxSchemaSql(options))![0].replace('create function', 'create or replace function');
const asBuilt = outboxWakeIsolationSql(options);
const variants: Array<{ name: string; setup: string }> = [
  { name: 'no trigger', setup: 'alter table bench.outbox disable trigger outbox_wake' },
  { name: 'flag only', setup: `alter table bench.outbox enable trigger outbox_wake; ${flagOnly}` },
  { name: 'as built', setup: `alter table bench.outbox enable trigger outbox_wake; ${asBuilt}` },
];

const dbName = 'brigade_bench_wake_trigger';
const client = new pg.Client({ connectionString: await freshDatabase(dbName) });
await client.connect();
try {
  await client.query(`create schema bench`);
  await client.query(`do $$ begin create role bench_producer; exception when duplicate_object then null; end $$`);
  for (const sql of outboxMigrationsSql(options)) await client.query(sql);
  await client.query(`update bench.outbox_state set sleeping = false`);
  await client.query(`create procedure bench.produce(n int, inout us float8) language plpgsql as $p$
    declare t0 timestamptz := clock_timestamp();
    begin
      for i in 1..n loop
        insert into bench.outbox (message_id, subject, aggregate_key, headers, payload)
        values (gen_random_uuid(), 'bench.order.placed', 'k', '{"tenant":""}', '{"n":1}');
      end loop;
      us := extract(epoch from clock_timestamp() - t0) * 1e6 / n;
    end $p$`);
  const rounds = new Map<string, number[]>(variants.map((v) => [v.name, []]));
  for (let round = 0; round < ROUNDS; round++) {
    for (let i = 0; i < variants.length; i++) {
      const v = variants[(round + i) % variants.length]!;
      await client.query(v.setup);
      const { rows } = await client.query<{ us: number }>(`call bench.produce($1, null)`, [STATEMENTS]);
      rounds.get(v.name)!.push(rows[0]!.us);
      await client.query(`truncate bench.outbox`);
    }
    process.stdout.write(`round ${round + 1}/${ROUNDS} done\n`);
  }
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  const base = mean(rounds.get('no trigger')!);
  for (const [name, xs] of rounds) {
    const m = mean(xs);
    console.log(`${name.padEnd(10)} ${m.toFixed(2)} µs/statement (trigger ${(m - base).toFixed(2)} µs)   rounds ${xs.map((x) => x.toFixed(2)).join(' ')}`);
  }
} finally {
  await client.end();
  await dropDatabase(dbName);
  await adminQuery(`drop role if exists bench_producer`);
}
