import { constants } from 'node:os';
import { migrationSets, MOVING_SCHEMAS, SERVICE_NAMES } from '../../composition/services.ts';
import { openCommandDatabases } from '../../composition/runtime.ts';
import { isUrlOf, loadConfig, POSTGRES_PROTOCOLS, redact } from '../../platform/config/index.ts';
import { databaseLabel, unitOfWork } from '../../platform/db/index.ts';
import { BrigadeError } from '../../platform/errors/index.ts';
import { DEFAULT_FENCE_WAIT_MS, moveTenant } from '../../platform/tenancy/index.ts';
import { cityProblems, createRestaurant, listRestaurants, newRestaurantProblems, recordAdminAudit, type RestaurantPosition } from '../../services/platform/index.ts';
import { waitForShutdownSignal } from '../io.ts';
import { nameRuleInWords } from '../nameRuleInWords.ts';
import { numberFlag } from '../numberFlag.ts';
import { flagsOnlyFor, parse } from '../parse.ts';
import { UsageError } from '../usage.ts';
import type { CommandContext } from './types.ts';
import { isUuid } from '../../platform/ids/index.ts';

export const usage = `Usage: brigade tenants <add|list|move> …

  brigade tenants add NAME --city CITY [--currency EUR] [--address TEXT]
                                                          Create a restaurant (a tenant) in a city; --address is where
                                                          couriers pick its orders up (later: PATCH /v1/restaurants/ID)
  brigade tenants list [--city CITY]                      List restaurants with their placement
  brigade tenants move ID --to-database URL [--fence-timeout SECONDS]
                                                          Move a restaurant's rows to a new, empty database of its own
                                                          (migrated first; its writes wait meanwhile, and the move waits
                                                          for its transactions in flight at most --fence-timeout, default ${DEFAULT_FENCE_WAIT_MS / 1000} s;
                                                          Ctrl+C stops it, nothing moved unless it had committed)
Every change is recorded in the admin audit log as actor "cli".`;

/**
 * Restaurants `brigade tenants list` reads in one transaction: a page of its list. Each page sorts what
 * is left of its city (the keyset runs across the join with cities, so no index serves it: some 40 ms
 * for 50,000 rows left), so pages are large: 100,000 restaurants are 10 pages.
 */
const LIST_PAGE = 10_000;

