import { loadConfig } from '../../platform/config/index.ts';
import { aheadWarning, highestApplied, MigrationDriftError, MigrationOrderError, migrationStatus, type MigrationStatusRow } from '../../platform/migrations/index.ts';
import { DURABLE_SUBSCRIPTIONS, SERVICE_NAMES } from '../../composition/services.ts';
import { openDatabase } from '../../composition/runtime.ts';
import { createDurableSubscriptions } from '../../composition/createDurableSubscriptions.ts';
import { configuredDatabase, configuredMigrationTargets, dedicatedFailure, dedicatedFailureLine, dedicatedTitledMigrationTargets, embeddedDataDirOf, migrateEveryDatabase } from '../migrateEveryDatabase.ts';
import { DedicatedDatabasesNotMigratedError } from '../databaseErrors.ts';
import type { CommandContext } from './types.ts';
import { parse } from '../parse.ts';
import { UsageError } from '../usage.ts';
import { abortOnShutdownSignal } from '../io.ts';

export const usage = `Usage: brigade migrate [status|verify [--strict]] [--dry-run]

  brigade migrate            Apply pending migrations (forward only; each file in its own transaction
                             unless its first line is '-- brigade:no-transaction'). Refuses to run while
                             an applied file has changed or gone missing. Then creates every service's
                             durable subscriptions on the transport (NATS_URL, else the PostgreSQL bus),
                             so that one a new release adds gets what older processes still publish.
  brigade migrate --dry-run  Print what would be applied; apply nothing.
  brigade migrate status     List every migration file: applied (when, how long, by whom) or pending,
                             and files a newer release applied ('ahead': not an error).
  brigade migrate verify     Exit 1, naming the file, if an applied file changed or disappeared, or a
                             new file is numbered below an applied one (what brigade migrate refuses).
                             Names each 'ahead' file on stderr: applied with no file here, it is a
                             newer release's (rolling deploy) or a deleted file; check before deploying.
  brigade migrate verify --strict
                             Exit 1 on any 'ahead' file too (a release's own pipeline, where no newer
                             release can have run: there it is a deleted file).

Every database is migrated: the main one, each <SERVICE>_DATABASE_URL, and each restaurant's own
database of the placement catalog ('brigade tenants move'), named by its label (db- and 8 hex digits),
never by its connection string. A restaurant's own database that cannot be reached (or whose migration
fails) is named with its address and restaurant, and the others go on: brigade migrate still migrates
them and creates the subscriptions, then exits 1 naming it; status lists it as not read; verify exits 1.`;

