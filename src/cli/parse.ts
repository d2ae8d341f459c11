import { parseArgs, type ParseArgsConfig } from 'node:util';
import { UsageError } from './usage.ts';

type Options = NonNullable<ParseArgsConfig['options']>;

/**
 * `util.parseArgs` in strict mode, with unknown flags, missing values and a flag given twice (unless
 * it is `multiple`) turned into a {@link UsageError} (exit 2) that carries the command's usage text.
 */
export function parse<O extends Options>(args: readonly string[], options: O, usage: string, maxPositionals: number) {
  let parsed;
  try {
    parsed = parseArgs({ args: [...args], options: { ...options, help: { type: 'boolean', short: 'h' } }, allowPositionals: true, strict: true, tokens: true });
  } catch (error) {
    throw new UsageError(error instanceof Error ? error.message.split('\n')[0] ?? 'bad arguments' : 'bad arguments', usage);
  }
  // parseArgs keeps the last of a repeated flag: `--role admin --role customer` printed a customer's
  // token, `--to-database A --to-database B` moved to B. A flag that is not `multiple` is given once.
  const seen = new Set<string>();
  for (const token of parsed.tokens) {
    if (token.kind !== 'option' || options[token.name]?.multiple === true) continue;
    if (seen.has(token.name)) throw new UsageError(`--${token.name} given twice: give it once`, usage);
    seen.add(token.name);
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
