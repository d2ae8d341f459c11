/**
 * `host:port/database` of a connection string as pg reads it (the port 5432 when none is given),
 * never its user or password: what `databaseLabel` hashes, and what a command shows beside the
 * label of a database the operator must go and fix. `''` for a string pg cannot read either.
 *
 * @example
 * databaseAddress('postgres://app:secret@DB-eu-1/brand_a') // 'db-eu-1:5432/brand_a'
 */
export function databaseAddress(url: string): string {
  // pg's socket form: `/run/postgresql dbname`.
  if (url.startsWith('/')) {
    const [host = '', database = ''] = url.split(' ');
    return `${host}:5432/${database}`;
  }
  try {
    const parsed = new URL(url);
    // pg reads a socket directory or a database from the query too (`?host=/run/postgresql`).
    const host = parsed.searchParams.get('host') ?? decodeURIComponent(parsed.hostname);
    const port = parsed.searchParams.get('port') ?? (parsed.port === '' ? '5432' : parsed.port);
    const database = parsed.searchParams.get('dbname') ?? decodeURIComponent(parsed.pathname.replace(/^\//, ''));
    return `${host.toLowerCase()}:${port}/${database}`;
  } catch {
    // pg connects to nothing with it either; nothing of it (a password, say) goes into the label.
    return '';
  }
}
