import { SERVICE_NAMES } from '../../composition/services.ts';
import { createTokenService, loadOrCreateSecret, ROLES, type Role } from '../../platform/auth/index.ts';
import { loadConfig } from '../../platform/config/index.ts';
import { parse } from '../parse.ts';
import { UsageError } from '../usage.ts';
import type { CommandContext } from './types.ts';

export const usage = `Usage: brigade token --role staff|courier|customer|admin [--restaurant ID] [--subject ID] [--ttl SECONDS]

Prints a bearer token signed with BRIGADE_SECRET (or the secret generated under BRIGADE_HOME).
A staff token needs --restaurant; --subject defaults to a new UUID; --ttl defaults to 43200 (12 h).`;

/** `brigade token …`. */
export async function run(args: readonly string[], ctx: CommandContext): Promise<number> {
  const { values } = parse(args, { role: { type: 'string' }, restaurant: { type: 'string' }, subject: { type: 'string' }, ttl: { type: 'string' } }, usage, 0);
  if (values.help) return ctx.io.out(usage), 0;
  const role = values.role as string | undefined;
  if (role === undefined || !(ROLES as readonly string[]).includes(role)) throw new UsageError(`--role must be one of ${ROLES.join(', ')}`, usage);
  const ttl = values.ttl === undefined ? undefined : Number(values.ttl);
  if (ttl !== undefined && (!Number.isInteger(ttl) || ttl < 1)) throw new UsageError('--ttl must be a whole number of seconds', usage);
  const config = loadConfig(ctx.env, { services: SERVICE_NAMES });
  const tokens = createTokenService(await loadOrCreateSecret(config.secret, config.home));
  try {
    ctx.io.out(await tokens.sign({ role: role as Role, restaurantId: values.restaurant as string | undefined, subject: values.subject as string | undefined }, ttl));
  } catch (error) {
    // The token service names its fields (restaurantId, subject); here they are flags.
    const field = (error as { details?: { field?: unknown } }).details?.field;
    const flag = field === 'restaurantId' ? '--restaurant' : field === 'subject' ? '--subject' : undefined;
    const message = error instanceof Error ? error.message : String(error);
    throw new UsageError(flag === undefined ? message : `${flag}: ${message.replace(/\brestaurantId\b/, '--restaurant')}`, usage);
  }
  return 0;
}
