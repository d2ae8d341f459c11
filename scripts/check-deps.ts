/**
 * The dependency-rule check `npm test` runs: reads every import of every file under src/ (with the
 * TypeScript compiler's own pre-processor, so comments and strings are not mistaken for imports)
 * and fails, listing each offending import, when one breaks the rules in dependencyRules.ts.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import ts from 'typescript';
import { checkImport, resolveImport, type Violation } from './dependencyRules.ts';

const root = path.resolve(import.meta.dirname, '..');

async function files(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await fs.readdir(path.join(root, dir), { withFileTypes: true })) {
    const rel = path.posix.join(dir, entry.name);
    if (entry.isDirectory()) out.push(...(await files(rel)));
    else if (/\.(ts|js|mjs)$/.test(entry.name)) out.push(rel);
  }
  return out;
}

const violations: Violation[] = [];
const sources = await files('src');
let imports = 0;
for (const file of sources) {
  const info = ts.preProcessFile(await fs.readFile(path.join(root, file), 'utf8'), true, true);
  for (const imported of info.importedFiles) {
    const target = resolveImport(file, imported.fileName);
    if (target === null) continue;
    imports++;
    const violation = checkImport(file, target);
    if (violation !== null) violations.push(violation);
  }
}
if (violations.length > 0) {
  console.error(`Dependency rules broken (${violations.length}):`);
  for (const v of violations) console.error(`  ${v.from} imports ${v.to}: ${v.rule}`);
  console.error('Move the shared piece into src/platform, or talk across services through a port wired in src/composition.');
  process.exitCode = 1;
} else {
  console.log(`dependency rules hold: ${sources.length} files, ${imports} relative imports checked`);
}
