import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ValidationError } from '../../../src/platform/errors/index.ts';
import type { PendingEvent } from '../../../src/platform/events/index.ts';
import { outboxAppendSql, outboxInsert } from '../../../src/platform/outbox/index.ts';

/**
 * A row the relay cannot publish stalls every row behind it (the relay keeps per-aggregate order and
 * retries the batch), so the outbox refuses, when a message is written, any key or header that a
 * transport could not carry unchanged: NATS headers are printable ASCII names without ':', values
 * without line breaks, sent trimmed.
 */
describe('the outbox refuses keys and headers a transport cannot carry', () => {
  const write = (key: string, headers: Record<string, string>) => () => outboxInsert('ordering', null, [{ subject: 'ordering.order.Placed', key, headers, payload: {} }]);
  const refused = (field: string, message: RegExp) => (e: unknown) => e instanceof ValidationError && e.details?.field === field && message.test(e.message);

  test('a line break, or white space at an end, in a header value or the key', () => {
    assert.throws(write('order-1', { traceparent: '00-abc\r\nInjected: 1' }), refused('headers.traceparent', /line break or white space/));
    assert.throws(write('order-1', { correlation: ' c-1' }), refused('headers.correlation', /line break or white space/));
    assert.throws(write('order-1\n', {}), refused('key', /aggregate key/));
    assert.throws(write('order-1 ', {}), refused('key', /aggregate key/));
  });

  test('a header name with a space, a colon or a character beyond ASCII', () => {
    for (const name of ['trace id', 'x:y', 'ünïcode']) assert.throws(write('order-1', { [name]: 'v' }), refused('headers', /is not printable ASCII without ':'/), name);
  });

  test('ordinary keys and headers pass, inner spaces included', () => {
    assert.equal(outboxInsert('ordering', null, [{ subject: 'ordering.order.Placed', key: 'order 1', headers: { correlation: 'c-1', 'x-note': 'two words' }, payload: {} }]).ids.length, 1);
  });

  test('lineage headers default from the writer: source the service, actor kind:id, schema-version 1; a producer may set each', () => {
    const headersOf = (insert: { statement: { values?: readonly unknown[] } }) => (insert.statement.values![3] as string[]).map((h) => JSON.parse(h) as Record<string, string>);
    const [given, defaulted] = headersOf(
      outboxInsert(
        'delivery',
        't-1',
        [
          { subject: 'delivery.order.Moved', key: 'k', headers: { 'schema-version': '2', actor: 'system:sweeper' }, payload: {} },
          { subject: 'delivery.order.Moved', key: 'k', payload: {} },
        ],
        { kind: 'courier', id: 'c-1' },
      ),
    );
    assert.deepEqual([given!.source, given!.actor, given!['schema-version']], ['delivery', 'system:sweeper', '2']);
    assert.deepEqual([defaulted!.source, defaulted!.actor, defaulted!['schema-version'], defaulted!.tenant], ['delivery', 'courier:c-1', '1', 't-1']);
    assert.equal(headersOf(outboxInsert('delivery', null, [{ subject: 'delivery.order.Moved', key: 'k', payload: {} }]))[0]!.actor, '', 'no actor: empty');
  });

  test('an event appended through the outbox: its stream id (the key) and its extra.traceparent', () => {
    const { validate } = outboxAppendSql('ordering', 'order');
    const event = (streamId: string, extra?: Record<string, unknown>): PendingEvent => ({
      streamId,
      type: 'OrderPlaced',
      schemaVersion: 1,
      data: {},
      metadata: { messageId: 'm', correlationId: 'c', causationId: null, tenantId: 't', actor: null, source: 'ordering', occurredAt: '2026-12-04T00:00:00.000Z', ...(extra === undefined ? {} : { extra }) },
    });
    assert.throws(() => validate!([event('order-1', { traceparent: 'x\ny' })]), refused('events[0].metadata.extra.traceparent', /traceparent has a line break/));
    assert.throws(() => validate!([event('order-1\r')]), refused('events[0].streamId', /aggregate key/));
    validate!([event('order-1', { traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01', other: 'a\nb' })]);
  });
});
