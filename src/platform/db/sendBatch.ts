import { createRequire } from 'node:module';
import type pg from 'pg';
import type { Statement } from './transactionSetup.ts';

// pg's own result and value serialisation, so a batch returns exactly what client.query would.
const require = createRequire(import.meta.url);
const { prepareValue } = require('pg/lib/utils.js') as { prepareValue: (value: unknown) => unknown };
type PgResult = pg.QueryResult & {
  addFields(fields: unknown[]): void;
  parseRow(fields: unknown[]): pg.QueryResultRow;
  addRow(row: pg.QueryResultRow): void;
  addCommandComplete(msg: unknown): void;
};
const Result = require('pg/lib/result.js') as new (rowMode: undefined, types: unknown) => PgResult;

/** The part of pg's connection a submittable writes to. */
interface Connection {
  stream: { cork?(): void; uncork?(): void };
  /** pg's record of the named statements this connection has prepared (name → text). */
  parsedStatements: Record<string, string>;
  /** Names whose Parse a failed batch may or may not have run (ours): closed before they are parsed again. */
  brigadeUnsure?: Set<string>;
  parse(msg: { text: string; name: string }): void;
  close(msg: { type: 'S'; name: string }): void;
  bind(msg: { portal: string; statement: string; values: readonly unknown[]; valueMapper?: (value: unknown) => unknown }): void;
  describe(msg: { type: 'P'; name: string }): void;
  execute(msg: { portal: string; rows: number }): void;
  sync(): void;
}

/** Thrown for the statements of a batch that did not run because an earlier one failed. */
export class BatchAbortedError extends Error {
  constructor(readonly failedIndex: number, cause: unknown) {
    super(`Not run: statement ${failedIndex + 1} of the batch failed first`, { cause });
    this.name = 'BatchAbortedError';
  }
}

/**
 * A statement's value that the driver cannot turn into wire format (pg's own `prepareValue` threw):
 * the batch sent nothing. `batchIndex` is the statement, as for a statement PostgreSQL refused.
 */
