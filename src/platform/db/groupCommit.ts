import pg from 'pg';
import { acquireClient, DatabaseBusyError } from './acquireClient.ts';
import { asDatabaseUnavailable } from './databaseUnavailable.ts';
import { sendBatch, StatementValueError } from './sendBatch.ts';
import type { Statement } from './transactionSetup.ts';
import { unanswered } from './unitOfWork.ts';

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
  /**
   * After how long in flight a batch stops counting against `maxInFlight`, in ms: a batch held up (a
   * row lock, a slow statement) leaves its slot to the units queued behind it, up to the pool's size.
   * Checked by one timer of the committer, armed only while units wait with every slot taken: a batch
   * is found held up at most this long after it has been out this long. Default
   * {@link DEFAULT_GROUP_COMMIT.heldUpAfterMs}.
   */
  readonly heldUpAfterMs?: number;
}

/**
 * Defaults chosen by `bench/event-store/run.ts` and `bench/messaging/commitToHandler.ts`
 * (docs/decisions/0055): with 16 writers and PostgreSQL on two cores, two batches in flight (one per
 * core: a batch runs serially in its backend) gave more appends/s and more producer transactions/s
 * than 1, 3, 4 or 8. A server with more cores wants more (`DATABASE_COMMITS_IN_FLIGHT`).
 */
export const DEFAULT_GROUP_COMMIT = Object.freeze({
  maxInFlight: 2,
  maxUnits: 64,
  maxShareWaitMs: 10,
  /**
   * 100 ms (decision 0055, "Fixed later", thirty-eighth session): fifty times a batch's round trip
   * under the benchmark's load (1.9 ms, decision 0076) and seven times the worst p99 measured there
   * (13.5 ms), so a batch that is merely busy keeps its slot and the limit keeps merging; a tenth of
   * PostgreSQL's `deadlock_timeout` and a fiftieth of the default acquire timeout (5 s), so units
   * behind batches stuck on a lock go long before they would be given up. A check frees held-up
   * batches' slots before it gives up queued units, so even at the smallest acquire timeout allowed
   * (100 ms) units behind batches already stuck when they queued go rather than fail.
   */
  heldUpAfterMs: 100,
});

interface Pending {
  readonly unit: CommitUnit;
  resolve(results: pg.QueryResult[]): void;
  reject(error: unknown): void;
}

/** A batch in flight. */
interface InFlight {
  /** Its units, counted in `unitsInFlight` until it is held up. */
  readonly units: number;
  /** The check armed last when it went: a check armed later that finds it still out finds it held up. */
  readonly check: number;
  /** Out for longer than `heldUpAfterMs`: no longer counted against `maxInFlight`. */
  heldUp: boolean;
}

/** Units queued at or before `at` (performance.now()): the units numbered below `upTo`, counting every unit ever queued. */
interface QueueMark {
  readonly at: number;
  readonly upTo: number;
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
 * `maxInFlight` is a target, not a wall: a batch out for longer than `heldUpAfterMs` (waiting on a
 * row lock, a slow statement) stops counting against it, so the units queued behind batches stuck on
 * one row still go, each further batch on a connection of its own, up to the pool's size. Units that
 * still wait longer than the pool's acquire timeout (the pool full of held-up batches) fail with
 * {@link DatabaseBusyError}, as a caller of a full pool does. Both are the work of one timer, armed
 * only while units wait with every slot taken; nothing is timed per unit.
 *
 * Failure stays per caller. A database error rolls the whole transaction back (nothing of it
 * committed), so the units are run again: those before the failing one together, the failing one
 * alone (its error, from its own transaction, is what its caller gets) and those after it together.
 * When no unit can be blamed (a failure at commit) each unit runs alone. A lost connection rejects
 * every unit of the batch, as it would a single one: whether it committed is unknown. A server that
 * ends the session mid-batch (57P01 `pg_terminate_backend` or a shutdown, an 08 error) answers first:
 * the transaction did not commit. The connection is dropped, the unit whose statement was running is
 * told nothing was written (`DATABASE_UNAVAILABLE`, phase `work`; it is not run again: the session may
 * have been ended for that very statement) and the others run again on another connection.
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
  const heldUpAfterMs = options.heldUpAfterMs ?? DEFAULT_GROUP_COMMIT.heldUpAfterMs;
  /** pg-pool's own default size. */
  const poolSize = pool.options.max ?? 10;
  /** Units in the batches in flight that are not held up. */
  let unitsInFlight = 0;
  /** Armed while queued units wait for their share with a slot free; when it fires they go as they are. */
  let shareWait: NodeJS.Timeout | undefined;

  // The stuck path: one timer, armed only while units wait with every slot taken (under load about
  // every `heldUpAfterMs`, never while the committer keeps up). No clock is read per unit or per batch:
  // a batch that was out when the check was armed and is still out when it fires has been out for
  // `heldUpAfterMs`, and the units queued when a check was armed (its mark) have waited at least as
  // long as the mark is old. A unit is given up between the acquire timeout and two checks later.
  const batches = new Set<InFlight>();
  /** Batches in flight that are held up. */
  let heldUp = 0;
  /** Checks armed so far. */
  let checks = 0;
  let check: NodeJS.Timeout | undefined;
  /** Units ever taken from the queue (sent, or given up). */
  let taken = 0;
  const marks: QueueMark[] = [];