/** `brigade migrate [status|verify] [--dry-run]`. */
export async function run(args: readonly string[], ctx: CommandContext): Promise<number> {
  const { values, positionals } = parse(args, { 'dry-run': { type: 'boolean' }, strict: { type: 'boolean' } }, usage, 1);
  if (values.help) return ctx.io.out(usage), 0;
  const action = positionals[0] ?? 'apply';
  if (!['apply', 'status', 'verify'].includes(action)) throw new UsageError(`Unknown migrate action ${JSON.stringify(action)}`, usage);
  if (values['dry-run'] && action !== 'apply') throw new UsageError('--dry-run goes with plain brigade migrate', usage);
  if (values.strict && action !== 'verify') throw new UsageError('--strict goes with brigade migrate verify', usage);

  const config = loadConfig(ctx.env, { services: SERVICE_NAMES });
  const db = await openDatabase(config, ctx.io.err);
  try {
    if (action === 'apply') {
      // Ctrl+C or SIGTERM cancels the statement a migration is running, so its transaction rolls back and
      // the migration lock is released at once; left to die, the process left its backend running the
      // statement and holding the lock, and the next brigade migrate waited on it for ever (a second
      // Ctrl+C still exits at once: the session then ends itself, client_connection_check_interval).
      const stop = abortOnShutdownSignal((signal) => ctx.io.err(`brigade migrate: ${signal}: stopping the migration (Ctrl+C again to exit at once) …`));
      let failed;
      try {
        // A restaurant's own database that fails is said at once and named again at the end; the rest goes on (decision 0008).
        ({ failed } = await migrateEveryDatabase(config, db.url, { dryRun: values['dry-run'] === true, out: ctx.io.out, err: ctx.io.err, signal: stop.signal }));
      } finally {
        stop.dispose();
      }
      const transport = config.natsUrl === null ? 'the PostgreSQL bus' : 'JetStream';
      if (values['dry-run'] === true) {
        ctx.io.out(`would create or keep the subscriptions on ${transport}: ${DURABLE_SUBSCRIPTIONS.map((spec) => spec.subscription).join(', ')}`);
      } else {
        // Before the rollout, so that a subscription this release adds gets what older processes still publish.
        const subscriptions = await createDurableSubscriptions(config, db.url);
        ctx.io.out(`subscriptions on ${transport}: ${subscriptions.join(', ')}`);
      }
      if (failed.length > 0) throw new DedicatedDatabasesNotMigratedError(failed, { dryRun: values['dry-run'] === true });
      return 0;
    }
    const targets = [
      ...configuredMigrationTargets(config, db.url).map((t) => ({ ...t, dedicated: undefined })),
      ...(await dedicatedTitledMigrationTargets(config, db.url)).map((t) => ({ ...t, variable: undefined, dedicated: t })),
    ];
    let bad = 0;
    for (const target of targets) {
      if (targets.length > 1) ctx.io.out(target.title);
      let rows: MigrationStatusRow[];
      if (target.dedicated === undefined) {
        rows = await configuredDatabase(target.variable, () => migrationStatus({ ...target, connectTimeoutMs: config.databaseAcquireTimeoutMs }));
      } else {
        // A restaurant's own database that cannot be read is said as such, and the others are still
        // read (decision 0008): verify fails, since it could not verify it; status exits 0, as with pending files.
        try {
          rows = await migrationStatus({ ...target, connectTimeoutMs: config.databaseAcquireTimeoutMs });
        } catch (error) {
          const line = dedicatedFailureLine(dedicatedFailure(target.dedicated, error), `could not ${action === 'verify' ? 'verify' : 'read'}`, `run brigade migrate ${action} again`);
          (action === 'verify' ? ctx.io.err : ctx.io.out)(line);
          bad += 1;
          continue;
        }
      }
      if (action === 'status') printStatus(rows, ctx.io.out);
      // What brigade migrate would refuse: drift, and new files numbered below applied ones.
      const drift = rows.filter((r) => r.state === 'changed' || r.state === 'missing');
      const late = rows.filter((r) => r.state === 'out-of-order');
      // Applied with no file here: a newer release's (decision 0005), or this release's newest file deleted.
      const ahead = rows.filter((r) => r.state === 'ahead');
      if (action === 'verify') {
        for (const r of ahead) ctx.io.err(aheadWarning(r.id));
        // The embedded database's refusals tell its user the way out (made by another build), not a migration author's.
        const refusal = { embeddedDataDir: embeddedDataDirOf(config, db.url, target.url) };
        if (drift.length > 0) ctx.io.err(new MigrationDriftError(drift.map((d) => ({ id: d.id, problem: d.state as 'changed' | 'missing' })), refusal).message);
        if (late.length > 0) ctx.io.err(new MigrationOrderError(late.map((r) => ({ id: r.id, below: highestApplied(rows, r.id.split('/')[0] ?? '') })), refusal).message);
        if (values.strict === true && ahead.length > 0) ctx.io.err(`--strict: ${ahead.length} applied file(s) with no file in this release (named above): restore a deleted file, or verify with the release that has them`);
        else if (drift.length + late.length === 0) {
          // Pending files are not verify's to refuse (a deploy verifies before it migrates), but a
          // database never migrated read "verified: 0 applied file(s)" as if all were well.
          const pending = rows.filter((r) => r.state === 'pending').length;
          ctx.io.out(`verified: ${rows.filter((r) => r.state === 'applied').length} applied file(s) match their checksums${pending > 0 ? `; ${pending} pending, not applied yet (run brigade migrate)` : ''}`);
        }
      }
      bad += drift.length + late.length + (action === 'verify' && values.strict === true ? ahead.length : 0);
    }
    return action === 'verify' && bad > 0 ? 1 : 0;
  } finally {
    await db.embedded?.stop();
  }
}

function printStatus(rows: readonly MigrationStatusRow[], out: (line: string) => void): void {
  const width = Math.max(4, ...rows.map((r) => r.id.length));
  out(`${'file'.padEnd(width)}  ${'state'.padEnd(12)}  ${'applied at'.padEnd(24)}  ${'ms'.padStart(6)}  by`);
  for (const r of rows) {
    out(
      `${r.id.padEnd(width)}  ${r.state.padEnd(12)}  ${(r.appliedAt?.toISOString() ?? '-').padEnd(24)}  ${String(r.durationMs ?? '-').padStart(6)}  ${r.appliedBy ?? '-'}`,
    );
  }
  const count = (state: MigrationStatusRow['state']) => rows.filter((r) => r.state === state).length;
  const pending = count('pending');
  const ahead = count('ahead');
  // What brigade migrate would refuse: said in the summary too, not only in its rows.
  const refused = [`${count('changed')} changed`, `${count('missing')} missing`, `${count('out-of-order')} out of order`].filter((part) => !part.startsWith('0 '));
  out(
    `${count('applied')} applied, ${pending} pending${pending > 0 ? ' (run brigade migrate)' : ''}` +
      (ahead > 0 ? `, ${ahead} ahead (applied by a newer release; this release has no file for it)` : '') +
      (refused.length > 0 ? `, ${refused.join(', ')} (brigade migrate refuses to run: brigade migrate verify says why)` : ''),
  );
}