export class StatementValueError extends Error {
  readonly batchIndex: number;
  constructor(index: number, cause: unknown) {
    super(`A value of statement ${index} of the batch cannot be sent: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
    this.name = 'StatementValueError';
    this.batchIndex = index;
  }
}

/**
 * A pg "submittable" that writes several extended-protocol statements and ONE Sync: PostgreSQL runs
 * them in order as one implicit transaction (unless a BEGIN among them opened an explicit one),
 * commits it at the Sync, and after a failure skips the rest and rolls back. One write, one read.
 * pg's pipeline mode would instead close each statement with its own Sync (each its own transaction
 * unless bracketed by BEGIN/COMMIT) and costs the client about twice the CPU per statement (measured
 * in docs/decisions/0012).
 */
class Batch {
  callback: ((error: Error | null, results?: PgResult[]) => void) | undefined;
  private readonly results: PgResult[];
  private current = 0;
  private connection: Connection | undefined;
  /** Named statements this batch parses, by index: unsure after a failure at or before them. */
  private readonly parsedHere = new Map<number, string>();

  constructor(
    private readonly statements: readonly Statement[],
    types: unknown,
  ) {
    this.results = statements.map(() => new Result(undefined, types));
  }

  submit(connection: Connection): StatementValueError | null {
    this.connection = connection;
    // Every value in wire form before a byte is written: a value the driver cannot convert (a BigInt
    // in an object, a cycle) fails the batch here, naming its statement, with the connection untouched
    // and reusable. Converted while writing, it left earlier statements sent without their Sync, and the
    // group committer took it for a lost connection and failed every caller of the batch with it.
    const values: unknown[][] = [];
    for (const [index, s] of this.statements.entries()) {
      try {
        values.push((s.values ?? []).map((value) => prepareValue(value)));
      } catch (cause) {
        return new StatementValueError(index, cause);
      }
    }
    connection.stream.cork?.();
    try {
      for (const [index, s] of this.statements.entries()) {
        const name = s.name ?? '';
        if (name === '' || connection.parsedStatements[name] !== s.text) {
          if (name !== '') {
            if (connection.parsedStatements[name] !== undefined || connection.brigadeUnsure?.delete(name) === true) connection.close({ type: 'S', name });
            connection.parsedStatements[name] = s.text;
            this.parsedHere.set(index, name);
          }
          connection.parse({ text: s.text, name });
        }
        connection.bind({ portal: '', statement: name, values: values[index]! });
        if (s.resultless !== true) connection.describe({ type: 'P', name: '' });
        connection.execute({ portal: '', rows: 0 });
      }
      connection.sync();
    } finally {
      connection.stream.uncork?.();
    }
    return null;
  }

  handleRowDescription(msg: { fields: unknown[] }): void {
    this.results[this.current]?.addFields(msg.fields);
  }

  handleDataRow(msg: { fields: unknown[] }): void {
    if (this.statements[this.current]?.resultless === true) return;
    const result = this.results[this.current];
    result?.addRow(result.parseRow(msg.fields));
  }

  handleCommandComplete(msg: unknown): void {
    this.results[this.current]?.addCommandComplete(msg);
    this.current++;
  }

  handleEmptyQuery(): void {
    this.current++;
  }

  handlePortalSuspended(): void {}

  handleCopyInResponse(): void {}

  handleCopyData(): void {}

  /** A statement failed (pg stops treating the batch as active: no ReadyForQuery reaches it). */
  handleError(error: Error & { batchIndex?: number }): void {
    error.batchIndex ??= this.current;
    // PostgreSQL skipped everything after the failure, maybe the failing statement's own Parse: those
    // names are closed (a no-op when absent) before their next Parse.
    for (const [index, name] of this.parsedHere) {
      if (index < this.current || this.connection === undefined) continue;
      this.forget(name);
    }
    // A statement prepared before a migration changed the type of a column it returns: PostgreSQL
    // refuses to plan it again ("cached plan must not change result type") however often it is sent,
    // so its name is forgotten and its next use prepares the new text's plan afresh.
    const failed = this.statements[error.batchIndex]?.name;
    if (isStaleResultType(error) && failed !== undefined) this.forget(failed);
    this.finish(error);
  }

  private forget(name: string): void {
    if (this.connection === undefined) return;
    delete this.connection.parsedStatements[name];
    (this.connection.brigadeUnsure ??= new Set()).add(name);
  }

  handleReadyForQuery(): void {
    this.finish(null);
  }

  private finish(error: Error | null): void {
    const callback = this.callback;
    this.callback = undefined;
    callback?.(error, this.results);
  }
}

/**
 * PostgreSQL's refusal of a prepared statement whose result columns changed type since it was
 * prepared (SQLSTATE 0A000): the batch failed, nothing of it ran, and the statement's name is
 * prepared again on its next use, so sending the batch again runs it.
 */
export function isStaleResultType(error: unknown): boolean {
  const e = error as { code?: unknown; message?: unknown };
  return e.code === '0A000' && typeof e.message === 'string' && e.message.includes('cached plan must not change result type');
}

/**
 * Sends `statements` on `client` as one batch (see {@link Batch}) and resolves with their results in
 * order, or rejects with the first failure (`error.batchIndex` tells which statement failed; none
 * after it ran). Outside a BEGIN the batch is one transaction of its own.
 *
 * @example
 * const [, found] = await sendBatch(client, [setRole, { text: 'select * from menu.items where id = $1', values: [id] }]);
 */
export function sendBatch(client: pg.ClientBase, statements: readonly Statement[]): Promise<pg.QueryResult[]> {
  const trace: { stack?: string } = {};
  Error.captureStackTrace(trace, sendBatch);
  return new Promise((resolve, reject) => {
    const batch = new Batch(statements, client);
    batch.callback = (error, results) => {
      if (error === null) return resolve(results!);
      // Point the stack at the caller, as pg does for its own queries.
      error.stack = `${error.name}: ${error.message}\n${trace.stack?.split('\n').slice(1).join('\n') ?? ''}`;
      reject(error);
    };
    void client.query(batch as unknown as pg.QueryConfig);
  });
}
