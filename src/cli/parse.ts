import { parseArgs, type ParseArgsConfig } from 'node:util';
import { UsageError } from './usage.ts';

type Options = NonNullable<ParseArgsConfig['options']>;

/**
 * `util.parseArgs` in strict mode, with unknown flags and missing values turned into a
 * {@link UsageError} (exit 2) that carries the command's usage text.
 */
export function parse<O extends Options>(args: readonly string[], options: O, usage: string, maxPositionals: number) {
  let parsed;
  try {
    parsed = parseArgs({ args: [...args], options: { ...options, help: { type: 'boolean', short: 'h' } }, allowPositionals: true, strict: true });
  } catch (error) {
    throw new UsageError(error instanceof Error ? error.message.split('\n')[0] ?? 'bad arguments' : 'bad arguments', usage);
  }
  if (parsed.positionals.length > maxPositionals) {
    throw new UsageError(`Unexpected argument ${JSON.stringify(parsed.positionals[maxPositionals])}`, usage);
  }
  return parsed as typeof parsed & { values: { help?: boolean } };
}

/**
 * Refuses a flag given to an action it does nothing for (`--batch goes with brigade projections
 * rebuild`), as bad usage: ignored, it looked as if it had been applied.
 *
 * @example
 * flagsOnlyFor('projections', action, values, { batch: ['rebuild'] }, usage);
 */
export function flagsOnlyFor(command: string, action: string | undefined, values: Readonly<Record<string, unknown>>, owners: Readonly<Record<string, readonly string[]>>, usage: string): void {
  for (const [flag, actions] of Object.entries(owners)) {
    if (values[flag] !== undefined && !actions.includes(action ?? '')) {
      throw new UsageError(`--${flag} goes with ${actions.map((a) => `brigade ${command} ${a}`).join(' or ')}`, usage);
    }
  }
}
