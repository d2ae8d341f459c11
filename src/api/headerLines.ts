/**
 * Every value of header `name` as the request's lines carried it (`rawHeaders`): `undefined` for none,
 * the value for one line, the list for several. In `request.headers` Node joins repeated lines of most
 * headers into one `"a, b"` (which reads as a single value with a space) and keeps only the first of
 * some (`Authorization`); this tells them apart.
 *
 * @example
 * headerLines(['Idempotency-Key', 'k-1', 'idempotency-key', 'k-2'], 'idempotency-key'); // ['k-1', 'k-2']
 * headerLines(['Host', 'localhost'], 'idempotency-key'); // undefined
 */
export function headerLines(rawHeaders: readonly string[], name: string): string | string[] | undefined {
  const values: string[] = [];
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) if ((rawHeaders[i] as string).toLowerCase() === name) values.push(rawHeaders[i + 1] as string);
  return values.length === 0 ? undefined : values.length === 1 ? values[0] : values;
}
