import pg from 'pg';
import { acquireClient } from './acquireClient.ts';
import { sendBatch, StatementValueError } from './sendBatch.ts';
import type { Statement } from './transactionSetup.ts';

/** One caller's transaction: its statements, in order, and where its own results start and end. */
export interface CommitUnit {
  /** Every statement of the unit: its settings, its setup (fence) and its own statements. */
  readonly statements: readonly Statement[];
  /** The results the caller gets back: `statements.slice(from, to)`. */
  readonly from: number;
  readonly to: number;
}

/** Options of {@link groupCommitter}. */
export interface GroupCommitOptions {
  /** Batches in flight at once on the pool (each holds one connection). Default {@link DEFAULT_GROUP_COMMIT.maxInFlight}. */
  readonly maxInFlight?: number;
  /** Units merged into one transaction at most. Default {@link DEFAULT_GROUP_COMMIT.maxUnits}. */
  readonly maxUnits?: number;
  /**
   * How long queued units wait for their share while a slot is free (decision 0076), in ms: after
   * that they go as they are, so a batch held up in flight (a lock wait, a slow statement) delays the
   * others by at most this. Default {@link DEFAULT_GROUP_COMMIT.maxShareWaitMs}.
   */
  readonly maxShareWaitMs?: number;
}

/**
 * Defaults chosen by `bench/event-store/run.ts` and `bench/messaging/commitToHandler.ts`
 * (docs/decisions/0055): with 16 writers and PostgreSQL on two cores, two batches in flight (one per
 * core: a batch runs serially in its backend) gave more appends/s and more producer transactions/s
 * than 1, 3, 4 or 8. A server with more cores wants more (`DATABASE_COMMITS_IN_FLIGHT`).
 */
export const DEFAULT_GROUP_COMMIT = Object.freeze({ maxInFlight: 2, maxUnits: 64, maxShareWaitMs: 10 });

interface Pending {
  readonly unit: CommitUnit;
  resolve(results: pg.QueryResult[]): void;
  reject(error: unknown): void;
}

/** Runs units of work, merging those that wait into one transaction. */
export interface GroupCommitter {
  /** Commits `unit` (alone or with others) and resolves with its results, or rejects with its own error. */
  commit(unit: CommitUnit): Promise<pg.QueryResult[]>;
}

const committers = new WeakMap<pg.Pool, GroupCommitter>();

/**
 * Sets the group-commit limits of `pool`: its next commits go through a committer with these limits.
 * Platform wiring and benchmarks.
 *
 * @example
 * configureGroupCommit(pool, { maxInFlight: 1 }); // every waiting unit in one transaction
 */
export function configureGroupCommit(pool: pg.Pool, options: GroupCommitOptions): void {
  committers.set(pool, groupCommitter(pool, options));
}

/** The pool's committer, created with the default limits on first use. */
export function groupCommitterOf(pool: pg.Pool): GroupCommitter {
  let committer = committers.get(pool);
  if (committer === undefined) {
    committer = groupCommitter(pool);
    committers.set(pool, committer);
  }
  return committer;
}

/**
 * Group commit for one-round-trip units (docs/decisions/0055). A batch goes out as ONE implicit
 * transaction: each unit's own settings statement (role, tenant, actor), its fence and its statements,
 * one after another, one Sync, one commit and one WAL flush for all of them. Settings are
 * transaction-local and set again by each unit, so Row-Level Security sees each unit's tenant. A unit
 * with setup statements of its own besides these (a statement or lock timeout, no flush wait) runs in a
 * transaction of its own, after the units before it in the batch: what it sets for the rest of the
 * transaction would reach the units after it.
 *
 * Each batch takes its share of the work outstanding (decision 0076): while fewer than `maxInFlight`
 * batches are out, the queued units go once they are at least the units outstanding (queued and in
 * flight) divided by `maxInFlight`, up to `maxUnits`. A unit that finds nothing in flight therefore
 * goes at once (an idle system adds no wait), and under load the batches in flight carry equal shares
 * instead of one carrying nearly every unit and the other a unit or two in transactions of their own.
 * Units that cannot go yet wait for the next batch to finish, as they would with every slot busy, or
 * at most `maxShareWaitMs`: a batch held up in flight does not hold them for longer.
 *
 * Failure stays per caller. A database error rolls the whole transaction back (nothing of it
 * committed), so the units are run again: those before the failing one together, the failing one
 * alone (its error, from its own transaction, is what its caller gets) and those after it together.
 * When no unit can be blamed (a failure at commit) each unit runs alone. A lost connection rejects
 * every unit of the batch, as it would a single one: whether it committed is unknown.
 *
 * Units whose statements all carry a `merge` (an event append with its settings and fence) run merged
 * (docs/decisions/0063): two or more with the same signature become ONE statement per statement kind
 * (one settings statement, one fence for all their tenants, one append for all their streams), sent
 * after the other units. The server's cost is per statement far more than per row, so this halves a
 * unit's CPU. A merged statement that fails cannot say whose unit failed, so the group runs again
 * unmerged and each caller gets its own result or error.
 */
