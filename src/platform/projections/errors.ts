import { BrigadeError } from '../errors/index.ts';

/** 409: another rebuild of the same projection holds its rebuild lock. */
export class RebuildInProgressError extends BrigadeError {
  constructor(name: string) {
    super('PROJECTION_REBUILD_IN_PROGRESS', 409, `A rebuild of projection ${name} is already running; wait for it to finish`, { details: { projection: name } });
  }
}

/** 404: no projection of that name. */
export class UnknownProjectionError extends BrigadeError {
  constructor(name: string, known: readonly string[]) {
    super('PROJECTION_UNKNOWN', 404, `No projection named ${JSON.stringify(name)}; known: ${known.join(', ')}`, { details: { projection: name } });
  }
}
