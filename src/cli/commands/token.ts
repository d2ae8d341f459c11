import { SERVICE_NAMES } from '../../composition/services.ts';
import { openCommandDatabases } from '../../composition/runtime.ts';
import { createTokenService, loadOrCreateSecret, ROLES, TOKEN_TTL_SECONDS, type Role } from '../../platform/auth/index.ts';
import { loadConfig } from '../../platform/config/index.ts';
import { unitOfWork } from '../../platform/db/index.ts';
import { ValidationError } from '../../platform/errors/index.ts';
import type { UnitOfWorkFn } from '../../platform/tenancy/index.ts';
import { mintToken } from '../../services/platform/index.ts';
import { numberFlag } from '../numberFlag.ts';
import { parse } from '../parse.ts';
import { UsageError } from '../usage.ts';
import type { CommandContext } from './types.ts';

export const usage = `Usage: brigade token --role staff|courier|customer|admin [--restaurant ID] [--subject ID] [--ttl SECONDS]

Prints a bearer token signed with BRIGADE_SECRET (or the secret generated under BRIGADE_HOME).
A staff token needs --restaurant, a restaurant of the database (DATABASE_URL, or the embedded one):
brigade tenants add creates one, brigade tenants list shows their ids.
A customer token with --subject carries the customer's credentials version, read from that database
(a token of an older one is refused: a password change or reset revokes earlier tokens).
--subject defaults to a new UUID; --ttl defaults to 43200 (12 h), from ${TOKEN_TTL_SECONDS.min} to ${TOKEN_TTL_SECONDS.max} (30 days).`;

/** The token service's field names, as this command's flags. */
const FLAGS: Readonly<Record<string, string>> = { restaurantId: '--restaurant', subject: '--subject', ttlSeconds: '--ttl', role: '--role' };

/** `brigade token …`: the checks of `POST /v1/tokens` (`mintToken`), the database read only for a restaurant or a customer's version. */
export async function run(args: readonly string[], ctx: CommandContext): Promise<number> {
  const { values } = parse(args, { role: { type: 'string' }, restaurant: { type: 'string' }, subject: { type: 'string' }, ttl: { type: 'string' } }, usage, 0);
  if (values.help) return ctx.io.out(usage), 0;
  const role = values.role as string | undefined;
  if (role === undefined || !(ROLES as readonly string[]).includes(role)) throw new UsageError(`--role must be one of ${ROLES.join(', ')}`, usage);
  const ttl = values.ttl === undefined ? undefined : numberFlag('ttl', values.ttl, { min: TOKEN_TTL_SECONDS.min, max: TOKEN_TTL_SECONDS.max, unit: 'seconds', maxNote: '(30 days)' }, usage);
  const config = loadConfig(ctx.env, { services: SERVICE_NAMES });
  const tokens = createTokenService(await loadOrCreateSecret(config.secret, config.home));
  // The database (DATABASE_URL, or the embedded one) is opened only if it is read: for a staff token
  // (the directory), or a customer token with a subject (the customer's credentials version).
  let opened: Awaited<ReturnType<typeof openCommandDatabases>> | undefined;
  const platformTransaction: UnitOfWorkFn = async (context, fn) => {
    opened ??= await openCommandDatabases(config, 1);
    return unitOfWork(opened.databases.poolFor('platform'), context, fn);
  };
  try {
    const request = { role: role as Role, ...(values.restaurant === undefined ? {} : { restaurantId: values.restaurant }), ...(values.subject === undefined ? {} : { subject: values.subject }) };
    ctx.io.out(await mintToken({ unitOfWork: platformTransaction, tokens }, request, ttl));
  } catch (error) {
    if (!(error instanceof ValidationError)) throw error;
    // The checks name their fields (restaurantId, ttlSeconds, subject); here they are flags.
    const field = error.details.field;
    const flag = typeof field === 'string' ? FLAGS[field] : undefined;
    const message = error.message.replace(/\b(restaurantId|ttlSeconds)\b/g, (name) => FLAGS[name] ?? name);
    throw new UsageError(flag === undefined || message.startsWith(flag) ? message : `${flag}: ${message}`, usage);
  } finally {
    await opened?.close();
  }
  return 0;
}
