import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import { moveFenceKeys } from '../../src/platform/tenancy/index.ts';

/**
 * Restaurants written past RLS by the test's superuser, and what a move test reads of them. `admin` is
 * read at each call: the pool is made in the file's `before`.
 */
export function restaurantRows(admin: () => pg.Pool) {
  return {
    /** A restaurant of Porto with `staff` staff rows; returns its id. */
    async addRestaurant(name: string, staff = 3): Promise<string> {
      const city = await admin().query<{ id: string }>(`insert into platform.cities (name) values ('Porto') on conflict (name) do update set name = excluded.name returning id`);
      const made = await admin().query<{ id: string }>(`insert into platform.restaurants (city_id, name, currency) values ($1, $2, 'EUR') returning id`, [city.rows[0]!.id, `${name} ${randomUUID()}`]);
      const rid = made.rows[0]!.id;
      await admin().query(`insert into platform.staff (tenant_id, name, email) select $1, 'w' || n, $2 || n || '@example.com' from generate_series(1, $3::int) n`, [rid, randomUUID(), staff]);
      return rid;
    },
    /** How many staff rows of `tenant` the shared database holds. */
    staffRows: async (tenant: string) => (await admin().query<{ n: number }>(`select count(*)::int as n from platform.staff where tenant_id = $1`, [tenant])).rows[0]!.n,
    /** Whether `tenant` has a placement (1) or not (0). */
    placed: async (tenant: string) => (await admin().query(`select 1 from platform.tenant_placements where tenant_id = $1`, [tenant])).rowCount,
    /** Whether nobody holds any key of `tenant`'s fence (each tried, and let go at once). */
    async fenceFree(tenant: string): Promise<boolean> {
      const client = await admin().connect();
      try {
        let free = true;
        for (const key of moveFenceKeys('$1::uuid')) {
          const { rows } = await client.query<{ ok: boolean }>(`select pg_try_advisory_lock(${key}) as ok`, [tenant]);
          if (rows[0]!.ok) await client.query(`select pg_advisory_unlock(${key})`, [tenant]);
          free &&= rows[0]!.ok;
        }
        return free;
      } finally {
        client.release();
      }
    },
  };
}
