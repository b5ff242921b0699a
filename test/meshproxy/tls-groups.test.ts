/**
 * Post-quantum key exchange through the real proxies (contrast-meshproxy processes in explicit mode on
 * loopback): egress -> ingress negotiates X25519MLKEM768; Debian's `openssl s_client` / `s_server`
 * (OpenSSL 3.0, classic groups only) still connect, with X25519. The group shows in each proxy's debug
 * log and in the handshake counter by group; CONTRAST_TLS_GROUPS is applied, and a bad list is refused
 * at start with exit 64 naming the variable. Every handshake test runs on each data path.
 */
import test, { type ExecutionContext } from 'ava';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { connect, createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import { silentLogger } from '../../lib/log.js';
import { openCertStore } from '../../meshproxy/certs.js';
import type { DataPath } from '../../meshproxy/config.js';
import { createEgress } from '../../meshproxy/egress.js';
import { MeshEvents } from '../../meshproxy/events.js';
import { createIngress } from '../../meshproxy/ingress.js';
import { MeshStats } from '../../meshproxy/stats.js';
import { freePort, runOpenssl, sServerArgs } from '../atls/helpers/openssl-peer.js';
import { DATA_PATHS, onPath } from './data-paths.js';
import { collectJsonLog, MAIN, runCli } from './helpers-cli.js';
import { createTestPki, writePair, writeTlsDir, type TestPki } from './pki.js';

interface Proxy {
  readonly logs: Record<string, unknown>[];
  waitLog(pred: (l: Record<string, unknown>) => boolean): Promise<Record<string, unknown>>;
}

async function work(t: ExecutionContext): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), `meshproxy-groups-${process.pid}-`));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/** Starts contrast-meshproxy (explicit mode, debug log) and waits for its ready file. */
async function startProxy(t: ExecutionContext, dir: string, env: Record<string, string>): Promise<Proxy> {
  const ready = join(dir, 'ready');
  const child: ChildProcess = spawn(process.execPath, ['--import=tsx', MAIN, '-l', 'debug'], {
    env: {
      PATH: process.env['PATH'] ?? '/usr/bin:/bin',
      CONTRAST_LOG_LEVEL: 'debug',
      CONTRAST_LOG_FORMAT: 'json',
      CONTRAST_LOG_SUBSYSTEMS: '*',
      CONTRAST_MESHPROXY_MODE: 'explicit',
      CONTRAST_TLS_DIR: join(dir, 'tls'),
      CONTRAST_READY_FILE: ready,
      ...env,
    },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  t.teardown(() => {
    child.kill('SIGKILL');
  });
  const waiters: (() => void)[] = [];
  const logs = collectJsonLog(child, () => {
    for (const w of waiters.splice(0)) w();
  });
  const waitLog = (pred: (l: Record<string, unknown>) => boolean): Promise<Record<string, unknown>> =>
    new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        reject(new Error(`no such log line: ${JSON.stringify(logs)}`));
      }, 30_000);
      const check = (): void => {
        const hit = logs.find(pred);
        if (hit !== undefined) {
          clearTimeout(timer);
          resolve(hit);
        } else waiters.push(check);
      };
      check();
    });
  await waitLog((l) => l['msg'] === 'ready');
  return { logs, waitLog };
}

const handshakeLine =
  (group?: string) =>
  (l: Record<string, unknown>): boolean =>
    l['msg'] === 'TLS handshake' && (group === undefined || l['group'] === group);

/** A plain echo app; returns its port. */
async function echoApp(t: ExecutionContext): Promise<number> {
  const app = createServer((s) => {
    s.on('data', (d: Buffer) => s.write(Buffer.concat([Buffer.from('echo:'), d])));
    s.on('end', () => s.end());
  });
  await new Promise<void>((resolve) => app.listen(0, '127.0.0.1', resolve));
  t.teardown(() => {
    app.close();
  });
  return (app.address() as AddressInfo).port;
}

function roundTrip(host: string, port: number, text: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = connect({ host, port });
    let got = '';
    s.on('data', (d: Buffer) => {
      got += d.toString();
      if (got.length >= text.length + 5) s.end();
    });
    s.on('close', () => {
      resolve(got);
    });
    s.on('error', reject);
    s.write(text);
  });
}

