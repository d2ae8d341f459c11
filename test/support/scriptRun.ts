import { existsSync } from 'node:fs';

/**
 * How a child process runs one of the tests' TypeScript scripts (a fixture relay, a crashing
 * projector): its compiled `.js` beside it when the tests run from the compiled mirror (`npm test`,
 * scripts/compileForTests.ts), else the `.ts` itself through tsx's loader. Without tsx the child
 * starts in about a third of the CPU.
 *
 * @example
 * const { execArgv, file } = scriptRun(path.join(import.meta.dirname, 'fixtures', 'killableRelay.ts'));
 * spawn(process.execPath, [...execArgv, file, JSON.stringify(config)]);
 */
export function scriptRun(script: string): { readonly execArgv: readonly string[]; readonly file: string } {
  const compiled = script.replace(/\.ts$/, '.js');
  return compiled !== script && existsSync(compiled) ? { execArgv: [], file: compiled } : { execArgv: ['--import', 'tsx'], file: script };
}
