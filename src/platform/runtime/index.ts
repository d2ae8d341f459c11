import type { FastifyPluginAsync } from 'fastify';

/**
 * What a service contributes to the process: its migrations, its HTTP routes (one encapsulated
 * Fastify plugin, mounted under `/v1`) and its background workers. The composition root collects
 * these; the platform itself never imports a service.
 */
export interface ServiceModule<Deps = unknown> {
  /** Lower-case name; also its schema (`<name>`) and its role (`brigade_<name>`). */
  readonly name: string;
  /** Folder of its `NNNN_name.sql` migrations, or absent when it has none. */
  readonly migrationsDir?: string;
  /** Its routes, registered with the shared dependencies. */
  readonly routes?: FastifyPluginAsync<{ deps: Deps }>;
  /** Long-running loops `brigade worker` and `brigade start` run; each stops when `signal` aborts. */
  readonly workers?: ReadonlyArray<{ readonly name: string; run(deps: Deps, signal: AbortSignal): Promise<void> }>;
}
