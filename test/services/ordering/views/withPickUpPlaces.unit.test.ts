import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { FastifyBaseLogger } from 'fastify';
import { DIRECTORY_UNAVAILABLE, withPickUpPlaces } from '../../../../src/services/ordering/views/withPickUpPlaces.ts';

const A = '00000000-0000-4000-8000-00000000000a';
const B = '00000000-0000-4000-8000-00000000000b';
const tasks = [
  { orderId: 'o1', restaurantId: A },
  { orderId: 'o2', restaurantId: B },
  { orderId: 'o3', restaurantId: A },
];
/** A logger that keeps what was warned. */
function logger() {
  const warned: unknown[] = [];
  return { warned, log: { warn: (...args: unknown[]) => warned.push(args) } as unknown as FastifyBaseLogger };
}

// Decision 0040, "Fixed later (forty-eighth session)": the tasks say where to pick each order up, and
// are answered also when the restaurant directory (the platform's database, perhaps another one) is not.
describe('withPickUpPlaces: the restaurant and pick-up address of each courier task', () => {
  test('asks the directory once for the distinct restaurants, and gives each task its name and address (null until set); an unknown restaurant says so', async () => {
    const asked: Array<readonly string[]> = [];
    const { log, warned } = logger();
    const places = await withPickUpPlaces(
      tasks,
      {
        pickUpPlaces: async (ids) => {
          asked.push(ids);
          return new Map([[A, { name: 'Tasca', pickupAddress: 'Rua 1' }]]);
        },
      },
      1000,
      log,
    );
    assert.deepEqual(asked, [[A, B]]);
    assert.deepEqual(
      places.map((p) => [p.orderId, p.restaurantName, p.pickupAddress, p.pickupUnknown === null]),
      [['o1', 'Tasca', 'Rua 1', true], ['o2', null, null, false], ['o3', 'Tasca', 'Rua 1', true]],
    );
    assert.match(places[1]!.pickupUnknown!, /does not know this restaurant: ask the restaurant/);
    assert.deepEqual(warned, []);
  });

  test('a directory that fails, or does not answer in time, leaves the names and addresses null with the reason, and the tasks are answered', async () => {
    for (const pickUpPlaces of [() => Promise.reject(new Error('connect ECONNREFUSED')), () => new Promise<never>(() => undefined)]) {
      const { log, warned } = logger();
      const places = await withPickUpPlaces(tasks, { pickUpPlaces }, 20, log);
      assert.deepEqual(
        places.map((p) => [p.orderId, p.restaurantId, p.restaurantName, p.pickupAddress, p.pickupUnknown]),
        tasks.map((x) => [x.orderId, x.restaurantId, null, null, DIRECTORY_UNAVAILABLE]),
      );
      assert.equal(warned.length, 1, 'logged once');
    }
  });

  test('no tasks: the directory is not asked', async () => {
    const { log } = logger();
    let asked = false;
    const places = await withPickUpPlaces([], { pickUpPlaces: async () => ((asked = true), new Map()) }, 1000, log);
    assert.deepEqual([places, asked], [[], false]);
  });
});