  const armCheck = () => {
    checks++;
    marks.push({ at: performance.now(), upTo: taken + queue.length });
    check = setTimeout(runCheck, heldUpAfterMs);
  };

  const runCheck = () => {
    check = undefined;
    // Held-up batches leave their slots first, and the units behind them go at once, as the share
    // wait's timer sends them (not waiting for a share: their wait is already counted against the
    // acquire timeout), so none is given up below while a slot is free.
    for (const b of batches) {
      if (b.heldUp || b.check >= checks) continue;
      b.heldUp = true;
      heldUp++;
      unitsInFlight -= b.units;
    }
    pump(true);
    // Units still queued after the pool's acquire timeout (pg-pool's 0: for ever) fail as a caller of
    // a full pool fails: the connections they could take are in held-up batches.
    while (marks.length > 0 && marks[0]!.upTo <= taken) marks.shift();
    const acquireTimeoutMs = pool.options.connectionTimeoutMillis ?? 0;
    if (acquireTimeoutMs <= 0) return;
    const now = performance.now();
    let expired = 0;
    while (marks.length > 0 && now - marks[0]!.at >= acquireTimeoutMs) expired = marks.shift()!.upTo - taken;
    if (expired <= 0) return;
    const late = queue.splice(0, expired);
    taken += late.length;
    const error = new DatabaseBusyError(acquireTimeoutMs, new Error(`queued for group commit behind ${inFlight} batches in flight, ${heldUp} of them held up`));
    for (const p of late) p.reject(error);
  };

  const pump = (waited = false) => {
    // A slot is free below `maxInFlight`, not counting held-up batches, and within the pool's size.
    while ((inFlight < maxInFlight || (inFlight - heldUp < maxInFlight && inFlight < poolSize)) && queue.length > 0) {
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
      taken += batch.length;
      const record: InFlight = { units: batch.length, check: checks, heldUp: false };
      batches.add(record);
      inFlight++;
      unitsInFlight += batch.length;
      void runGroup(batch).finally(() => {
        batches.delete(record);
        inFlight--;
        if (record.heldUp) heldUp--;
        else unitsInFlight -= batch.length;
        pump();
      });
    }
    if (queue.length > 0 && check === undefined) armCheck();
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
      // An implicit transaction: the server rolled it back at the Sync. The connection is reusable
      // after a statement PostgreSQL refused, or a value that could not be sent (it failed before
      // anything was: the statement is known); otherwise pg-pool drops it, released with the error.
      const lost = unanswered(error);
      client.release(lost);
      // The server's answer, whatever it was, means the transaction did not commit. Without one (the
      // socket closed, a read timeout) it may have: every unit is told so, as a single one would be.
      const answered = error instanceof pg.DatabaseError || error instanceof StatementValueError;
      if (!answered) {
        for (const p of group) p.reject(error);
        return;
      }
      const failed = (error as { batchIndex?: number }).batchIndex ?? -1;
      if (lost !== undefined) return endedSession(group, singles, offsets, { failed, mergedFrom: mergedAt[0] ?? statements.length, total: statements.length }, error);
      if (group.length === 1) {
        group[0]!.reject(error);
        return;
      }
      // A merged statement fails for one unit (a stale version, a moved tenant) without saying which:
      // the group runs again unmerged, where each failure is its own unit's.
      if (merged.length > 0) return runGroup(group, false);
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

  /**
   * The server ended the session mid-batch (57P01 terminated or shutting down, an 08 error): it
   * answered, so nothing of the batch committed, and the connection is gone. The unit whose statement
   * was running (a single one, before the merged statements at `mergedFrom`) is told nothing was
   * written and not run again: an administrator may have ended the session for that very statement,
   * and a shutdown fails it the same way on its next connection. The others run again together on a
   * fresh connection; with no unit to blame (a merged statement, the commit) the group runs again as
   * for a refused statement, unmerged, or each unit alone, so that a session ended on every attempt
   * still reaches a unit of its own and stops.
   */
  const endedSession = async (
    group: readonly Pending[],
    singles: readonly Pending[],
    offsets: readonly number[],
    where: { readonly failed: number; readonly mergedFrom: number; readonly total: number },
    error: unknown,
  ): Promise<void> => {
    const { failed, mergedFrom, total } = where;
    const culprit = group.length === 1 ? group[0] : failed >= 0 && failed < mergedFrom ? singles[offsets.findLastIndex((offset) => offset <= failed)] : undefined;
    if (culprit !== undefined) {
      culprit.reject(asDatabaseUnavailable(error, pool, 'work'));
      return runGroup(group.filter((p) => p !== culprit));
    }
    if (failed >= mergedFrom && failed < total) return runGroup(group, false);
    for (const p of group) await runGroup([p]);
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
