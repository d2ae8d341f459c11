import { parseArgs, type ParseArgsConfig } from 'node:util';
import { UsageError } from './usage.ts';

type Options = NonNullable<ParseArgsConfig['options']>;

/** Every command takes `--help` (`-h`). */
const HELP = { help: { type: 'boolean', short: 'h' } } as const;

/**
 * `util.parseArgs` in strict mode, with unknown flags, missing values and a flag given twice (unless
 * it is `multiple`) turned into a {@link UsageError} (exit 2) that carries the command's usage text,
 * in words of its own ({@link describeParseError}): Node's own text spoke of positionals after `--`
 * and of ambiguity. A negative number after a flag that takes a value is that value
 * (`--rate -1` is `--rate=-1`), for the command to judge and say what a valid one is.
 */
export function parse<O extends Options>(args: readonly string[], options: O, usage: string, maxPositionals: number) {
  const all = { ...options, ...HELP };
  const given = joinNegativeValues(args, all);
  let parsed;
  try {
    parsed = parseArgs({ args: given, options: all, allowPositionals: true, strict: true, tokens: true });
  } catch (error) {
    throw new UsageError(describeParseError(error, given, all), usage);
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

/** A negative number: `-1`, `-0.5`, `-.5`. */
const NEGATIVE_NUMBER = /^-\.?\d/;

/**
 * `args` with each `--flag VALUE` whose flag takes a value and whose value is a negative number written
 * `--flag=VALUE`: strict `parseArgs` refuses a value that starts with `-` as ambiguous. No flag is a
 * digit, so a negative number can be nothing else. Arguments after `--` are left as they are.
 */
function joinNegativeValues(args: readonly string[], options: Options): string[] {
  const joined: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] as string;
    if (arg === '--') return [...joined, ...args.slice(i)];
    const next = args[i + 1];
    if (arg.startsWith('--') && options[arg.slice(2)]?.type === 'string' && next !== undefined && NEGATIVE_NUMBER.test(next)) {
      joined.push(`${arg}=${next}`);
      i++;
    } else {
      joined.push(arg);
    }
  }
  return joined;
}

/**
 * What was wrong with `args`, which strict `parseArgs` refused with `error`, said for a person: the
 * first flag at fault, read again leniently (`unknown option --bogus`, `--rate needs a value`,
 * `--help takes no value`). Node's first line when no flag explains it.
 */
function describeParseError(error: unknown, args: readonly string[], options: Options): string {
  const { tokens } = parseArgs({ args: [...args], options, allowPositionals: true, strict: false, tokens: true });
  for (const token of tokens) {
    if (token.kind !== 'option') continue;
    const spec = options[token.name];
    if (spec === undefined) return `unknown option ${token.rawName}`;
    if (spec.type === 'boolean' && token.value !== undefined) return `${token.rawName} takes no value`;
    if (spec.type === 'string' && token.value === undefined) return `${token.rawName} needs a value`;
    if (spec.type === 'string' && token.inlineValue === false && token.value?.startsWith('-') === true) {
      return `${token.rawName} needs a value: ${JSON.stringify(token.value)} after it starts with "-" and is read as an option (a value that starts with "-" is written ${token.rawName}=${token.value})`;
    }
  }
  return error instanceof Error ? (error.message.split('\n')[0] ?? 'bad arguments') : 'bad arguments';
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
