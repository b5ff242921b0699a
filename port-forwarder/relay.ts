/**
 * A TCP relay: every connection accepted on a listen port is joined to a new connection to the
 * forward host, bytes are copied both ways, and a half-close on one side is passed on to the other.
 */
import { createServer, connect, type Server, type Socket, type AddressInfo } from 'node:net';
import type { Logger } from '../lib/log.js';
import { closeServer } from '../lib/close-server.js';
import { ContrastError } from '../lib/errors.js';
import type { ForwarderConfig, PortMapping } from './config.js';

export class ListenError extends ContrastError {
  readonly code = 'ERR_LISTEN';
}

export interface RelayCounters {
  accepted: number;
  forwarded: number;
  failed: number;
  active: number;
}

export interface Relay {
  /** The bound address of each mapping, in order (port 0 in tests resolves to a real port). */
  readonly addresses: readonly AddressInfo[];
  readonly counters: Readonly<RelayCounters>;
  /** Stops accepting, ends open connections, resolves when every socket is closed. */
  close(): Promise<void>;
}

export async function startRelay(config: ForwarderConfig, log: Logger): Promise<Relay> {
  const counters: RelayCounters = { accepted: 0, forwarded: 0, failed: 0, active: 0 };
  const sockets = new Set<Socket>();
  const servers: Server[] = [];
  const track = (s: Socket): void => {
    sockets.add(s);
    s.once('close', () => sockets.delete(s));
  };
  try {
    for (const mapping of config.mappings) {
      const server = createServer({ allowHalfOpen: true, pauseOnConnect: true }, (client) => {
        track(client);
        join(client, mapping, config, counters, track, log);
      });
      servers.push(server);
      server.listen({ host: config.listenAddress, port: mapping.listen });
      await new Promise<void>((resolve, reject) => {
        const onError = (err: Error): void => {
          reject(
            new ListenError(`listening on ${config.listenAddress}:${mapping.listen}: ${err.message}`, { cause: err }),
          );
        };
        server.once('error', onError);
        server.once('listening', () => {
          server.off('error', onError);
          resolve();
        });
      });
    }
  } catch (err) {
    await Promise.all(servers.map((s) => closeServer(s)));
    throw err;
  }
  return {
    addresses: servers.map((s) => s.address() as AddressInfo),
    counters,
    async close() {
      const closing = servers.map((s) => closeServer(s));
      for (const s of sockets) {
        closing.push(
          new Promise<void>((resolve) => {
            s.once('close', () => {
              resolve();
            });
          }),
        );
        s.destroy();
      }
      await Promise.all(closing);
    },
  };
}

function join(
  client: Socket,
  mapping: PortMapping,
  config: ForwarderConfig,
  counters: RelayCounters,
  track: (s: Socket) => void,
  log: Logger,
): void {
  counters.accepted++;
  counters.active++;
  client.once('close', () => {
    counters.active--;
  });
  const upstream = connect({ host: config.forwardHost, port: mapping.forward, allowHalfOpen: true });
  track(upstream);
  upstream.setTimeout(config.connectTimeoutMs, () => {
    upstream.destroy(new Error(`connect timeout after ${config.connectTimeoutMs}ms`));
  });
  let connected = false;
  upstream.once('connect', () => {
    connected = true;
    upstream.setTimeout(0);
    counters.forwarded++;
    pipeHalf(client, upstream);
    pipeHalf(upstream, client);
    client.resume();
  });
  upstream.once('error', (err) => {
    if (!connected) {
      counters.failed++;
      log.warn(
        { listen: mapping.listen, target: `${config.forwardHost}:${mapping.forward}`, err: err.message },
        'Forwarding connection failed',
      );
    }
    // A reset on one side is a reset on the other.
    client.destroy();
  });
  client.once('error', () => {
    upstream.destroy();
  });
  client.once('close', (hadError) => {
    // After a clean close, end-of-stream has been passed on and buffered bytes must still flow.
    if (hadError || !connected) upstream.destroy();
  });
}

/** Copies `from` into `to`, honouring back-pressure, and passes end-of-stream on as a half-close. */
function pipeHalf(from: Socket, to: Socket): void {
  from.on('data', (chunk: Buffer) => {
    if (!to.write(chunk)) {
      from.pause();
      to.once('drain', () => from.resume());
    }
  });
  from.once('end', () => {
    if (!to.destroyed) to.end();
  });
}
