export { outboxSchemaSql, outboxChannel } from './outboxSchemaSql.ts';
export type { OutboxSchemaOptions } from './outboxSchemaSql.ts';
export type { OutboxMessage } from './types.ts';
export { writeToOutbox } from './writeToOutbox.ts';
export type { WriteToOutboxOptions } from './writeToOutbox.ts';
export { outboxOnAppended } from './outboxOnAppended.ts';
export { createRelay } from './createRelay.ts';
export type { Relay, RelayEvent, RelayOptions } from './createRelay.ts';
