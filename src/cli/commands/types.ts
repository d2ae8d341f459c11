import type { Io } from '../io.ts';

/** What every command gets: the environment (read into Config once) and where to write. */
export interface CommandContext {
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly io: Io;
}