async function meshPair(
  t: ExecutionContext,
  pki: TestPki,
  dataPath: DataPath,
  groups: { ingress?: string; egress?: string } = {},
): Promise<{ egress: Proxy; ingress: Proxy; egressAddr: { host: string; port: number }; ingressPort: number }> {
  const [a, b] = [await work(t), await work(t)];
  await writeTlsDir(join(a, 'tls'), pki.meshCA, pki.server);
  await writeTlsDir(join(b, 'tls'), pki.meshCA, pki.client);
  const appPort = await echoApp(t);
  const ingressPort = await freePort();
  const egressAddr = {
    host: `127.${10 + Math.floor(Math.random() * 200)}.${Math.floor(Math.random() * 250)}.${1 + Math.floor(Math.random() * 250)}`,
    port: await freePort(),
  };
  const ingress = await startProxy(t, a, {
    CONTRAST_MESHPROXY_INGRESS_LISTEN: `127.0.0.1:${ingressPort}=${appPort}`,
    CONTRAST_EGRESS_PROXY_CONFIG: '',
    CONTRAST_MESHPROXY_DATA_PATH: dataPath,
    ...(groups.ingress === undefined ? {} : { CONTRAST_TLS_GROUPS: groups.ingress }),
  });
  const egress = await startProxy(t, b, {
    CONTRAST_INGRESS_PROXY_CONFIG: 'DISABLED',
    CONTRAST_EGRESS_PROXY_CONFIG: `app#${egressAddr.host}:${egressAddr.port}#127.0.0.1:${ingressPort}`,
    CONTRAST_MESHPROXY_DATA_PATH: dataPath,
    ...(groups.egress === undefined ? {} : { CONTRAST_TLS_GROUPS: groups.egress }),
  });
  return { egress, ingress, egressAddr, ingressPort };
}