export function groupCommitter(pool: pg.Pool, options: GroupCommitOptions = {}): GroupCommitter {
  const maxInFlight = options.maxInFlight ?? DEFAULT_GROUP_COMMIT.maxInFlight;
  const maxUnits = options.maxUnits ?? DEFAULT_GROUP_COMMIT.maxUnits;
  const queue: Pending[] = [];
  let inFlight = 0;
  const maxShareWaitMs = options.maxShareWaitMs ?? DEFAULT_GROUP_COMMIT.maxShareWaitMs;
  /** Units in the batches in flight. */
  let unitsInFlight = 0;
  /** Armed while queued units wait for their share with a slot free; when it fires they go as they are. */
  let shareWait: NodeJS.Timeout | undefined;

  const pump = (waited = false) => {
    while (inFlight < maxInFlight && queue.length > 0) {
      const share = Math.min(maxUnits, Math.ceil((queue.length + unitsInFlight) / maxInFlight));
      if (queue.length < share && !waited) {
        // The batch in flight brings the rest when it finishes; if it is held up, the timer sends these.
        shareWait ??= setTimeout(() => {
          shareWait = undefined;
          pump(true);
        }, maxShareWaitMs);
        return;
      }
      clearTimeout(shareWait);
      shareWait = undefined;
      const batch = queue.splice(0, waited ? maxUnits : share);
      inFlight++;
      unitsInFlight += batch.length;
      void runGroup(batch).finally(() => {
        inFlight--;
        unitsInFlight -= batch.length;
        pump();
      });
    }
  };

  const runGroup = async (group: readonly Pending[], merging = true): Promise<void> => {
    if (group.length === 0) return;
    if (group.length > 1 && group.some(needsOwnTransaction)) {
      // In order: the units that can share a transaction together, each of the others alone.
      let shared: Pending[] = [];
      for (const p of group) {
        if (!needsOwnTransaction(p)) {
          shared.push(p);
          continue;
        }
        await runGroup(shared, merging);
        shared = [];
        await runGroup([p]);
      }
      return runGroup(shared, merging);
    }
    const merged = merging && group.length > 1 ? mergeableSections(group) : [];
    const inMerged = new Set(merged.flat());
    const singles = merged.length === 0 ? group : group.filter((p) => !inMerged.has(p));
    const statements: Statement[] = [];
    const offsets: number[] = [];
    for (const p of singles) {
      offsets.push(statements.length);
      for (const s of p.unit.statements) statements.push(s);
    }
    const mergedAt: number[] = [];
    for (const section of merged) {
      mergedAt.push(statements.length);
      for (const s of mergeStatements(section.map((p) => p.unit.statements))) statements.push(s);
    }
    let client: pg.PoolClient;
    try {
      client = await acquireClient(pool);
    } catch (error) {
      for (const p of group) p.reject(error);
      return;
    }
    let results: pg.QueryResult[];
    try {
      results = await sendBatch(client, statements);
      client.release();
    } catch (error) {
      // An implicit transaction: the server rolled it back at the Sync; the connection is reusable
      // unless it broke (pg-pool drops it when released with an error).
      // A value that could not be sent failed before anything was: the statement is known, as for one
      // PostgreSQL refused, and the connection is fine.
      const perStatement = error instanceof pg.DatabaseError || error instanceof StatementValueError;
      client.release(perStatement ? undefined : (error as Error));
      if (group.length === 1 || !perStatement) {
        for (const p of group) p.reject(error);
        return;
      }
      // A merged statement fails for one unit (a stale version, a moved tenant) without saying which:
      // the group runs again unmerged, where each failure is its own unit's.
      if (merged.length > 0) return runGroup(group, false);
      const failed = (error as { batchIndex?: number }).batchIndex ?? -1;
      const culprit = offsets.findLastIndex((offset) => offset <= failed);
      if (culprit < 0 || failed >= statements.length) {
        for (const p of group) await runGroup([p]);
        return;
      }
      await runGroup(group.slice(0, culprit));
      await runGroup([group[culprit]!]);
      await runGroup(group.slice(culprit + 1));
      return;
    }
    singles.forEach((p, i) => p.resolve(results.slice(offsets[i]! + p.unit.from, offsets[i]! + p.unit.to)));
    merged.forEach((section, m) => {
      const units = section.map((p) => p.unit.statements);
      const split = splitMergedResults(units, results.slice(mergedAt[m]!, mergedAt[m]! + units[0]!.length));
      section.forEach((p, i) => p.resolve(split[i]!.slice(p.unit.from, p.unit.to)));
    });
  };

  return {
    commit(unit) {
      return new Promise((resolve, reject) => {
        queue.push({ unit, resolve, reject });
        pump();
      });
    },
  };
}

