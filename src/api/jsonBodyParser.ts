import type { FastifyBodyParser, FastifyInstance } from 'fastify';
import { BrigadeError } from '../platform/errors/index.ts';

/**
 * 400 `FORBIDDEN_JSON_KEY`: a JSON body holds a `__proto__` key, or a `constructor` object with a
 * `prototype` key, which Fastify's parser refuses (they could change what objects inherit once merged
 * into one). The body is valid JSON; `field` is where the key is, e.g. `body.lines[0].__proto__`.
 */
export class ForbiddenJsonKeyError extends BrigadeError {
  constructor(field: string) {
    const what = field.endsWith('.__proto__') ? 'a key named __proto__' : 'a constructor object with a prototype key';
    super('FORBIDDEN_JSON_KEY', 400, `${field}: ${what} is not accepted in a body (it could change what objects inherit); remove or rename it and send again`, { details: { field } });
  }
}

/**
 * Where in `value` (parsed by `JSON.parse`, which keeps a `__proto__` key as an own member) the first
 * key Fastify's secure parsing refuses is, in document order: `<path>.__proto__`, or
 * `<path>.constructor.prototype` for a `constructor` object holding a `prototype`; `null` when none.
 * Paths are written as `unstorableTextAt` (requestInput.ts) writes them: `body.tags[1].b.__proto__`.
 */
export function forbiddenJsonKeyAt(value: unknown, path: string): string | null {
  // An explicit stack, not recursion: a body may be nested thousands deep.
  const stack: Array<[unknown, string]> = [[value, path]];
  while (stack.length > 0) {
    const [current, at] = stack.pop()!;
    if (current === null || typeof current !== 'object') continue;
    if (Object.hasOwn(current, '__proto__')) return `${at}.__proto__`;
    const inner = (current as Record<string, unknown>).constructor;
    if (Object.hasOwn(current, 'constructor') && inner !== null && typeof inner === 'object' && Object.hasOwn(inner, 'prototype')) return `${at}.constructor.prototype`;
    const entries = Object.entries(current);
    for (let i = entries.length - 1; i >= 0; i--) {
      const [key, member] = entries[i]!;
      stack.push([member, Array.isArray(current) ? `${at}[${key}]` : `${at}.${key}`]);
    }
  }
  return null;
}

/**
 * Fastify's own JSON parser (`__proto__` and `constructor.prototype` refused), except that a refused key
 * is a 400 {@link ForbiddenJsonKeyError} naming it: Fastify reports it as `FST_ERR_CTP_INVALID_JSON_BODY`,
 * the error of text that does not parse (its parser drops secure-json-parse's "Object contains forbidden
 * prototype property"), and the error handler cannot tell them apart. An empty body stays Fastify's error.
 *
 * @example
 * app.removeContentTypeParser('application/json');
 * app.addContentTypeParser('application/json', { parseAs: 'string' }, jsonBodyParser(app));
 */
export function jsonBodyParser(app: FastifyInstance): (request: Parameters<FastifyBodyParser<string>>[0], text: string, done: (error: Error | null, body?: unknown) => void) => void {
  const json = app.getDefaultJsonParser('error', 'error');
  return (request, text, done) =>
    json(request, text, (error, value) => {
      const key = error === null ? null : forbiddenKeyIn(text);
      if (key !== null) return done(new ForbiddenJsonKeyError(key), undefined);
      done(error, value);
    });
}

/** {@link forbiddenJsonKeyAt} of `text`, when it is JSON (a byte order mark before it, as Fastify's parser takes); else `null`. */
function forbiddenKeyIn(text: string): string | null {
  try {
    return forbiddenJsonKeyAt(JSON.parse(text.charCodeAt(0) === 0xfeff ? text.slice(1) : text), 'body');
  } catch {
    return null;
  }
}