/** `brigade tenants add|list|move`. */
export async function run(args: readonly string[], ctx: CommandContext): Promise<number> {
  const { values, positionals } = parse(args, { city: { type: 'string' }, currency: { type: 'string' }, address: { type: 'string' }, 'to-database': { type: 'string' }, 'fence-timeout': { type: 'string' } }, usage, 2);
  if (values.help) return ctx.io.out(usage), 0;
  const [action, given] = positionals;
  // What a shell passes with a stray space ("A " for A) is the name meant; blank is no name.
  const subject = action === 'add' ? given?.trim() : given;
  const city = values.city?.trim();
  if (action === 'add' && (subject === undefined || city === undefined)) throw new UsageError('tenants add needs NAME and --city CITY', usage);
  if (action === 'move' && (subject === undefined || !isUuid(subject) || values['to-database'] === undefined)) {
    throw new UsageError('tenants move needs a tenant ID (UUID) and --to-database URL', usage);
  }
  if (action === 'list' && subject !== undefined) throw new UsageError(`Unexpected argument ${JSON.stringify(subject)}`, usage);
  flagsOnlyFor('tenants', action, values, { city: ['add', 'list'], currency: ['add'], address: ['add'], 'to-database': ['move'], 'fence-timeout': ['move'] }, usage);
  // Seconds: a fraction makes sense (0.5 s).
  const fenceTimeout = values['fence-timeout'] === undefined ? undefined : numberFlag('fence-timeout', values['fence-timeout'], { min: 0, aboveMin: true, max: 3600, fraction: true, unit: 'seconds' }, usage);
  if (action === 'move' && !isUrlOf(values['to-database'] as string, POSTGRES_PROTOCOLS)) {
    throw new UsageError(`--to-database must be a URL starting with postgres:// or postgresql://, got ${JSON.stringify(redact(values['to-database'] as string))}`, usage);
  }
  if (action === 'add') {
    // The rules of POST /v1/restaurants (one schema), checked before any database is opened.
    const address = values.address?.trim();
    const [problem] = newRestaurantProblems({ name: subject, city, ...(values.currency === undefined ? {} : { currency: values.currency }), ...(address === undefined ? {} : { pickupAddress: address }) });
    if (problem !== undefined) {
      const what = problem.field === 'name' ? 'NAME' : problem.field === 'pickupAddress' ? '--address' : `--${problem.field}`;
      const hint = problem.field === 'currency' ? ` (three capital letters, ISO 4217, e.g. EUR; got ${JSON.stringify(values.currency)})` : '';
      throw new UsageError(`${what} ${problem.field === 'currency' ? problem.message : nameRuleInWords(problem.message)}${hint}`, usage);
    }
  }
  // The city of a list: trimmed and held to the same rule as add's (a blank one listed nothing, with success).
  const [cityProblem] = action === 'list' && city !== undefined ? cityProblems(city) : [];
  if (cityProblem !== undefined) throw new UsageError(`--city ${nameRuleInWords(cityProblem)}`, usage);
  if (!['add', 'list', 'move'].includes(action ?? '')) throw new UsageError(action === undefined ? 'Missing action' : `Unknown action ${JSON.stringify(action)}`, usage);

  const config = loadConfig(ctx.env, { services: SERVICE_NAMES });
  // A move copies from, fences in and records its outbox marks in the main database (decision 0008):
  // a moving service whose tables live elsewhere would be left behind, its writers unfenced.
  const apart = action === 'move' ? MOVING_SCHEMAS.filter((s) => config.serviceDatabaseUrls[s] !== undefined && config.serviceDatabaseUrls[s] !== config.databaseUrl) : [];
  if (apart.length > 0) {
    throw new BrigadeError(
      'TENANT_MOVE_SERVICE_DATABASES',
      409,
      `tenants move moves restaurants whose services share the main database; ${apart.join(', ')} ${apart.length === 1 ? 'has' : 'have'} a database of ${apart.length === 1 ? 'its' : 'their'} own (${apart.map((s) => `${s.toUpperCase()}_DATABASE_URL`).join(', ')}): nothing moved`,
    );
  }
  const { db, databases, close } = await openCommandDatabases(config, 2, ctx.io.err);
  const pool = databases.poolFor('platform');
  const admin = { service: 'platform', actor: { kind: 'admin' as const, id: 'cli' } };
  const audit = (route: string, target: Record<string, unknown>) => (tx: Parameters<typeof recordAdminAudit>[0]) =>
    recordAdminAudit(tx, { actorId: 'cli', method: 'CLI', route, target, status: 0, requestId: `cli-${process.pid}` });
  // One page of the list: its restaurants after `after`, each with where its rows are.
  const readPage = (after: RestaurantPosition | undefined) =>
    unitOfWork(pool, { ...admin, readOnly: true }, async (tx) => {
      const restaurants = await listRestaurants(tx, { ...(city === undefined ? {} : { city }), limit: LIST_PAGE, ...(after === undefined ? {} : { after }) });
      const placed = await tx.query<{ tenant_id: string; database_url: string | null }>('select tenant_id, database_url from platform.tenant_placements where tenant_id = any($1::uuid[])', [
        restaurants.map((r) => r.id),
      ]);
      const where = new Map(placed.rows.map((p) => [p.tenant_id, p.database_url]));
      // The database's label, as projections status, sagas and migrate status name it, then where it is (redacted).
      return restaurants.map((r) => {
        const url = where.get(r.id);
        return { ...r, placement: url ? `dedicated ${databaseLabel(url)} (${redact(url)})` : 'shared' };
      });
    });
  try {
    if (action === 'add') {
      const restaurant = await unitOfWork(pool, admin, async (tx) => {
        const created = await createRestaurant(tx, { name: subject as string, city: city as string, currency: values.currency as string | undefined, pickupAddress: values.address?.trim() });
        await audit('tenants add', { id: created.id, name: created.name, city: created.city, pickupAddress: created.pickupAddress })(tx);
        return created;
      });
      ctx.io.out(`created restaurant ${restaurant.id} (${restaurant.name}, ${restaurant.city}, ${restaurant.currency})${restaurant.pickupAddress === null ? '' : `, pick-up at ${restaurant.pickupAddress}`}`);
      return 0;
    }
    if (action === 'list') {
      let count = 0;
      let after: RestaurantPosition | undefined;
      // A page at a time, in the list's order, each printed as it comes and read in a transaction of its
      // own (keyset paging needs no snapshot across pages, so no transaction lasts the whole list): one
      // read of at most 100,000 rows stopped there and counted 100,000, and whole cities went missing.
      for (;;) {
        const page = await readPage(after);
        // The header once the first page is read: a database that does not answer gets its error alone.
        if (after === undefined) ctx.io.out(`${'id'.padEnd(36)}  ${'city'.padEnd(16)}  ${'name'.padEnd(28)}  placement`);
        for (const r of page) ctx.io.out(`${r.id}  ${r.city.padEnd(16)}  ${r.name.padEnd(28)}  ${r.placement}`);
        count += page.length;
        const last = page.at(-1);
        if (page.length < LIST_PAGE || last === undefined) break;
        after = { city: last.city, name: last.name, id: last.id };
      }
      ctx.io.out(`${count} restaurant(s)`);
      return 0;
    }
    const targetUrl = values['to-database'] as string;
    // Before the target is migrated: an unknown id is a typo, not a reason to touch that database.
    const known = await unitOfWork(pool, { ...admin, readOnly: true }, async (tx) => (await tx.query('select 1 from platform.restaurants where id = $1', [subject])).rowCount === 1);
    if (!known) throw new BrigadeError('NOT_FOUND', 404, `No restaurant ${subject as string} here: brigade tenants list shows their ids; nothing moved`);
    // Ctrl+C or SIGTERM cancels the statement the move is running and closes the move's connections, so
    // its transactions roll back and the fence lifts at once, even when a database stopped answering;
    // left to die, the process left its backend running the statement and holding the tenant's writes (a
    // second Ctrl+C still exits at once: its sessions then end themselves, client_connection_check_interval).
    const stop = new AbortController();
    void waitForShutdownSignal().then((signal) => {
      ctx.io.err(`brigade tenants move: ${signal}: stopping the move (Ctrl+C again to exit at once) …`);
      stop.abort(signal);
    });
    try {
      await moveTenant({
        tenantId: subject as string,
        sourceUrl: db.url,
        targetUrl,
        sets: migrationSets(),
        schemas: MOVING_SCHEMAS,
        onProgress: ctx.io.out,
        signal: stop.signal,
        ...(fenceTimeout === undefined ? {} : { fenceWaitMs: fenceTimeout * 1000 }),
      });
    } catch (error) {
      if (!(error instanceof BrigadeError) || error.code !== 'TENANT_MOVE_INTERRUPTED') throw error;
      ctx.io.err(`brigade tenants move: ${error.message}`);
      const signal = stop.signal.reason as NodeJS.Signals;
      return 128 + (constants.signals[signal] ?? 0);
    }
    if (stop.signal.aborted) ctx.io.out(`${String(stop.signal.reason)} came once the shared database's commit had been sent: the move is done`);
    await unitOfWork(pool, admin, audit('tenants move', { id: subject, to: redact(targetUrl) }));
    return 0;
  } finally {
    await close();
  }
}
