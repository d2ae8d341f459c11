/**
 * Splits SQL text into statements at top-level semicolons, leaving semicolons inside quotes (with an
 * `E'…'` string's backslash escapes), quoted identifiers, dollar-quoted bodies, comments and
 * SQL-standard function bodies (`BEGIN ATOMIC … END`) alone. Used for `-- brigade:no-transaction`
 * files: PostgreSQL runs a multi-statement simple query as one implicit transaction, which
 * `CREATE INDEX CONCURRENTLY` refuses, so such files are sent one statement at a time. Also finds a
 * transactional file's own BEGIN or COMMIT (`transactionControlStatements`).
 *
 * A `BEGIN ATOMIC` body ends at the END that matches it: each CASE inside opens an END of its own
 * (the only other END an SQL body can hold). A keyword written as a column label (`t.end`,
 * `as end`) is a name, not a keyword.
 *
 * @example
 * splitStatements("create function f() returns int language sql begin atomic select 1; end; select E'a\\'b;'");
 * // ['create function f() returns int language sql begin atomic select 1; end', "select E'a\\'b;'"]
 */
export function splitStatements(sql: string): string[] {
  const statements: string[] = [];
  let start = 0;
  let i = 0;
  /** Open `BEGIN ATOMIC` bodies and CASE expressions inside them; a semicolon splits only at 0. */
  let depth = 0;
  /** The word just read, lower case ('' after anything but space and comments). */
  let previous = '';
  /** Whether the last thing read, space and comments aside, was a `.`. */
  let dot = false;
  while (i < sql.length) {
    const c = sql[i] as string;
    const next = sql[i + 1];
    if (c === '-' && next === '-') {
      const end = sql.indexOf('\n', i);
      i = end === -1 ? sql.length : end + 1;
      continue;
    }
    if (c === '/' && next === '*') {
      i = blockCommentEnd(sql, i);
      continue;
    }
    if (/\s/.test(c)) {
      i++;
      continue;
    }
    if (/[A-Za-z_\u0080-\uffff]/.test(c)) {
      // A word: a keyword or an identifier (which may hold $ and digits, never a dollar quote's start).
      let end = i + 1;
      while (end < sql.length && /[A-Za-z0-9_$\u0080-\uffff]/.test(sql[end] as string)) end++;
      const word = sql.slice(i, end).toLowerCase();
      if (word === 'e' && sql[end] === "'") {
        i = quotedEnd(sql, end, true);
        previous = '';
        continue;
      }
      // A label (`t.end`, `as end`) is a name, whatever its spelling.
      const label = dot || previous === 'as';
      if (!label) {
        if (word === 'atomic' && previous === 'begin') depth++;
        else if (depth > 0 && word === 'case') depth++;
        else if (depth > 0 && word === 'end') depth--;
      }
      previous = word;
      dot = false;
      i = end;
      continue;
    }
    // Anything else comes between two words: `begin` and `atomic` have only space and comments between them.
    previous = '';
    dot = c === '.';
    if (c === "'" || c === '"') {
      i = quotedEnd(sql, i, false);
    } else if (c === '$') {
      const tag = /^\$([A-Za-z_][A-Za-z0-9_]*)?\$/.exec(sql.slice(i));
      if (tag === null) {
        i++;
      } else {
        const close = sql.indexOf(tag[0], i + tag[0].length);
        i = close === -1 ? sql.length : close + tag[0].length;
      }
    } else if (c === ';' && depth === 0) {
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

/** Where the (nestable) block comment opening at `i` ends. */
function blockCommentEnd(sql: string, i: number): number {
  let depth = 1;
  let at = i + 2;
  while (at < sql.length && depth > 0) {
    if (sql[at] === '/' && sql[at + 1] === '*') {
      depth++;
      at += 2;
    } else if (sql[at] === '*' && sql[at + 1] === '/') {
      depth--;
      at += 2;
    } else {
      at++;
    }
  }
  return at;
}

/**
 * Where the string or quoted identifier opening at `i` ends: past its closing quote, a doubled quote
 * being one character. In an `E'…'` string (`backslashEscapes`) a backslash escapes the next character.
 */
function quotedEnd(sql: string, i: number, backslashEscapes: boolean): number {
  const quote = sql[i];
  let at = i + 1;
  while (at < sql.length) {
    if (backslashEscapes && sql[at] === '\\') at += 2;
    else if (sql[at] === quote && sql[at + 1] === quote) at += 2;
    else if (sql[at] === quote) break;
    else at++;
  }
  return at + 1;
}
