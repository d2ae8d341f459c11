import os from 'node:os';
import { SERVICES, SERVICE_NAMES } from '../../composition/services.ts';
import { openCommandDatabases } from '../../composition/runtime.ts';
import { loadConfig } from '../../platform/config/index.ts';
import { unitOfWork, type Tx } from '../../platform/db/index.ts';
import { BrigadeError } from '../../platform/errors/index.ts';
import { closeSaga, listSagas, resumeSaga, showSaga, type SagaDetail, type SagaStatus, type SagaSummary } from '../../platform/sagas/index.ts';
import type { Io } from '../io.ts';
import { parse } from '../parse.ts';
import { UsageError } from '../usage.ts';
import type { CommandContext } from './types.ts';
import { isUuid } from '../../platform/ids/index.ts';

export const usage = `Usage: brigade sagas <list|show|resume|close> …

  brigade sagas list [--stuck [--older-than MINUTES]] [--status S] [--limit N] [--json]
                       Sagas, most recently changed first. --stuck: only those that need a person:
                       failed ones (a compensation failed for good), parked ones (a step that must
                       not be undone could not go on), and unfinished ones that have not changed for
                       MINUTES (default 15), each with the reason
  brigade sagas show ID [--json]
                       One saga: status, state, pending work, every step outcome and event with its
                       time (the saga log), and its deadlines
  brigade sagas resume ID [--by NAME] [--tenant ID]
                       Runs a parked saga's step again, once you have settled what its reason names
                       (recorded in the saga log as resumed by NAME, default your OS user)
  brigade sagas close ID --reason TEXT [--by NAME] [--tenant ID]
                       Closes a parked or failed saga you have settled by hand (status closed: it
                       runs nothing more and is no longer stuck), logged with who and why
  --tenant ID          The saga's tenant (its restaurant), when two tenants have a saga with this id
The payment saga of an order has the order's id; GET /v1/orders/:id/payment shows it over HTTP.`;

