import { SERVICES, SERVICE_NAMES } from '../../composition/services.ts';
import { commandTenantRouter, openCommandDatabases } from '../../composition/runtime.ts';
import { loadConfig } from '../../platform/config/index.ts';
import { databaseLabel } from '../../platform/db/createDatabases.ts';
import { unitOfWork, type Tx } from '../../platform/db/index.ts';
import { BrigadeError } from '../../platform/errors/index.ts';
import { closeSaga, listSagas, listSagaTenants, resumeSaga, SagaIdAmbiguousError, settleSagaCompensation, showSaga, type SagaDetail, type SagaStatus, type SagaSummary } from '../../platform/sagas/index.ts';
import type { Io } from '../io.ts';
import { numberFlag } from '../numberFlag.ts';
import { parse } from '../parse.ts';
import { tenantDatabases, type TenantDatabase } from '../tenantDatabases.ts';
import { UsageError } from '../usage.ts';
import type { CommandContext } from './types.ts';
import { isUuid } from '../../platform/ids/index.ts';
import { osUserName } from '../../platform/runtime/osUserName.ts';

export const usage = `Usage: brigade sagas <list|show|resume|close> …

  brigade sagas list [--stuck [--older-than MINUTES]] [--status S] [--limit N] [--json]
                       Sagas, most recently changed first. --stuck: only those that need a person:
                       failed ones (a compensation failed for good), parked ones (a step that must
                       not be undone could not go on), and unfinished ones that have not changed for
                       MINUTES (default 15), each with the reason; the failed and parked ones first.
                       At most N (default 100) per saga store; a list cut there ends with '… and more'
  brigade sagas show ID [--tenant ID] [--json]
                       One saga: status, state, pending work, every step outcome and event with its
                       time (the saga log), and its deadlines; another saga of that id (another
                       tenant's, in this database or another, or a copy an unfinished move left) is
                       named after it (alsoIn with --json)
  brigade sagas resume ID [--by NAME] [--tenant ID]
                       Runs a parked saga's step again, once you have settled what its reason names
                       (recorded in the saga log as resumed by NAME, default your OS user)
  brigade sagas resume ID --settled TEXT [--by NAME] [--tenant ID]
                       For a failed saga (a compensation failed for good), or one parked on a
                       compensation: you did that compensation by hand (TEXT says what); the saga
                       skips it and runs the compensations behind it, in order (logged as settled
                       by NAME with TEXT). A forward step at the head cannot be skipped: resume it,
                       or settle all of it by hand and close
  brigade sagas close ID --reason TEXT [--by NAME] [--tenant ID]
                       Closes a parked or failed saga you have settled by hand (status closed: it
                       runs nothing more and is no longer stuck), logged with who and why
  --tenant ID          The saga's tenant (its restaurant), when two tenants have a saga with this id:
                       resume and close refuse such an id without it
The payment saga of an order has the order's id; GET /v1/orders/:id/payment shows it over HTTP.
Sagas live with their restaurant: every command looks in the shared database and in each database of
the placement catalog (restaurants moved with 'brigade tenants move'), named by its label (main, or db- and 8 hex digits of its host, port and name).
resume and close write as the saga's tenant: while its restaurant is being moved they wait for the move
(at most 30 s), then act in the database it moved to.`;

const STATUSES: readonly SagaStatus[] = ['running', 'completed', 'compensating', 'compensated', 'failed', 'parked', 'closed'];
const CLI = { kind: 'admin', id: 'brigade-cli' } as const;
/** listSagas's default limit, which the merged list of several databases keeps too. */
const DEFAULT_LIST_LIMIT = 100;

/** The OS user's name, else `$USER` or `$LOGNAME`; a usage error asking for `--by` when there is none. */
function operatorName(env: CommandContext['env']): string {
  const name = osUserName(env);
  if (name === undefined) throw new UsageError('this OS user has no name (no passwd entry): say who you are with --by NAME', usage);
  return name;
}

