/** Shared pieces for aTLS tests: a log capture, an aTLS server on loopback, dialing. */
import { connect, type AddressInfo, type Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { createLogger, type Logger } from '../../../lib/log.js';
import { createAtlsServer, type AtlsServerOptions, type AttestedPeer } from '../../../lib/coordinator/atls-server.js';
import { InsecureValidator } from '../../../lib/attestation/insecure.js';

export interface LogCapture {
  readonly logger: Logger;
  readonly lines: Array<Record<string, unknown>>;
  /** Resolves with the first line matching `pred` (already logged or future). */
  waitFor(pred: (line: Record<string, unknown>) => boolean, timeoutMs?: number): Promise<Record<string, unknown>>;
}

export function captureLogs(): LogCapture {
  const lines: Array<Record<string, unknown>> = [];
  const waiters: Array<() => void> = [];
  const logger = createLogger(
    { level: 'debug', format: 'json', subsystems: '*' },
    {
      destination: {
        write(line: string) {
          lines.push(JSON.parse(line) as Record<string, unknown>);
          for (const w of waiters.splice(0)) w();
        },
      },
    },
  );
  return {
    logger,
    lines,
    waitFor(pred, timeoutMs = 10_000) {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          reject(new Error(`no matching log line; got:\n${lines.map((l) => JSON.stringify(l)).join('\n')}`));
        }, timeoutMs);
        const check = (): void => {
          const hit = lines.find(pred);
          if (hit !== undefined) {
            clearTimeout(timer);
            resolve(hit);
          } else {
            waiters.push(check);
          }
        };
        check();
      });
    },
  };
}

export interface TestServer {
  readonly port: number;
  readonly logs: LogCapture;
  readonly accepted: Array<{ socket: TLSSocket; peer: AttestedPeer }>;
}

type Teardown = { teardown(fn: () => void | Promise<void>): void };

export async function startAtlsServer(t: Teardown, options: Partial<AtlsServerOptions> = {}): Promise<TestServer> {
  const logs = captureLogs();
  const accepted: TestServer['accepted'] = [];
  const server = createAtlsServer({
    validators: [new InsecureValidator()],
    logger: logs.logger,
    minVersion: 'TLSv1.2',
    onConnection(socket, peer) {
      accepted.push({ socket, peer });
      socket.end('welcome\n');
    },
    ...options,
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(
    () =>
      new Promise<void>((resolve) => {
        for (const a of accepted) a.socket.destroy();
        server.close(() => {
          resolve();
        });
      }),
  );
  return { port: (server.address() as AddressInfo).port, logs, accepted };
}

export function dial(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect(port, '127.0.0.1', () => {
      resolve(s);
    });
    s.once('error', reject);
  });
}
