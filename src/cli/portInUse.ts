import net from 'node:net';
import { BrigadeError } from '../platform/errors/index.ts';

/** Which server could not listen, and what moves it. */
export interface ListeningServer {
  /** What the user knows it as, e.g. "the HTTP API". */
  readonly name: string;
  /** Where it tried to listen. */
  readonly host: string;
  readonly port: number;
  /** The variable (or flag) that sets its port, and where its default comes from, e.g. "PORT". */
  readonly setting: string;
  /** Another way out, e.g. to point at a provider that already runs. */
  readonly alternative?: string;
  /** The variable (or flag) that set its host. Default `HOST`. */
  readonly hostSetting?: string;
}

/** Listen errors of a host that is not an address of this machine, and why, in words. */
const HOST_NOT_HERE: Readonly<Record<string, string>> = {
  ENOTFOUND: 'the name does not resolve',
  EAI_AGAIN: 'the name could not be looked up',
  EADDRNOTAVAIL: 'no network interface of this machine has that address',
};

/**
 * `error` unchanged, unless it is a listen's EADDRINUSE: then a {@link BrigadeError}
 * (`PORT_IN_USE`) that names the server, says another brigade may be running there, and which
 * variable to set, instead of Node's bare "listen EADDRINUSE: address already in use …". A host that
 * is not an address of this machine (a name that does not resolve, ENOTFOUND or EAI_AGAIN; an address
 * no interface has, EADDRNOTAVAIL) is `HOST_INVALID`, naming the host's variable: Node's bare
 * "getaddrinfo ENOTFOUND …" got the CLI's advice for a database host, "check DATABASE_URL".
 */
export function explainPortInUse(error: unknown, server: ListeningServer): unknown {
  const code = (error as { code?: unknown } | null)?.code;
  const notHere = typeof code === 'string' ? HOST_NOT_HERE[code] : undefined;
  if (notHere !== undefined) {
    const hostSetting = server.hostSetting ?? 'HOST';
    return new BrigadeError(
      'HOST_INVALID',
      400,
      `${server.name} cannot listen on ${hostSetting}=${server.host}: it is not an address of this machine (${notHere}). Set ${hostSetting} to one of its addresses, e.g. 127.0.0.1 (this machine only) or 0.0.0.0 (every interface).`,
      { cause: error },
    );
  }
  if (code !== 'EADDRINUSE') return error;
  const variable = server.setting.split(/[ ,(]/)[0];
  return new BrigadeError(
    'PORT_IN_USE',
    409,
    `${server.name} cannot listen on ${server.host}:${server.port} (${server.setting}): the port is already in use, perhaps by another brigade (start or demo) still running. Stop it, or set ${variable} to a free port${server.alternative === undefined ? '' : `, or ${server.alternative}`}.`,
    { cause: error },
  );
}

/** The HTTP API as {@link explainPortInUse} names it. */
const httpApiAt = (config: { readonly host: string; readonly port: number }): ListeningServer => ({ name: 'the HTTP API', host: config.host, port: config.port, setting: 'PORT' });

/**
 * Starts the HTTP API listening on `HOST`:`PORT`; a port in use, or a `HOST` that is not an address of
 * this machine, fails with the message of {@link explainPortInUse}. Returns the address it listens at,
 * which the caller prints for people: Fastify's own "Server listening" line is held back (its logger
 * is silent for the listen alone), so a JSON log line does not land among the start's lines to repeat it.
 */
export async function listenHttpApi(app: { log: { level: string }; listen(options: { host: string; port: number }): Promise<string> }, config: { readonly host: string; readonly port: number }): Promise<string> {
  const level = app.log.level;
  app.log.level = 'silent';
  try {
    return await app.listen({ host: config.host, port: config.port });
  } catch (error) {
    throw explainPortInUse(error, httpApiAt(config));
  } finally {
    app.log.level = level;
  }
}

/**
 * Fails as {@link listenHttpApi} would when `PORT` is taken or `HOST` is not an address of this
 * machine, before anything else is started: the stand-in provider listens first (on PORT + 1), and a
 * second `brigade start` on the same PORT was told to move the provider's port instead, which only led
 * to this error next. A free port passes (0 checks only `HOST`); something may still take it before
 * the API listens.
 */
export function checkHttpPortFree(config: { readonly host: string; readonly port: number }): Promise<void> {
  return checkPortFree(httpApiAt(config));
}

/**
 * Fails with the error of {@link explainPortInUse} when `server` could not listen where it is set to
 * (its port taken, or its host not an address of this machine): a probe listens there and closes at
 * once. A free port passes (0 checks only the host); something may still take it before the server listens.
 */
export async function checkPortFree(server: ListeningServer): Promise<void> {
  const probe = net.createServer();
  await new Promise<void>((resolve, reject) => {
    probe.once('error', reject);
    probe.listen({ host: server.host, port: server.port, exclusive: true }, () => probe.close(() => resolve()));
  }).catch((error: unknown) => {
    throw explainPortInUse(error, server);
  });
}
