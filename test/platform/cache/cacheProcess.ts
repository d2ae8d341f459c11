/**
 * One "app instance" for the two-process eviction test, run with `node --import tsx` by
 * child_process.fork. argv: database URL, Redis URL, namespace. Commands arrive over IPC:
 * { op: 'write', tenant, price } commits a price and evicts after commit;
 * { op: 'read', tenant } answers { price, source }; { op: 'close' } closes and exits.
 */
import { createCache } from '../../../src/platform/cache/index.ts';
import { createProbe, patientRedis, priceOf } from './probe.ts';

const [url, redisUrl, namespace] = process.argv.slice(2) as [string, string, string];
const probe = await createProbe(url);
const redis = patientRedis(redisUrl);
const cache = createCache({ namespace, redis });
await cache.ready();

type Command = { id: number; op: 'write'; tenant: string; price: number } | { id: number; op: 'read'; tenant: string } | { id: number; op: 'close' };

process.on('message', (message: Command) => {
  void (async () => {
    try {
      if (message.op === 'write') {
        await probe.writePrice(message.tenant, message.price, [cache]);
        process.send!({ id: message.id });
      } else if (message.op === 'read') {
        const entry = await cache.getOrLoad(message.tenant, probe.loader(message.tenant));
        process.send!({ id: message.id, price: priceOf(entry), source: entry.source });
      } else {
        await cache.close();
        await redis.quit();
        await probe.close();
        process.send!({ id: message.id }, () => process.disconnect());
      }
    } catch (error) {
      process.send!({ id: message.id, error: String(error) });
    }
  })();
});
process.send!({ id: 0, ready: true });