/** `brigade sagas …`. */
export async function run(args: readonly string[], ctx: CommandContext): Promise<number> {
  const { values, positionals } = parse(
    args,
    {
      stuck: { type: 'boolean' },
      'older-than': { type: 'string' },
      status: { type: 'string' },
      limit: { type: 'string' },
      json: { type: 'boolean' },
      reason: { type: 'string' },
      by: { type: 'string' },
      tenant: { type: 'string' },
      settled: { type: 'string' },
    },
    usage,
    2,
  );
  if (values.help) return ctx.io.out(usage), 0;
  const [action, id] = positionals;
  if (action !== 'list' && action !== 'show' && action !== 'resume' && action !== 'close') throw new UsageError(action === undefined ? 'Missing action' : `Unknown action ${JSON.stringify(action)}`, usage);
  if (action !== 'list' && id === undefined) throw new UsageError(`sagas ${action} needs a saga ID`, usage);
  if (action !== 'list' && !isUuid(id ?? '')) throw new UsageError(`${JSON.stringify(id)} is not a saga ID (a UUID)`, usage);
  if (action === 'list' && id !== undefined) throw new UsageError(`Unexpected argument ${JSON.stringify(id)}`, usage);
  const listFlags = ['stuck', 'older-than', 'status', 'limit'] as const;
  if (action !== 'list' && listFlags.some((f) => values[f] !== undefined)) throw new UsageError(`--${listFlags.find((f) => values[f] !== undefined)} belongs to sagas list`, usage);
  if (values['older-than'] !== undefined && values.stuck !== true) throw new UsageError('--older-than goes with --stuck', usage);
  if (action !== 'close' && values.reason !== undefined) throw new UsageError('--reason belongs to sagas close', usage);
  if (action === 'close' && (values.reason ?? '').trim() === '') throw new UsageError('sagas close needs --reason TEXT: what you settled by hand', usage);
  if (action !== 'resume' && values.settled !== undefined) throw new UsageError('--settled belongs to sagas resume', usage);
  if (values.settled !== undefined && values.settled.trim() === '') throw new UsageError('--settled needs TEXT: what you did by hand in place of the compensation', usage);
  if (values.by !== undefined && action !== 'resume' && action !== 'close') throw new UsageError('--by belongs to sagas resume and close', usage);
  if (values.tenant !== undefined && action === 'list') throw new UsageError('--tenant belongs to sagas show, resume and close', usage);
  if (values.by !== undefined && values.by.trim() === '') throw new UsageError('--by needs a name', usage);
  if (values.tenant !== undefined && !isUuid(values.tenant)) throw new UsageError(`--tenant ${JSON.stringify(values.tenant)} is not a tenant ID (a UUID)`, usage);
  // Who acts, as the saga log records it: the operator, not the tool. Asked only of resume and close:
  // under a user id with no name (a container's runAsUser) the OS lookup throws, and list and show need none.
  const by = action === 'resume' || action === 'close' ? (values.by ?? operatorName(ctx.env)) : 'operator';
  // As PostgreSQL prints a uuid, to compare with the tenants found.
  const tenant = values.tenant?.toLowerCase();
  const olderThan = values['older-than'] === undefined ? undefined : numberFlag('older-than', values['older-than'], { min: 1, max: 525_600, unit: 'minutes', maxNote: '(a year)' }, usage);
  const limit = values.limit === undefined ? undefined : numberFlag('limit', values.limit, { min: 1, max: 10_000 }, usage);
  const status = values.status;
  if (status !== undefined && !STATUSES.includes(status as SagaStatus)) throw new UsageError(`--status must be one of ${STATUSES.join(', ')}`, usage);

  const stores = SERVICES.flatMap((s) => (s.sagaSchema === undefined ? [] : [{ service: s.name, schema: s.sagaSchema, types: s.sagaTypes }]));
  const config = loadConfig(ctx.env, { services: SERVICE_NAMES });
  const { databases, close } = await openCommandDatabases(config, 2, ctx.io.err);
  const router = commandTenantRouter(databases);
  try {
    // Sagas live with their restaurant (decision 0008): in the service's shared database and in each
    // dedicated database of the placement catalog. Each store is looked at in every one of them.
    const places: Place[] = [];
    for (const store of stores) for (const database of await tenantDatabases(databases, store.service)) places.push({ ...store, database });
    const labels = [...new Set(places.map((p) => p.database.label))];
    const notFound = () =>
      new BrigadeError(
        'NOT_FOUND',
        404,
        `No saga ${id} in ${stores.map((s) => s.service).join(', ')}. 'brigade sagas list' shows the ids (a payment saga has its order's id). Looked in database${labels.length === 1 ? '' : 's'} ${labels.join(', ')}.`,
      );
    // As an admin: the saga tables' RLS shows admins every tenant's sagas, read-only.
    const read = <T>(place: Place, fn: (tx: Tx) => Promise<T>) => unitOfWork(place.database.pool, { service: place.service, actor: CLI, readOnly: true }, fn);
    /**
     * Where saga `id` lives (with `--tenant`, that tenant's): every saga of that id, each with its place
     * and tenant, in the order of the places, then first started first. Every tenant of each place:
     * before, `showSaga` gave only the first started there, so an id two tenants share in one database
     * looked like one tenant's, and resume and close acted on it without asking for `--tenant`.
     */
    const whereIs = async () => {
      const found: Array<{ place: Place; tenantId: string }> = [];
      for (const place of places) {
        for (const tenantId of await read(place, (tx) => listSagaTenants(tx, place.schema, id as string))) {
          if (tenant === undefined || tenantId === tenant) found.push({ place, tenantId });
        }
      }
      return found;
    };
    /** The one place of the saga a person acts on, and its tenant; ambiguous when tenants (of one database or of two) share its id and no `--tenant` says which. */
    const home = async () => {
      const found = await whereIs();
      if (found.length === 0) throw notFound();
      const tenants = [...new Set(found.map((f) => f.tenantId))];
      if (tenants.length > 1) throw new SagaIdAmbiguousError(id as string, tenants);
      if (found.length > 1) {
        // One tenant's saga in two databases: a copy that an unfinished move left behind. Which one is
        // the tenant's is for the placement catalog to say, not for this command to guess.
        const where = found.map((f) => f.place.database.label).join(', ');
        throw new BrigadeError('SAGA_IN_SEVERAL_DATABASES', 409, `Saga ${id} of tenant ${tenants[0]} is in databases ${where}: an unfinished 'brigade tenants move' left a copy; finish the move first`, {
          details: { sagaId: id, tenantId: tenants[0], databases: found.map((f) => f.place.database.label) },
        });
      }
      return { place: found[0]!.place, tenantId: tenants[0]! };
    };
    /**
     * A person's change of the saga, as a transaction of its tenant through the tenant router: fenced
     * against a move of the tenant (it waits for one, then follows the tenant; on the raw pool it could
     * commit in the old database after the move's copy and be deleted with it) and run where the catalog
     * says the tenant lives. With the label of the database it ran in.
     */
    const asPerson = async <T>(service: string, tenantId: string, fn: (tx: Tx) => Promise<T>): Promise<{ result: T; database: string }> => {
      const result = await router.unitOfWork({ service, tenantId, actor: { kind: 'admin', id: by } }, fn);
      const placed = router.placementOf(tenantId);
      const pool = placed === '' ? databases.poolFor(service) : databases.poolForUrl(placed);
      return { result, database: databases.labelOf(pool) ?? (placed === '' ? service : databaseLabel(placed)) };
    };
    if (action === 'resume' && values.settled !== undefined) {
      const { place, tenantId } = await home();
      const { result: settled, database } = await asPerson(place.service, tenantId, (tx) => settleSagaCompensation(tx, place.schema, id as string, { by, settled: values.settled as string, tenantId }));
      if (settled === null) throw notFound();
      if (values.json === true) ctx.io.out(JSON.stringify({ service: place.service, database, id, ...settled }, null, 2));
      else
        ctx.io.out(
          `resumed saga ${id} (${place.service}) by ${by} past ${settled.settledItem}, settled by hand: ${values.settled.trim()}; ` +
            `${settled.status}, ${settled.pending.length === 0 ? 'nothing left to undo' : `next ${settled.pending.join(', ')}`}; it had been ${settled.was} with: ${settled.error ?? 'no reason'} (database ${database})`,
        );
      return 0;
    }
    if (action === 'resume') {
      const { place, tenantId } = await home();
      // Locked and checked again in its transaction (another person may have acted since the look).
      const { result: resumed, database } = await asPerson(place.service, tenantId, (tx) => resumeSaga(tx, place.schema, id as string, by, { tenantId }));
      if (resumed === null) throw notFound();
      if (values.json === true) ctx.io.out(JSON.stringify({ service: place.service, database, id, ...resumed }, null, 2));
      else
        ctx.io.out(
          `resumed saga ${id} (${place.service}) by ${by}: ${resumed.status}, next ${resumed.pending.join(', ') || 'nothing (it waits for events)'}; it had been parked with: ${resumed.parkedWith ?? 'no reason'} (database ${database})`,
        );
      return 0;
    }
    if (action === 'close') {
      const { place, tenantId } = await home();
      const { result: closed, database } = await asPerson(place.service, tenantId, (tx) => closeSaga(tx, place.schema, id as string, { by, reason: values.reason as string, tenantId }));
      if (closed === null) throw notFound();
      if (values.json === true) ctx.io.out(JSON.stringify({ service: place.service, database, id, ...closed }, null, 2));
      else ctx.io.out(`closed saga ${id} (${place.service}) by ${by}; it had been ${closed.was} with ${closed.left.join(', ') || 'nothing'} left: ${closed.error ?? 'no reason'} (database ${database})`);
      return 0;
    }
    if (action === 'show') {
      const [first, ...others] = await whereIs();
      if (first === undefined) throw notFound();
      const saga = await read(first.place, (tx) => showSaga(tx, first.place.schema, id as string, { tenantId: first.tenantId }));
      if (saga === null) throw notFound(); // gone since the look
      const shown = { place: first.place, saga };
      // The first one found is shown; the others are named (another tenant's in the same database
      // too), as resume and close refuse to choose.
      const alsoIn = others.map((o) => ({ database: o.place.database.label, tenantId: o.tenantId }));
      if (values.json === true) {
        ctx.io.out(JSON.stringify({ service: shown.place.service, database: shown.place.database.label, ...shown.saga, ...(alsoIn.length > 0 ? { alsoIn } : {}) }, null, 2));
        return 0;
      }
      printSaga(ctx.io, shown.place.service, shown.place.database.label, shown.saga);
      for (const other of alsoIn) {
        ctx.io.out(
          other.tenantId === shown.saga.tenantId
            ? `note: this saga is also in database ${other.database}: an unfinished 'brigade tenants move' left a copy; resume and close refuse it until the move is finished`
            : `note: another saga with this id, of tenant ${other.tenantId}, is in database ${other.database}; resume and close need --tenant`,
        );
      }
      return 0;
    }
    const options = {
      ...(values.stuck === true ? { stuckAfterMs: (olderThan ?? 15) * 60_000 } : {}),
      ...(status === undefined ? {} : { status: status as SagaStatus }),
      ...(limit === undefined ? {} : { limit }),
    };
    const shown = limit ?? DEFAULT_LIST_LIMIT;
    // One more than is shown, from each database: more than `shown` in all then says the list was cut.
    const fetchOptions = { ...options, limit: shown + 1 };
    const found: Array<SagaSummary & { service: string; database: string }> = [];
    let cut = false;
    for (const store of stores) {
      // A store's sagas of every database, merged in listSagas's order (with --stuck the failed and
      // parked ones first; then most recently changed first, then id) and cut to the limit, as if they
      // were one table. Sorted by the last change alone, the running sagas of a shared database that
      // merely waited long came before an older failed or parked one of another database, and the cut
      // dropped it.
      const merged: Array<SagaSummary & { service: string; database: string }> = [];
      for (const place of places.filter((p) => p.service === store.service)) {
        const knownTypes = store.types === undefined ? {} : { knownTypes: store.types };
        merged.push(...(await read(place, (tx) => listSagas(tx, place.schema, { ...fetchOptions, ...knownTypes }))).map((s) => ({ service: store.service, database: place.database.label, ...s })));
      }
      const needsPerson = (s: SagaSummary) => (values.stuck === true && (s.status === 'failed' || s.status === 'parked') ? 0 : 1);
      merged.sort((a, b) => needsPerson(a) - needsPerson(b) || (a.updatedAt === b.updatedAt ? (a.id < b.id ? -1 : a.id > b.id ? 1 : 0) : a.updatedAt < b.updatedAt ? 1 : -1));
      if (merged.length > shown) cut = true;
      found.push(...merged.slice(0, shown));
    }
    const more = cut
      ? `… and more: the list was cut at ${shown}${stores.length > 1 ? ' per saga store' : ''}; narrow it with --status${values.stuck === true ? ' or --older-than' : ''}${shown < 10_000 ? ', or raise --limit' : ''}`
      : null;
    if (values.json === true) {
      ctx.io.out(JSON.stringify(found, null, 2));
      // The rows stay a list (what scripts read); the cut is said beside them.
      if (more !== null) ctx.io.err(more);
      return 0;
    }
    ctx.io.out(`${'id'.padEnd(36)}  ${'service/saga'.padEnd(18)}  ${'status'.padEnd(12)}  ${'pending'.padEnd(18)}  ${'updated'.padEnd(24)}  database`);
    for (const s of found) {
      ctx.io.out(`${s.id}  ${`${s.service}/${s.name}`.padEnd(18)}  ${s.status.padEnd(12)}  ${(s.pending.join(',') || '-').padEnd(18)}  ${s.updatedAt.padEnd(24)}  ${s.database}`);
      if (s.stuck !== null) ctx.io.out(`    ${s.stuck}`);
    }
    ctx.io.out(values.stuck === true ? `${found.length} saga(s) need attention${found.length > 0 ? "; 'brigade sagas show ID' for the details" : ''}` : `${found.length} saga(s)`);
    if (more !== null) ctx.io.out(more);
    return 0;
  } finally {
    await close();
  }
}

