/**
 * Egress session resumption against a real Node TLS server (mutual TLS, mesh certificates), in this
 * process on loopback: connections after the first resume, and when the remote restarts with new
 * ticket keys (every cached ticket refused), the egress takes the new tickets at once instead of
 * doing full handshakes until its cached ticket ages out. With resumption off, every connection is a
 * full handshake. On each data path.
 */
import test, { type ExecutionContext } from 'ava';
import { mkdtemp, rm } from 'node:fs/promises';
import { connect, type AddressInfo, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer as createTlsServer, type Server as TlsServer } from 'node:tls';
import { silentLogger } from '../../lib/log.js';
import { openCertStore } from '../../meshproxy/certs.js';
import type { DataPath } from '../../meshproxy/config.js';
import { createEgress } from '../../meshproxy/egress.js';
import { MeshEvents } from '../../meshproxy/events.js';
import { MeshStats } from '../../meshproxy/stats.js';
import { DATA_PATHS, onPath } from './data-paths.js';
import { createTestPki, writeTlsDir } from './pki.js';

/** A mutual-TLS echo-once server that records whether each handshake resumed. */
async function startRemote(
  pki: Awaited<ReturnType<typeof createTestPki>>,
  port: number,
  resumed: boolean[],
): Promise<TlsServer> {
  const server = createTlsServer(
    {
      cert: pki.server.certPem + pki.meshCA.certPem,
      key: pki.server.keyPem,
      ca: pki.meshCA.certPem,
      requestCert: true,
      rejectUnauthorized: true,
    },
    (s) => {
      resumed.push(s.isSessionReused());
      s.end('hello');
    },
  );
  await new Promise<void>((resolve) => {
    server.listen(port, '127.0.0.1', resolve);
  });
  return server;
}

/** One plaintext connection through the egress; resolves with what the remote sent. */
function through(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = connect({ host: '127.0.0.2', port });
    let got = '';
    s.on('data', (d: Buffer) => {
      got += d.toString();
    });
    s.on('end', () => {
      s.end();
      resolve(got);
    });
    s.on('error', reject);
  });
}

const close = (server: Server): Promise<void> =>
  new Promise((resolve) => {
    server.close(() => {
      resolve();
    });
  });

/**
 * A remote and an egress to it on `dataPath` (resumption per `resumeSessions`), torn down with the
 * test; `restart` starts the remote anew on the same port with new ticket keys.
 */
async function setup(t: ExecutionContext, dataPath: DataPath, resumeSessions?: boolean) {
  const dir = await mkdtemp(join(tmpdir(), `meshproxy-resume-${process.pid}-`));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const pki = await createTestPki();
  await writeTlsDir(dir, pki.meshCA, pki.client);
  const certs = await openCertStore({ dir, log: silentLogger(), pollMs: 0 });
  t.teardown(() => {
    certs.close();
  });
  const resumed: boolean[] = [];
  let remote = await startRemote(pki, 0, resumed);
  const remotePort = (remote.address() as AddressInfo).port;
  t.teardown(() => close(remote));
  const stats = new MeshStats().listener('r', 'egress');
  const egress = createEgress({
    entry: { name: 'r', listen: { host: '127.0.0.2', port: 0 }, remote: { host: '127.0.0.1', port: remotePort } },
    certs,
    stats,
    events: new MeshEvents(silentLogger()),
    connectTimeoutMs: 5000,
    idleTimeoutMs: 60_000,
    open: new Set(),
    dataPath,
    ...(resumeSessions === undefined ? {} : { resumeSessions }),
  });
  await new Promise<void>((resolve) => {
    egress.listen(0, '127.0.0.2', resolve);
  });
  t.teardown(() => close(egress));
  const restart = async (): Promise<void> => {
    await close(remote);
    remote = await startRemote(pki, remotePort, resumed);
  };
  return { port: (egress.address() as AddressInfo).port, resumed, stats, restart };
}

for (const dataPath of DATA_PATHS) {
  test(
    onPath('egress resumes sessions, and takes new tickets at once when the remote restarts', dataPath),
    async (t) => {
      const { port, resumed, stats, restart } = await setup(t, dataPath);
      for (let i = 0; i < 4; i++) t.is(await through(port), 'hello');
      t.deepEqual(resumed, [false, true, true, true]);

      // A restarted remote has new ticket keys: the cached ticket is refused once, then new ones are used.
      await restart();
      resumed.length = 0;
      for (let i = 0; i < 4; i++) t.is(await through(port), 'hello');
      t.deepEqual(resumed, [false, true, true, true]);
      t.is(stats.sessionsResumed, 6);
      t.is(stats.upstreamConnectFailures, 0);
    },
  );

  test(onPath('with session resumption off, every egress connection is a full handshake', dataPath), async (t) => {
    const { port, resumed, stats } = await setup(t, dataPath, false);
    for (let i = 0; i < 4; i++) t.is(await through(port), 'hello');
    t.deepEqual(resumed, [false, false, false, false]);
    t.is(stats.sessionsResumed, 0);
  });
}
