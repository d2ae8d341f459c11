/**
 * Whether an `Accept` header admits `text/event-stream`: none at all, a wildcard (`*\/*`, `text/*`) or
 * the type itself, each unless its `q` is 0. A stream's route answers 406 otherwise: a client that
 * takes only JSON would get an endless stream it cannot read.
 *
 * @example
 * acceptsEventStream('application/json, text/event-stream;q=0.9') // true
 */
export function acceptsEventStream(accept: string | undefined): boolean {
  if (accept === undefined || accept.trim() === '') return true;
  return accept.split(',').some((range) => {
    const [type = '', ...params] = range.split(';').map((part) => part.trim().toLowerCase());
    const refused = params.some((p) => /^q=0(\.0{0,3})?$/.test(p));
    return !refused && (type === '*/*' || type === 'text/*' || type === 'text/event-stream');
  });
}