/** A saga store in one database: where a saga may live. */
interface Place {
  readonly service: string;
  readonly schema: string;
  readonly database: TenantDatabase;
}

/** One saga for people: the instance, its log (one line per version) and its deadlines. */
function printSaga(io: Io, service: string, database: string, s: SagaDetail): void {
  io.out(`saga ${s.id} (${service}/${s.name}) of tenant ${s.tenantId}, in database ${database}`);
  io.out(`  status     ${s.status} (version ${s.version})${s.error === null ? '' : `: ${s.error}`}`);
  const head = s.pending[0];
  const lease = s.lockedUntil !== null && Date.parse(s.lockedUntil) > Date.now() ? `; running on ${s.lockedBy} until ${s.lockedUntil}` : '';
  // A failed saga runs nothing more: what it has pending is left for the person, not due.
  const next =
    s.status === 'failed'
      ? `left undone: ${head} failed for good after ${s.attempts} attempt(s); settle it by hand, then 'brigade sagas resume ${s.id} --settled TEXT' ${s.pending.length > 1 ? 'runs the rest' : 'ends it'}, or settle ${s.pending.length > 1 ? 'all of it' : 'it'} by hand and close the saga`
      : `next: ${head}, attempt ${s.attempts + 1}, due ${s.runAfter}${lease}`;
  io.out(`  pending    ${head === undefined ? '-' : `${s.pending.join(', ')} (${next})`}`);
  io.out(`  completed  ${s.completed.join(', ') || '-'}`);
  if (s.failed.length > 0) io.out(`  failed     ${s.failed.join(', ')} (failed for good while the saga went on: not run again)`);
  io.out(`  created    ${s.createdAt}   updated ${s.updatedAt}`);
  io.out(`  state      ${JSON.stringify(s.state)}`);
  io.out('log:');
  if (s.log.length === 0) io.out('  (none: the saga started before the log existed)');
  for (const e of s.log) {
    const attempt = e.attempt === null ? '' : ` (attempt ${e.attempt})`;
    const detail = e.error !== null ? `  ${e.error}` : e.data === null ? '' : `  ${JSON.stringify(e.data)}`;
    io.out(`  v${String(e.version).padEnd(3)} ${e.at}  ${e.kind.padEnd(9)} ${e.item}${attempt} -> ${e.status}${detail}`);
  }
  io.out('deadlines:');
  if (s.deadlines.length === 0) io.out('  (none)');
  for (const d of s.deadlines) {
    const state = d.firedAt !== null ? `fired ${d.firedAt}${d.error === null ? '' : ` with error: ${d.error}`}` : d.cancelledAt !== null ? `cancelled ${d.cancelledAt}` : 'open';
    io.out(`  ${d.name.padEnd(12)} due ${d.dueAt}  ${state}`);
  }
}
