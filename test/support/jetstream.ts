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

/** How often a durable consumer has delivered (redeliveries included) and how many of its messages wait for an ack. */
export async function consumerDeliveries(stream: string, consumer: string): Promise<{ delivered: number; redelivered: number; ackPending: number }> {
  const nc = await connect({ servers: testEnv.natsUrl });
  try {
    const info = await (await jetstreamManager(nc)).consumers.info(stream, consumer);
    return { delivered: info.delivered.consumer_seq, redelivered: info.num_redelivered, ackPending: info.num_ack_pending };
  } finally {
    await nc.close();
  }
}
