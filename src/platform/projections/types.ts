import type { Tx } from '../db/index.ts';
import type { EventStore, RecordedEvent } from '../events/index.ts';

/**
 * A projection: a read model folded from one schema's event log, with its own checkpoint. Built with
 * {@link defineProjection} or {@link defineRowProjection}.
 */
export interface Projection {
  /** Unique name within the schema, e.g. `board`. Its checkpoint row and lock key. */
  readonly name: string;
  /** The service whose role reads and writes (`brigade_<service>`), e.g. `ordering`. */
  readonly service: string;
  /** The schema holding the events, the checkpoint table and the view table. */
  readonly schema: string;
  /** The view table the projection writes, unqualified, e.g. `board_view`. */
  readonly table: string;
  /** The event store of `schema`: the runner reads with its `readAll` (upcasters apply). */
  readonly store: EventStore;
  /** Event types the projection handles; others still advance the checkpoint. Absent = all. */
  readonly eventTypes?: ReadonlySet<string>;
  /**
   * Applies a batch (in global order) to `target`, in the runner's transaction, which then advances
   * the checkpoint and commits both together. `target` is the escaped, schema-qualified table to
   * write: the live table, or a rebuild's shadow. Must be idempotent per event position (apply only
   * events newer than the row's last position). Returns the rows it changed (for live streams).
   */
  apply(tx: Tx, events: readonly RecordedEvent[], target: string, context?: ApplyContext): Promise<readonly ViewRow[]>;
}

/**
 * What a rebuild tells `apply` so it can go faster; a projection may ignore it. The rebuild's shadow
 * table is written by nobody else, so the rows it wrote can be remembered across batches.
 */
export interface ApplyContext {
  /** Rows written to `target` by earlier batches of this caller (key → row); `apply` keeps it current. */
  readonly rows: Map<string, unknown>;
  /** True while `rows` holds every row of `target` (a missing key is a new row: no need to read). */
  complete: boolean;
  /** Whether the caller needs the changed rows back. */
  readonly returnRows: boolean;
}

/** A changed view row as the projector wrote it (column name → value). */
export type ViewRow = Readonly<Record<string, unknown>>;

/** Options of a runner, a rebuild or a status read that need the checkpoint table. */
export interface CheckpointTable {
  /** Escaped `"schema".projection_checkpoints`. */
  readonly table: string;
}
