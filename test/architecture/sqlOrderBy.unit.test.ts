import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';

/**
 * An unqualified ORDER BY name binds to the select list's output column before the table's column.
 * A select list that turns a column into text under its own name (`transaction_id::text as
 * transaction_id`, or `id::text`, whose output is named `id`) makes `order by transaction_id` sort
 * text: '1000' before '999'. The outbox claim lost rows that way (decision 0038). This check reads
 * the SQL in the source as text: string constants are expanded where a template uses them (also
 * across files), then each statement's ORDER BY items are compared with its text-cast output names.
 */
function textSortedOrderBy(sql: string): string[] {
  const castNames = new Set<string>();
  for (const m of sql.matchAll(/(?<![\w.)$])(?:\w+\.)?(\w+)::text(?:\s+as\s+"?(\w+)"?)?/gi)) {
    const column = m[1]!.toLowerCase();
    const output = (m[2] ?? m[1]!).toLowerCase();
    if (column === output) castNames.add(output);
  }
  const found: string[] = [];
  for (const m of sql.matchAll(/order\s+by\s+([\s\S]*?)(?=\blimit\b|\bfor\s+update\b|\boffset\b|\)|;|$)/gi)) {
    for (const item of m[1]!.split(',')) {
      const bare = /^\s*(\w+)(?:\s+(?:asc|desc))?(?:\s+nulls\s+(?:first|last))?\s*$/i.exec(item);
      if (bare !== null && castNames.has(bare[1]!.toLowerCase())) found.push(bare[1]!);
    }
  }
  return found;
}

async function sourceFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) out.push(...(await sourceFiles(full)));
    else if (entry.name.endsWith('.ts')) out.push(full);
  }
  return out;
}

test('the check flags an ORDER BY that names a text cast of the select list, and passes qualified names', () => {
  const page = 'where x > $1 order by transaction_id, id limit $2';
  assert.deepEqual(textSortedOrderBy(`select id, transaction_id::text as transaction_id from t ${page}`), ['transaction_id']);
  assert.deepEqual(textSortedOrderBy('select id::text, subscription from d where s = $1 order by id for update skip locked'), ['id']);
  assert.deepEqual(textSortedOrderBy('select o.id, o.transaction_id::text as transaction_id from t o where x order by o.transaction_id, o.id limit 3'), []);
  assert.deepEqual(textSortedOrderBy('select transaction_id::text as xid from t order by transaction_id, id'), []);
  assert.deepEqual(textSortedOrderBy('select count(*)::text as n from t order by n'), []);
  // A bound parameter cast to text is not an output column; `order by 1` is the first output column.
  assert.deepEqual(textSortedOrderBy('select name from t where s <> all($1::text[]) order by 1'), []);
});

test('no SQL in src/ sorts by a column its select list turned into text', async () => {
  const root = path.resolve(import.meta.dirname, '../..');
  const files = await sourceFiles(path.join(root, 'src'));
  const texts = new Map<string, string>();
  for (const file of files) texts.set(file, await readFile(file, 'utf8'));
  // String constants by name (a name defined twice with different text is left unexpanded).
  const constants = new Map<string, string | null>();
  for (const text of texts.values()) {
    for (const m of text.matchAll(/const\s+([A-Z][A-Z0-9_]*)\s*=\s*(?:`([^`]*)`|'([^']*)')/g)) {
      const value = m[2] ?? m[3]!;
      constants.set(m[1]!, constants.has(m[1]!) && constants.get(m[1]!) !== value ? null : value);
    }
  }
  const findings: string[] = [];
  for (const [file, text] of texts) {
    for (const m of text.matchAll(/`([^`]*)`/g)) {
      const sql = m[1]!.replace(/\$\{\s*([A-Z][A-Z0-9_]*)\s*\}/g, (whole, name: string) => constants.get(name) ?? whole);
      if (!/\border\s+by\b/i.test(sql)) continue;
      for (const name of textSortedOrderBy(sql)) findings.push(`${path.relative(root, file)}: order by ${name}`);
    }
  }
  assert.deepEqual(findings, [], 'qualify the ORDER BY name with the table alias (or order by another output name)');
});