for (const dataPath of DATA_PATHS) {
  test(
    onPath('mesh to mesh (egress -> ingress) negotiates X25519MLKEM768, logged at debug by both proxies', dataPath),
    async (t) => {
      const pki = await createTestPki();
      const { egress, ingress, egressAddr } = await meshPair(t, pki, dataPath);
      t.is(await roundTrip(egressAddr.host, egressAddr.port, 'hello'), 'echo:hello');
      const e = await egress.waitLog(handshakeLine());
      const i = await ingress.waitLog(handshakeLine());
      t.is(e['group'], 'X25519MLKEM768');
      t.is(i['group'], 'X25519MLKEM768');
      t.is(i['protocol'], 'TLSv1.3');
    },
  );

  test(
    onPath('CONTRAST_TLS_GROUPS applies: a classic-only list on the egress gives X25519 on both sides', dataPath),
    async (t) => {
      const pki = await createTestPki();
      const { egress, ingress, egressAddr } = await meshPair(t, pki, dataPath, { egress: 'X25519:P-256' });
      t.is(await roundTrip(egressAddr.host, egressAddr.port, 'hello'), 'echo:hello');
      t.is((await egress.waitLog(handshakeLine()))['group'], 'X25519');
      t.is((await ingress.waitLog(handshakeLine()))['group'], 'X25519');
    },
  );

  test(onPath('Debian openssl s_client (OpenSSL 3.0) reaches the ingress with X25519', dataPath), async (t) => {
    const pki = await createTestPki();
    const { ingress, ingressPort } = await meshPair(t, pki, dataPath);
    const pair = await writePair(join(await work(t), 'client'), pki.client, pki.meshCA);
    const caFile = join(await work(t), 'ca.pem');
    await writeFile(caFile, pki.meshCA.certPem);
    const client = runOpenssl([
      's_client',
      '-connect',
      `127.0.0.1:${ingressPort}`,
      '-cert',
      pair.cert,
      '-key',
      pair.key,
      '-CAfile',
      caFile,
      '-ign_eof',
      '-quiet',
    ]);
    t.teardown(() => client.stop());
    client.child.stdin.write('ping\n');
    await client.waitFor('echo:ping');
    const line = await ingress.waitLog(handshakeLine());
    t.is(line['group'], 'X25519');
  });

  test(onPath('the egress reaches Debian openssl s_server (OpenSSL 3.0) with X25519', dataPath), async (t) => {
    const pki = await createTestPki();
    const dir = await work(t);
    await writeTlsDir(join(dir, 'tls'), pki.meshCA, pki.client);
    const srv = await writePair(join(dir, 'server'), pki.server, pki.meshCA);
    const caFile = join(dir, 'ca.pem');
    await writeFile(caFile, pki.meshCA.certPem);
    const port = await freePort();
    const server = runOpenssl(sServerArgs(port, srv, '-CAfile', caFile, '-rev'));
    t.teardown(() => server.stop());
    await server.waitFor('ACCEPT');
    const listen = { host: '127.0.0.1', port: await freePort() };
    const egress = await startProxy(t, dir, {
      CONTRAST_INGRESS_PROXY_CONFIG: 'DISABLED',
      CONTRAST_EGRESS_PROXY_CONFIG: `s#${listen.host}:${listen.port}#127.0.0.1:${port}`,
      CONTRAST_MESHPROXY_DATA_PATH: dataPath,
    });
    // -rev: s_server answers each line reversed.
    const answer = await new Promise<string>((resolve, reject) => {
      const s = connect(listen);
      let got = '';
      s.on('data', (d: Buffer) => {
        got += d.toString();
        if (got.includes('olleh')) {
          s.destroy();
          resolve(got);
        }
      });
      s.on('error', reject);
      s.write('hello\n');
    });
    t.true(answer.includes('olleh'));
    t.is((await egress.waitLog(handshakeLine()))['group'], 'X25519');
  });

  test(
    onPath('handshakes are counted by group in the Prometheus text (real TLS in this process)', dataPath),
    async (t) => {
      const pki = await createTestPki();
      const [a, b] = [await work(t), await work(t)];
      await writeTlsDir(a, pki.meshCA, pki.server);
      await writeTlsDir(b, pki.meshCA, pki.client);
      const serverCerts = await openCertStore({ dir: a, log: silentLogger(), pollMs: 0 });
      const clientCerts = await openCertStore({ dir: b, log: silentLogger(), pollMs: 0 });
      t.teardown(() => {
        serverCerts.close();
        clientCerts.close();
      });
      const stats = new MeshStats();
      const appPort = await echoApp(t);
      const ingress = createIngress({
        role: 'mtls',
        certs: serverCerts,
        stats: stats.listener('in', 'ingress'),
        events: new MeshEvents(silentLogger()),
        target: () => ({ host: '127.0.0.1', port: appPort }),
        loopGuardPorts: new Set(),
        handshakeTimeoutMs: 5000,
        maxPendingHandshakes: 64,
        connectTimeoutMs: 5000,
        idleTimeoutMs: 60_000,
        open: new Set(),
        dataPath,
      });
      const ingressServer = ingress.newServer();
      await new Promise<void>((resolve) => ingressServer.listen(0, '127.0.0.1', resolve));
      t.teardown(() => {
        ingressServer.close();
      });
      const egressServer = createEgress({
        entry: {
          name: 'out',
          listen: { host: '127.0.0.1', port: 0 },
          remote: { host: '127.0.0.1', port: (ingressServer.address() as AddressInfo).port },
        },
        certs: clientCerts,
        stats: stats.listener('out', 'egress'),
        events: new MeshEvents(silentLogger()),
        connectTimeoutMs: 5000,
        idleTimeoutMs: 60_000,
        open: new Set(),
        dataPath,
      });
      await new Promise<void>((resolve) => egressServer.listen(0, '127.0.0.1', resolve));
      t.teardown(() => {
        egressServer.close();
      });
      // A classic-only client straight to the ingress.
      await new Promise<void>((resolve, reject) => {
        const s = tlsConnect(
          {
            host: '127.0.0.1',
            port: (ingressServer.address() as AddressInfo).port,
            cert: pki.client.certPem,
            key: pki.client.keyPem,
            ca: pki.meshCA.certPem,
            checkServerIdentity: () => undefined,
            ecdhCurve: 'X25519',
          },
          () => {
            s.end('x');
          },
        );
        s.resume();
        s.on('close', () => {
          resolve();
        });
        s.on('error', reject);
      });
      for (let i = 0; i < 2; i++)
        t.is(await roundTrip('127.0.0.1', (egressServer.address() as AddressInfo).port, `m${i}`), `echo:m${i}`);
      const text = stats.prometheus();
      t.regex(text, /^meshproxy_tls_handshakes_total\{listener="out",direction="egress",group="X25519MLKEM768"\} 2$/m);
      t.regex(text, /^meshproxy_tls_handshakes_total\{listener="in",direction="ingress",group="X25519MLKEM768"\} 2$/m);
      t.regex(text, /^meshproxy_tls_handshakes_total\{listener="in",direction="ingress",group="X25519"\} 1$/m);
    },
  );
}

test('a CONTRAST_TLS_GROUPS that OpenSSL does not know is refused at start: exit 64 naming the variable', async (t) => {
  const dir = await work(t);
  const r = await runCli([], {
    CONTRAST_MESHPROXY_MODE: 'explicit',
    CONTRAST_TLS_DIR: join(dir, 'tls'),
    CONTRAST_READY_FILE: join(dir, 'ready'),
    CONTRAST_INGRESS_PROXY_CONFIG: 'DISABLED',
    CONTRAST_TLS_GROUPS: 'X25519:NoSuchGroup',
  });
  t.is(r.code, 64, r.stderr);
  t.regex(r.stderr, /CONTRAST_TLS_GROUPS=X25519:NoSuchGroup: expected TLS groups known to OpenSSL/);
});
