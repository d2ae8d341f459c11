import type { UnitOfWorkFn } from '../../platform/tenancy/index.ts';

/**
 * The restaurant directory other services ask through their ports (in-process adapter). Reads the
 * public directory in a read-only transaction of the platform service.
 */
export function restaurantDirectory(unitOfWork: UnitOfWorkFn) {
  const reader = { service: 'platform', readOnly: true } as const;
  return {
    async restaurant(id: string) {
      return unitOfWork(reader, async (tx) => {
        const row = await tx.query<{ id: string; currency: string; city: string }>(
          `select r.id, r.currency, c.name as city from platform.restaurants r join platform.cities c on c.id = r.city_id where r.id = $1`,
          [id],
        );
        return row.rows[0] ?? null;
      });
    },
    /**
     * Where couriers pick up the orders of the restaurants `ids`: each one's name and pick-up address
     * (null until set), by id; a restaurant the directory does not know is absent. One statement for a
     * page of tasks, read as they are answered: an address changed since an order was placed shows at once.
     */
    async pickUpPlaces(ids: readonly string[]): Promise<ReadonlyMap<string, { readonly name: string; readonly pickupAddress: string | null }>> {
      if (ids.length === 0) return new Map();
      const { rows } = await unitOfWork(reader, (tx) =>
        tx.query<{ id: string; name: string; pickupAddress: string | null }>(`select id, name, pickup_address as "pickupAddress" from platform.restaurants where id = any($1::uuid[])`, [ids]),
      );
      return new Map(rows.map((row) => [row.id, { name: row.name, pickupAddress: row.pickupAddress }]));
    },
    /**
     * Which of the restaurants `ids` live in a database of their own (a moved tenant, decision 0008). As
     * {@link restaurantsIn}, it reads the admins' placement catalog and says no more of it than that.
     */
    async placedApart(ids: readonly string[]): Promise<ReadonlySet<string>> {
      if (ids.length === 0) return new Set();
      const { rows } = await unitOfWork({ ...reader, actor: { kind: 'admin', id: 'directory' } }, (tx) =>
        tx.query<{ id: string }>(`select tenant_id as id from platform.tenant_placements where tenant_id = any($1::uuid[]) and coalesce(database_url, '') <> ''`, [ids]),
      );
      return new Set(rows.map((row) => row.id));
    },
    async restaurantsIn(city: string) {
      // The placement catalog is the platform's own and readable by admins only: this read says no
      // more of it than whether each restaurant lives apart.
      return unitOfWork({ ...reader, actor: { kind: 'admin', id: 'directory' } }, async (tx) =>
        (
          await tx.query<{ id: string; currency: string; dedicated: boolean }>(
            `select r.id, r.currency, coalesce(p.database_url, '') <> '' as dedicated
               from platform.restaurants r
               join platform.cities c on c.id = r.city_id
               left join platform.tenant_placements p on p.tenant_id = r.id
              where lower(c.name) = lower($1)`,
            [city],
          )
        ).rows,
      );
    },
  };
}

/** The courier directory other services ask through their ports: a courier's city, couriers' names. */
export function courierDirectory(unitOfWork: UnitOfWorkFn) {
  return {
    /**
     * The names of the couriers `ids` (unknown ids are absent). RLS shows couriers only to themselves
     * and admins: the directory reads as an admin, as `restaurantsIn` does, and says no more than the
     * name of each courier asked for.
     */
    async names(ids: readonly string[]): Promise<ReadonlyMap<string, string>> {
      if (ids.length === 0) return new Map();
      const { rows } = await unitOfWork({ service: 'platform', actor: { kind: 'admin', id: 'directory' }, readOnly: true }, (tx) =>
        tx.query<{ id: string; name: string }>(`select id, name from platform.couriers where id = any($1::uuid[])`, [ids]),
      );
      return new Map(rows.map((row) => [row.id, row.name]));
    },
    async courier(id: string) {
      // The courier reads their own row: RLS shows couriers only themselves.
      return unitOfWork({ service: 'platform', actor: { kind: 'courier', id }, readOnly: true }, async (tx) => {
        const row = await tx.query<{ id: string; city: string }>(
          `select k.id, c.name as city from platform.couriers k join platform.cities c on c.id = k.city_id where k.id = $1`,
          [id],
        );
        return row.rows[0] ?? null;
      });
    },
  };
}
