/**
 * Compiles the TypeScript that the test files import into a mirror of the checkout, so that each test
 * file's process runs plain JavaScript instead of paying tsx's loader hooks (decision 0004, "Fixed
 * later": 2.4–2.8 s of CPU per test file through tsx, about a second from the mirror).
 *
 * The mirror is a folder whose layout is the checkout's:
 * - under the compiled trees (src, test, scripts, bench), each `x.ts` becomes `x.js` (esbuild, one file
 *   each, no bundling, relative `.ts` specifiers rewritten to `.js`, an inline source map so that stack
 *   traces name the `.ts` file and line), and every file, the `.ts` included, is also there as a symlink
 *   to the original: what a test reads by a path next to its own (a migration's `.sql`, a fixture script
 *   it spawns under tsx) is the real file, and node follows the link to the real path;
 * - every other top-level entry (web, docs, README.md, package.json, node_modules, .brigade) is a
 *   symlink to the checkout's, so that paths a test builds from `import.meta.dirname` up to the root
 *   land on real files;
 * - `bin/brigade.js` is the mirror's own: it runs the compiled CLI (`BIN` below).
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { build } from 'esbuild';

/** The folders whose TypeScript is compiled: the tests and everything they import. */
const TREES = ['src', 'test', 'scripts', 'bench'] as const;
/** Top-level entries the mirror does not link: the repository's metadata, and `bin`, which it writes. */
const NOT_LINKED = new Set(['.git', 'bin']);
/**
 * The mirror's `brigade` command: the real `bin/brigade.js` registers tsx and imports src/cli/bin.ts;
 * this one imports its compiled JavaScript, so that the CLI tests' many `brigade` processes start
 * without tsx too. (The README walkthrough's test runs the real one.)
 */
const BIN = "#!/usr/bin/env node\n// Written by scripts/compileForTests.ts: the tests' brigade command, on the compiled sources.\nawait import('../src/cli/bin.js');\n";

/** A relative import or export specifier ending in `.ts`, in esbuild's output (which quotes with `"`). */
const TS_SPECIFIER = /(\b(?:from|import)\s*\(?\s*)"(\.{1,2}\/[^"\n]*)\.ts"/g;

/**
 * Builds the mirror of `root` at `outDir` (which must not exist) and returns it. Takes about a second
 * for the whole checkout.
 *
 * @example
 * const mirror = await compileForTests(root, path.join(root, '.brigade', `test-build-${runId}`));
 * spawn(process.execPath, ['--enable-source-maps', '--test', path.join(mirror, 'test/a.test.js')]);
 */
export async function compileForTests(root: string, outDir: string): Promise<string> {
  const files: string[] = [];
  for (const tree of TREES) await walk(root, tree, files);
  const sources = files.filter((file) => file.endsWith('.ts'));
  const result = await build({
    entryPoints: sources.map((file) => path.join(root, file)),
    outdir: outDir,
    outbase: root,
    bundle: false,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    sourcemap: 'inline',
    write: false,
    logLevel: 'silent',
  });
  await fs.mkdir(outDir, { recursive: true });
  await Promise.all(
    files.map(async (file) => {
      await fs.mkdir(path.join(outDir, path.dirname(file)), { recursive: true });
      await fs.symlink(path.join(root, file), path.join(outDir, file));
    }),
  );
  await Promise.all(
    result.outputFiles.map(async (output) => {
      // Never through a link: a tree's own `x.js` beside an `x.ts` would otherwise be overwritten.
      await fs.rm(output.path, { force: true });
      await fs.writeFile(output.path, output.text.replace(TS_SPECIFIER, '$1"$2.js"'));
    }),
  );
  for (const entry of await fs.readdir(root)) {
    if ((TREES as readonly string[]).includes(entry) || NOT_LINKED.has(entry)) continue;
    await fs.symlink(path.join(root, entry), path.join(outDir, entry));
  }
  await fs.mkdir(path.join(outDir, 'bin'));
  await fs.writeFile(path.join(outDir, 'bin', 'brigade.js'), BIN, { mode: 0o755 });
  // bench's own packages (the benchmark peers), which its modules import.
  await fs.symlink(path.join(root, 'bench', 'node_modules'), path.join(outDir, 'bench', 'node_modules'));
  return outDir;
}

/** How old a mirror left behind must be before {@link removeStaleMirrors} takes it away: no run lasts that long. */
const STALE_MS = 6 * 3600 * 1000;

/**
 * Removes the mirrors under `dir` whose name starts with `prefix` and that are older than six hours: a
 * run stopped by Ctrl+C or killed does not remove its own, and a run of another `npm test` in the same
 * checkout may be using a younger one.
 */
export async function removeStaleMirrors(dir: string, prefix: string): Promise<void> {
  const entries = await fs.readdir(dir).catch(() => [] as string[]);
  for (const name of entries.filter((entry) => entry.startsWith(prefix))) {
    const full = path.join(dir, name);
    const stat = await fs.lstat(full).catch(() => null);
    if (stat !== null && Date.now() - stat.mtimeMs > STALE_MS) await fs.rm(full, { recursive: true, force: true });
  }
}

/** Appends every file under `root/rel` (relative to `root`) to `out`, skipping node_modules. */
async function walk(root: string, rel: string, out: string[]): Promise<void> {
  for (const entry of await fs.readdir(path.join(root, rel), { withFileTypes: true })) {
    if (entry.name === 'node_modules') continue;
    const file = path.join(rel, entry.name);
    if (entry.isDirectory()) await walk(root, file, out);
    else if (entry.isFile()) out.push(file);
  }
}