/**
 * Whether a unit must not share its transaction: a setup statement of its own without a `merge` (a
 * `localTimeouts`, a `NO_FLUSH_WAIT`, any `set_config(…, true)`) may change what stays set for the
 * rest of the transaction, and each unit resets only its role, tenant and actor. The settings and the
 * tenant fence carry a `merge`: they set only what every unit sets again.
 */
function needsOwnTransaction(p: Pending): boolean {
  for (let i = 0; i < p.unit.from; i++) if (p.unit.statements[i]!.merge === undefined) return true;
  return false;
}

/**
 * The units that can run merged, in sections of two or more with equal signatures (every statement
 * has a merge, and their ids and keys agree in order); the others are left out.
 */
function mergeableSections(group: readonly Pending[]): Pending[][] {
  const sections = new Map<string, Pending[]>();
  for (const p of group) {
    const signature = mergeSignature(p.unit.statements);
    if (signature === undefined) continue;
    const section = sections.get(signature);
    if (section === undefined) sections.set(signature, [p]);
    else section.push(p);
  }
  return [...sections.values()].filter((section) => section.length > 1);
}

function mergeSignature(statements: readonly Statement[]): string | undefined {
  let signature = '';
  for (const s of statements) {
    if (s.merge === undefined) return undefined;
    const key = s.merge.key === undefined ? '' : s.merge.key(s.values ?? []);
    if (key === undefined) return undefined;
    signature += `${s.merge.id}\u0000${key}\u0001`;
  }
  return signature;
}

/**
 * The statements that run `units` (statement lists of equal merge signatures, one per unit of work) as
 * one: statement i of every unit merged into one statement (`StatementMerge.statement`). The group
 * committer sends them; exported for benchmarks that measure the merged batch.
 */
export function mergeStatements(units: readonly (readonly Statement[])[]): Statement[] {
  return units[0]!.map((s, i) => s.merge!.statement(units.map((u) => u[i]!.values ?? [])));
}

const EMPTY_RESULT = Object.freeze({ command: '', rowCount: 0, oid: 0, fields: [], rows: [] }) as unknown as pg.QueryResult;

/** Each unit's results, statement by statement, from the results of {@link mergeStatements}. */
function splitMergedResults(units: readonly (readonly Statement[])[], results: readonly pg.QueryResult[]): pg.QueryResult[][] {
  const perUnit: pg.QueryResult[][] = units.map(() => []);
  units[0]!.forEach((s, i) => {
    const split = s.merge!.split?.(results[i]!, units.map((u) => u[i]!.values ?? []));
    perUnit.forEach((unitResults, u) => unitResults.push(split?.[u] ?? EMPTY_RESULT));
  });
  return perUnit;
}
