/**
 * What the menu service asks of the restaurant directory (owned by the platform service). The
 * composition root wires an implementation: in-process when the services run together, HTTP when
 * they run apart. The menu service never reads the platform's tables.
 */
export interface RestaurantDirectory {
  /** The restaurant's currency, or null when there is no such restaurant. */
  restaurant(id: string): Promise<{ readonly id: string; readonly currency: string; readonly city: string } | null>;
  /**
   * A city's restaurants (the city matched whatever its case), each with its currency (a city's
   * restaurants may have different ones: a search hit's price is in its restaurant's) and whether it
   * lives in a database of its own (a moved tenant, docs/decisions/0008): those are read one by one
   * where they live, the rest together.
   */
  restaurantsIn(city: string): Promise<ReadonlyArray<{ readonly id: string; readonly currency: string; readonly dedicated: boolean }>>;
  /**
   * Which of the restaurants `ids` live in a database of their own (a moved tenant, docs/decisions/0008):
   * their menu rows are read there, one by one; the others' together in the shared database.
   */
  placedApart(ids: readonly string[]): Promise<ReadonlySet<string>>;
}

/** The menu service's ports. */
export interface MenuPorts {
  readonly directory: RestaurantDirectory;
}
