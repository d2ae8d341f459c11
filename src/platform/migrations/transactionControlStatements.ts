import { splitStatements } from './splitStatements.ts';

/** BEGIN, START TRANSACTION, COMMIT, END, ROLLBACK (not ROLLBACK TO a savepoint), ABORT, PREPARE TRANSACTION. */
const CONTROL = /^(begin|start\s+transaction|commit|end|rollback(?!\s+(?:work\s+|transaction\s+)?to\b)|abort|prepare\s+transaction)\b/i;

/**
 * The top-level statements of `sql` that begin or end a transaction, as written (for the error
 * message). A transactional migration must hold none: the runner runs the file and its tracking row
 * in one transaction, and a COMMIT inside would end it early. Statements inside quotes, comments and
 * dollar-quoted bodies (a `DO` block's BEGIN … END) are not top-level; neither are the statements of a
 * `BEGIN ATOMIC … END` function body, END included ({@link splitStatements} keeps such a function whole).
 *
 * @example
 * transactionControlStatements('create table t (x int); commit;'); // ['commit']
 */
export function transactionControlStatements(sql: string): string[] {
  const found: string[] = [];
  for (const statement of splitStatements(sql)) {
    const bare = statement.replace(/--[^\n]*/g, '').replace(/\/\*[\s\S]*?\*\//g, '').trim();
    if (CONTROL.test(bare)) found.push(bare.split('\n', 1)[0] ?? bare);
  }
  return found;
}