const STATUSES: readonly SagaStatus[] = ['running', 'completed', 'compensating', 'compensated', 'failed', 'parked', 'closed'];
const CLI = { kind: 'admin', id: 'brigade-cli' } as const;

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
  for (const flag of ['by', 'tenant'] as const) {
    if (values[flag] !== undefined && action !== 'resume' && action !== 'close') throw new UsageError(`--${flag} belongs to sagas resume and close`, usage);
  }
  if (values.by !== undefined && values.by.trim() === '') throw new UsageError('--by needs a name', usage);
  if (values.tenant !== undefined && !isUuid(values.tenant)) throw new UsageError(`--tenant ${JSON.stringify(values.tenant)} is not a tenant ID (a UUID)`, usage);
  // Who acts, as the saga log records it: the operator, not the tool.
  const by = values.by ?? os.userInfo().username;
  const tenant = values.tenant === undefined ? {} : { tenantId: values.tenant };
  const positive = (name: 'older-than' | 'limit', max: number): number | undefined => {
    const raw = values[name];
    if (raw === undefined) return undefined;
    const n = Number(raw);
    if (!/^\d+$/.test(raw) || n < 1 || n > max) throw new UsageError(`--${name} must be a whole number from 1 to ${max}`, usage);
    return n;
  };
  const olderThan = positive('older-than', 525_600);
  const limit = positive('limit', 10_000);
  const status = values.status;
  if (status !== undefined && !STATUSES.includes(status as SagaStatus)) throw new UsageError(`--status must be one of ${STATUSES.join(', ')}`, usage);

  const notFound = () => new BrigadeError('NOT_FOUND', 404, `No saga ${id} in ${stores.map((s) => s.service).join(', ')}. 'brigade sagas list' shows the ids (a payment saga has its order's id).`);
  const stores = SERVICES.flatMap((s) => (s.sagaSchema === undefined ? [] : [{ service: s.name, schema: s.sagaSchema }]));
  const config = loadConfig(ctx.env, { services: SERVICE_NAMES });
  const { databases, close } = await openCommandDatabases(config, 2);
  // As an admin: the saga tables' RLS shows admins every tenant's sagas, read-only.
  const read = <T>(service: string, fn: (tx: Tx) => Promise<T>) => unitOfWork(databases.poolFor(service), { service, actor: CLI, readOnly: true }, fn);
  try {
    if (action === 'resume') {
      for (const store of stores) {
        const resumed = await unitOfWork(databases.poolFor(store.service), { service: store.service, actor: { kind: 'admin', id: by } }, (tx) => resumeSaga(tx, store.schema, id as string, by, tenant));
        if (resumed === null) continue;
        if (values.json === true) ctx.io.out(JSON.stringify({ service: store.service, id, ...resumed }, null, 2));
        else ctx.io.out(`resumed saga ${id} (${store.service}) by ${by}: ${resumed.status}, next ${resumed.pending.join(', ') || 'nothing (it waits for events)'}; it had been parked with: ${resumed.parkedWith ?? 'no reason'}`);
        return 0;
      }
      throw notFound();
    }
    if (action === 'close') {
      for (const store of stores) {
        const closed = await unitOfWork(databases.poolFor(store.service), { service: store.service, actor: { kind: 'admin', id: by } }, (tx) =>
          closeSaga(tx, store.schema, id as string, { by, reason: values.reason as string, ...tenant }),
        );
        if (closed === null) continue;
        if (values.json === true) ctx.io.out(JSON.stringify({ service: store.service, id, ...closed }, null, 2));
        else ctx.io.out(`closed saga ${id} (${store.service}) by ${by}; it had been ${closed.was} with ${closed.left.join(', ') || 'nothing'} left: ${closed.error ?? 'no reason'}`);
        return 0;
      }
      throw notFound();
    }
    if (action === 'show') {
      for (const store of stores) {
        const saga = await read(store.service, (tx) => showSaga(tx, store.schema, id as string));
        if (saga === null) continue;
        if (values.json === true) ctx.io.out(JSON.stringify({ service: store.service, ...saga }, null, 2));
        else printSaga(ctx.io, store.service, saga);
        return 0;
      }
      throw notFound();
    }
    const options = {
      ...(values.stuck === true ? { stuckAfterMs: (olderThan ?? 15) * 60_000 } : {}),
      ...(status === undefined ? {} : { status: status as SagaStatus }),
      ...(limit === undefined ? {} : { limit }),
    };
    const found: Array<SagaSummary & { service: string }> = [];
    for (const store of stores) found.push(...(await read(store.service, (tx) => listSagas(tx, store.schema, options))).map((s) => ({ service: store.service, ...s })));
    if (values.json === true) {
      ctx.io.out(JSON.stringify(found, null, 2));
      return 0;
    }
    ctx.io.out(`${'id'.padEnd(36)}  ${'service/saga'.padEnd(18)}  ${'status'.padEnd(12)}  ${'pending'.padEnd(18)}  updated`);
    for (const s of found) {
      ctx.io.out(`${s.id}  ${`${s.service}/${s.name}`.padEnd(18)}  ${s.status.padEnd(12)}  ${(s.pending.join(',') || '-').padEnd(18)}  ${s.updatedAt}`);
      if (s.stuck !== null) ctx.io.out(`    ${s.stuck}`);
    }
    ctx.io.out(values.stuck === true ? `${found.length} saga(s) need attention${found.length > 0 ? "; 'brigade sagas show ID' for the details" : ''}` : `${found.length} saga(s)`);
    return 0;
  } finally {
    await close();
  }
}

/** One saga for people: the instance, its log (one line per version) and its deadlines. */
function printSaga(io: Io, service: string, s: SagaDetail): void {
  io.out(`saga ${s.id} (${service}/${s.name}) of tenant ${s.tenantId}`);
  io.out(`  status     ${s.status} (version ${s.version})${s.error === null ? '' : `: ${s.error}`}`);
  const head = s.pending[0];
  const lease = s.lockedUntil !== null && Date.parse(s.lockedUntil) > Date.now() ? `; running on ${s.lockedBy} until ${s.lockedUntil}` : '';
  io.out(`  pending    ${head === undefined ? '-' : `${s.pending.join(', ')} (next: ${head}, attempt ${s.attempts + 1}, due ${s.runAfter}${lease})`}`);
  io.out(`  completed  ${s.completed.join(', ') || '-'}`);
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
