import type { GlobalPosition } from '../events/index.ts';

/** How far a rebuild's replay has come; its steps update it as they go. */
export interface ReplayState {
  /** Events read from the log. */
  events: number;
  /** Rows handed to the writer (a row written twice counts twice). */
  rowsWritten: number;
  /** The shadow's checkpoint: the position of the last event read. */
  checkpoint: GlobalPosition;
}
