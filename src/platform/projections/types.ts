import type pg from 'pg';
import type { Tx } from '../db/index.ts';
import type { EventStore, FoldEvent, RecordedEvent } from '../events/index.ts';

/** What every projection has, whatever its `apply` reads (see {@link Projection}). */
export interface ProjectionBase {
  /** Unique name within the schema, e.g. `board`. Its checkpoint row and lock key. */
  readonly name: string;
  /** The service whose role reads and writes (`brigade_<service>`), e.g. `ordering`. */
  readonly service: string;
  /** The schema holding the events, the checkpoint table and the view table. */
  readonly schema: string;
  /** The view table the projection writes, unqualified, e.g. `board_view`. */
  readonly table: string;
  /** The event store of `schema`: the runner reads with its `readAll` or `readAllForFold` (upcasters apply either way). */
  readonly store: EventStore;
  /** Event types the projection handles; others still advance the checkpoint. Absent = all. */
  readonly eventTypes?: ReadonlySet<string>;
  /**
   * Optional fast path of a rebuild: a fold of the whole log held in memory and written in bulk (see
   * {@link ProjectionReplay}), fed with {@link FoldEvent}s (`streamAllForFold`/`readAllForFold`, fewer
   * columns than `readAll`). Without it a rebuild replays page by page through `apply`.
   */
  replay?(): ProjectionReplay;
}

/**
 * A projection whose `apply` takes whole envelopes (message id, lineage, actor, recorded time): live
 * batches read the log with the store's `readAll`. What {@link defineProjection} declares.
 */
export interface EnvelopeProjection extends ProjectionBase {
  readonly reads?: undefined;
  /**
   * Applies a batch (in global order) to `target`, in the runner's transaction, which then advances
   * the checkpoint and commits both together. `target` is the escaped, schema-qualified table to
   * write: the live table, or a rebuild's shadow. Must be idempotent per event position (apply only
   * events newer than the row's last position). Returns the rows it wrote, as it sent them (for live
   * feeds; a row the table already held at a newer position stays as it was).
   */
  apply(tx: Tx, events: readonly RecordedEvent[], target: string): Promise<readonly ViewRow[]>;
}

/**
 * A projection whose `apply` reads nothing beyond a {@link FoldEvent}: live batches read only the
 * log's fold columns (`readAllForFold`, decision 0070), as a rebuild does. What
 * {@link defineRowProjection} declares. Its `apply` takes whole envelopes too (every
 * {@link RecordedEvent} is a fold event).
 */
export interface FoldProjection extends ProjectionBase {
  readonly reads: 'fold';
  /** As {@link EnvelopeProjection.apply}, over fold events. */
  apply(tx: Tx, events: readonly FoldEvent[], target: string): Promise<readonly ViewRow[]>;
}

/**
 * A projection: a read model folded from one schema's event log, with its own checkpoint. Built with
 * {@link defineProjection} or {@link defineRowProjection}.
 */
export type Projection = EnvelopeProjection | FoldProjection;

/**
 * A rebuild's fold of the log into a new table that only the rebuild writes. Rows stay in memory
 * between pages and are written when the rebuild takes them, so a row that ten events shape is
 * written about once instead of ten times, and folding needs no read-back. Past a memory bound the
 * rebuild writes everything, calls {@link forget}, and later pages {@link load} what they touch.
 */
export interface ProjectionReplay {
  /** Rows held in memory. */
  readonly size: number;
  /** Rows changed and not taken since. */
  readonly pending: number;
  /** True until {@link forget}: memory holds every row written, so a row it lacks does not exist. */
  readonly complete: boolean;
  /** Reads from `target` the rows `events` touch that memory does not hold (only needed after {@link forget}). */
  load(tx: Tx, events: readonly FoldEvent[], target: string): Promise<void>;
  /** Folds `events` (global order, after the events before them) into memory. No I/O. */
  fold(events: readonly FoldEvent[]): void;
  /**
   * Takes up to `max` (default all) of the pending rows, each in its latest state, for {@link write}:
   * the least recently changed first, as those are the likeliest to change no more (a delivered order).
   */
  take(max?: number): ReplayRows;
  /**
   * Writes taken rows to `target` in `tx`: updates rows it wrote before (only when older), inserts the
   * others. `copyClient` is the connection `tx` runs on, given when `target` is under no row-level
   * security for it: new rows then go in with one `COPY … FROM STDIN`.
   */
  write(tx: Tx, target: string, rows: ReplayRows, copyClient?: pg.ClientBase): Promise<void>;
  /** Drops the rows held (once written); later folds need {@link load}. */
  forget(): void;
}

/** Rows taken from a {@link ProjectionReplay}. */
export interface ReplayRows {
  /** Rows the replay has not written before (new to the target while the replay is complete). */
  readonly fresh: readonly ViewRow[];
  /** Rows it may have written before. */
  readonly rewritten: readonly ViewRow[];
}

/** A changed view row as the projector wrote it (column name → value). */
export type ViewRow = Readonly<Record<string, unknown>>;

/** Options of a runner, a rebuild or a status read that need the checkpoint table. */
export interface CheckpointTable {
  /** Escaped `"schema".projection_checkpoints`. */
  readonly table: string;
}
