/**
 * One Brigade HTTP server for the menu-read benchmark, in its own process so the load generator
 * does not share its event loop. Serves the real platform on DATABASE_URL plus one extra route,
 * `/v1/bench/constant`, that returns a constant document of the same size as the menu from memory:
 * the ceiling. Prints `READY <port>` when listening.
 */
import { readFileSync } from 'node:fs';
import type { FastifyPluginAsync } from 'fastify';
import { createPlatform } from '../../src/composition/runtime.ts';
import { SERVICES, SERVICE_NAMES } from '../../src/composition/services.ts';
import { loadConfig } from '../../src/platform/config/index.ts';

const config = loadConfig(process.env, { services: SERVICE_NAMES });
const constant = process.env.BENCH_CONSTANT_FILE === undefined ? Buffer.from('{}') : readFileSync(process.env.BENCH_CONSTANT_FILE);
const ceiling: FastifyPluginAsync = async (app) => {
  app.get('/bench/constant', async (_request, reply) => reply.header('etag', '"constant"').type('application/json').send(constant));
};
const platform = await createPlatform(config, { url: config.databaseUrl as string, embedded: null }, { logger: false, services: [...SERVICES, { name: 'bench', routes: ceiling }] });
const address = await platform.app.listen({ host: '127.0.0.1', port: 0 });
process.stdout.write(`READY ${new URL(address).port}\n`);
process.on('SIGTERM', () => {
  void platform.close().then(() => process.exit(0));
});
