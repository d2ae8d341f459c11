import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { checkpointHistory } from '../../../src/platform/outbox/checkpointHistory.ts';

const at = (id: number) => ({ transactionId: String(1000 + id), id: String(id) });

describe('checkpointHistory (the prune bound)', () => {
  test('gives the newest checkpoint reached at least the retention ago, and nothing before the first one is', () => {
    const history = checkpointHistory(1000);
    history.record(at(1), 0);
    history.record(at(2), 400);
    history.record(at(3), 900);
    assert.equal(history.publishedBefore(999), null, 'nothing was published a retention ago yet');
    assert.deepEqual(history.publishedBefore(1000), at(1));
    assert.deepEqual(history.publishedBefore(1399), at(1));
    assert.deepEqual(history.publishedBefore(1400), at(2));
    assert.deepEqual(history.publishedBefore(5000), at(3));
    history.record(at(4), 5000);
    assert.deepEqual(history.publishedBefore(5999), at(3), 'a newer note does not make the last expired one younger');
    assert.deepEqual(history.publishedBefore(6000), at(4));
  });

  test('never answers with a checkpoint reached later than its note: closer notes than the spacing and unmoved checkpoints are skipped', () => {
    const history = checkpointHistory(12_800); // spacing 100
    history.record(at(1), 0);
    history.record(at(2), 50); // within the spacing of the last note: skipped
    history.record(at(2), 120); // noted, dated 120 (not 50)
    history.record(at(2), 300); // unmoved since the last note: skipped, so at(2) stays dated 120
    assert.deepEqual(history.publishedBefore(12_800), at(1));
    assert.deepEqual(history.publishedBefore(12_919), at(1));
    assert.deepEqual(history.publishedBefore(12_920), at(2));
  });

  test('with a note every ms, the bound trails the retention by at most the spacing', () => {
    const history = checkpointHistory(1000);
    for (let i = 1; i <= 100_000; i++) history.record(at(i), i);
    // Notes are at least 1000/128 apart: the newest expired one is at most that far behind.
    const bound = history.publishedBefore(100_000);
    assert.ok(bound !== null);
    assert.ok(Number(bound.id) <= 99_000 && Number(bound.id) > 99_000 - 1000 / 128 - 1, `got ${bound.id}`);
  });

  test('a session that reads a checkpoint behind the notes (commits lost in a crash, or moved back) forgets the notes past it', () => {
    const history = checkpointHistory(1000);
    history.record(at(1), 0);
    history.record(at(5), 100);
    history.record(at(9), 200); // published, as far as the relay knew; the crash lost it
    history.rewind(at(5));
    history.record(at(5), 300); // the next session notes what it read: at(5) is noted already, so skipped
    assert.deepEqual(history.publishedBefore(5000), at(5), 'never a note past the checkpoint read');
    // Behind every note kept (at(1) went once at(5) had expired): nothing is known to be published.
    history.rewind(at(3));
    assert.equal(history.publishedBefore(5000), null);
    history.record(at(7), 6000); // published again: noted when it was
    assert.equal(history.publishedBefore(6999), null);
    assert.deepEqual(history.publishedBefore(7000), at(7));
  });
});
