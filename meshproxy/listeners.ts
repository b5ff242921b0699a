/**
 * Binding servers: a transparent fd from the addon (IPv4 and IPv6), or an ordinary address. Every
 * helper resolves only once the socket listens, and names the address in its error.
 */
import type { Server } from 'node:net';
import { describeError } from '../lib/errors.js';
import type { TransparentSockets } from '../lib/native/sockets.js';
import { ListenError } from './errors.js';

/**
 * The accept queue of every listener. Node's listen() sets it again on a listener it is handed as an
 * fd (511 unless told), so the transparent listeners pass it twice: to the addon and to Node.
 */
export const LISTEN_BACKLOG = 1024;

export function listenOn(
  server: Server,
  where: { host: string; port: number } | { fd: number },
  label: string,
): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (err: Error): void => {
      reject(new ListenError(`listening on ${label}: ${describeError(err)}`, { cause: err }));
    };
    server.once('error', onError);
    const listening = (): void => {
      server.off('error', onError);
      resolve();
    };
    // For a handle, Node takes the backlog only as the second argument (listen(handle, backlog, cb)).
    if ('fd' in where) server.listen({ fd: where.fd }, LISTEN_BACKLOG, listening);
    else server.listen({ host: where.host, port: where.port, backlog: LISTEN_BACKLOG }, listening);
  });
}

/** A transparent listener on `address:port` (IP_TRANSPARENT / IPV6_TRANSPARENT), with SO_MARK `mark` when non-zero. */
export async function listenTransparent(
  server: Server,
  sockets: TransparentSockets,
  address: string,
  port: number,
  mark = 0,
): Promise<void> {
  const label = `${address.includes(':') ? `[${address}]` : address}:${port} (transparent)`;
  let fd: number;
  try {
    fd = sockets.transparentListen(address, port, LISTEN_BACKLOG, mark);
  } catch (err) {
    throw new ListenError(`listening on ${label}: ${describeError(err)}`, { cause: err });
  }
  await listenOn(server, { fd }, label);
}
