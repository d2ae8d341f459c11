import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { testEnv } from './env.ts';

/** Deletes the JetStream stream `stream` on the test server if it exists: a test file's own stream, in its `after`. */
export async function deleteTestStream(stream: string): Promise<void> {
  const nc = await connect({ servers: testEnv.natsUrl });
  try {
    await (await jetstreamManager(nc)).streams.delete(stream).catch(() => false);
  } finally {
    await nc.close();
  }
}
