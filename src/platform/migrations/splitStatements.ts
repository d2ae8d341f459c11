/**
 * Splits SQL text into statements at top-level semicolons, leaving semicolons inside quotes, quoted
 * identifiers, dollar-quoted bodies and comments alone. Used for `-- brigade:no-transaction` files:
 * PostgreSQL runs a multi-statement simple query as one implicit transaction, which
 * `CREATE INDEX CONCURRENTLY` refuses, so such files are sent one statement at a time. Also finds a
 * transactional file's own BEGIN or COMMIT (`transactionControlStatements`).
 */
export function splitStatements(sql: string): string[] {
  const statements: string[] = [];
  let start = 0;
  let i = 0;
  while (i < sql.length) {
    const c = sql[i];
    const next = sql[i + 1];
    if (c === '-' && next === '-') {
      const end = sql.indexOf('\n', i);
      i = end === -1 ? sql.length : end + 1;
    } else if (c === '/' && next === '*') {
      let depth = 1;
      i += 2;
      while (i < sql.length && depth > 0) {
        if (sql[i] === '/' && sql[i + 1] === '*') {
          depth++;
          i += 2;
        } else if (sql[i] === '*' && sql[i + 1] === '/') {
          depth--;
          i += 2;
        } else {
          i++;
        }
      }
    } else if (c === "'" || c === '"') {
      i++;
      while (i < sql.length) {
        if (sql[i] === c && sql[i + 1] === c) i += 2;
        else if (sql[i] === c) break;
        else i++;
      }
      i++;
    } else if (c === '$') {
      const tag = /^\$([A-Za-z_][A-Za-z0-9_]*)?\$/.exec(sql.slice(i));
      if (tag === null) {
        i++;
      } else {
        const close = sql.indexOf(tag[0], i + tag[0].length);
        i = close === -1 ? sql.length : close + tag[0].length;
      }
    } else if (c === ';') {
      push(sql.slice(start, i));
      start = ++i;
    } else {
      i++;
    }
  }
  push(sql.slice(start));
  return statements;

  function push(text: string): void {
    // Keep statements that hold more than comments and white space.
    const bare = text.replace(/--[^\n]*/g, '').replace(/\/\*[\s\S]*?\*\//g, '').trim();
    if (bare.length > 0) statements.push(text.trim());
  }
}
