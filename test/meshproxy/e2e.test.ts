/**
 * End to end in two network namespaces with real iptables-legacy rules and TPROXY: a "server pod"
 * (application + meshproxy with ingress rules) and a "client pod" (meshproxy with ingress DISABLED and
 * egress listeners). Both start behind the pod VM's default-deny rule. Each data path
 * (CONTRAST_MESHPROXY_DATA_PATH) gets its own two pods and runs every test.
 */
import test from 'ava';
import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEFAULT_DENY_RULE } from '../../lib/netfilter/default-deny.js';
import type { DataPath } from '../../meshproxy/config.js';
import { DATA_PATHS, onPath } from './data-paths.js';
import { startProxy, waitForFile, waitForLog, waitReady, type RunningProxy } from './harness.js';
import { CLIENT_V4, SERVER_V4, SERVER_V6, createNetnsPair, stopChild, waitForLine, type NetnsPair } from './netns.js';
import { createTestPki, issueLeaf, writePair, writeTlsDir, type TestPki } from './pki.js';
import { APP, FOREIGN_TLS, HTTP_GET, LATE_MESH_CLIENT, TCP_REQUEST, TLS_REQUEST, nodeScript } from './scripts.js';

const SERVER_INGRESS = 'main#8001#false##metrics#8080#true##admin#9901#true##foreign#8443#true';
const ADMIN = '9901';

interface World {
  pair: NetnsPair;
  dir: string;
  pki: TestPki;
  server: RunningProxy;
  client: RunningProxy;
  serverEnv: Record<string, string> & { CONTRAST_TLS_DIR: string; CONTRAST_READY_FILE: string };
  files: {
    ca: string;
    mesh: { cert: string; key: string };
    foreign: { cert: string; key: string };
    expired: { cert: string; key: string };
  };
  /** What the TLS server outside the mesh printed ("handshake", "received <data>"). */
  foreignOutput: string[];
}

const cleanups: (() => Promise<unknown>)[] = [];

test.after.always(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => undefined);
});

/** Both pods of one data path, in a pair of namespaces of their own, ready. */
async function setUp(dataPath: DataPath): Promise<World> {
  const pair = await createNetnsPair('mp');
  cleanups.push(() => pair.destroy());
  const dir = await mkdtemp(join(tmpdir(), `meshproxy-e2e-${process.pid}-`));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  const pki = await createTestPki();
  await writeTlsDir(join(dir, 'server-tls'), pki.meshCA, pki.server);
  await writeTlsDir(join(dir, 'client-tls'), pki.meshCA, pki.client);
  const ca = join(dir, 'mesh-ca.pem');
  await writeFile(ca, pki.meshCA.certPem);
  const files = {
    ca,
    mesh: await writePair(join(dir, 'mesh'), pki.client, pki.meshCA),
    foreign: await writePair(join(dir, 'foreign'), pki.foreign, pki.otherCA),
    expired: await writePair(join(dir, 'expired'), pki.expired, pki.meshCA),
  };
  for (const ns of [pair.client, pair.server]) {
    await pair.exec(ns, 'iptables-legacy', ['-w', '-I', 'INPUT', ...DEFAULT_DENY_RULE]);
  }
  const app = pair.spawn(pair.server, process.execPath, nodeScript(APP, ['8001', '8080', '9000']));
  cleanups.push(() => stopChild(app));
  await waitForLine(app, (l) => l === 'ready');
  // A TLS server outside the mesh (certificate of another CA) on an exempted port.
  const foreignDir = join(dir, 'foreign-server');
  const foreignPair = await writePair(foreignDir, pki.foreign, pki.otherCA);
  const foreign = pair.spawn(
    pair.server,
    process.execPath,
    nodeScript(FOREIGN_TLS, ['8443', foreignPair.cert, foreignPair.key]),
  );
  cleanups.push(() => stopChild(foreign));
  await waitForLine(foreign, (l) => l === 'ready');
  const foreignOutput: string[] = [];
  foreign.stdout?.on('data', (d: Buffer) => {
    foreignOutput.push(
      ...d
        .toString()
        .split('\n')
        .filter((l) => l !== ''),
    );
  });

  const serverEnv = {
    CONTRAST_INGRESS_PROXY_CONFIG: SERVER_INGRESS,
    CONTRAST_ADMIN_PORT: ADMIN,
    // The admin port binds loopback unless configured; this pod exposes it (and exempts it: admin#9901#true).
    CONTRAST_MESHPROXY_ADMIN_ADDRESS: '0.0.0.0',
    CONTRAST_TLS_DIR: join(dir, 'server-tls'),
    CONTRAST_READY_FILE: join(dir, 'server-ready'),
    CONTRAST_MESHPROXY_DRAIN_TIMEOUT: '5s',
    CONTRAST_MESHPROXY_DATA_PATH: dataPath,
  };
  // A stale ready file from an earlier run must not count.
  await writeFile(serverEnv.CONTRAST_READY_FILE, '');
  const server = startProxy(pair, pair.server, serverEnv);
  cleanups.push(() => stopChild(server.child));
  const client = startProxy(pair, pair.client, {
    CONTRAST_INGRESS_PROXY_CONFIG: 'DISABLED',
    CONTRAST_EGRESS_PROXY_CONFIG: `backend#127.0.0.2:4001#${SERVER_V4}:9000##backend6#127.0.0.3:4001#[${SERVER_V6}]:9000##web#127.0.0.4:4001#${SERVER_V4}:8001##foreign#127.0.0.5:4001#${SERVER_V4}:8443`,
    CONTRAST_TLS_DIR: join(dir, 'client-tls'),
    CONTRAST_READY_FILE: join(dir, 'client-ready'),
    CONTRAST_MESHPROXY_DATA_PATH: dataPath,
  });
  cleanups.push(() => stopChild(client.child));
  await waitForFile(join(dir, 'client-ready'), client);
  // The stale file is removed at start; wait for the proxy's own (its "ready" line comes after it).
  await waitReady(server, serverEnv.CONTRAST_READY_FILE);
  return { pair, dir, pki, server, client, serverEnv, files, foreignOutput };
}

for (const dataPath of DATA_PATHS) {
  let world: World | undefined;
  const w = (): World => {
    if (world === undefined) throw new Error('setup failed');
    return world;
  };

  async function rules(ns: string, bin: string, table: string): Promise<string> {
    return (await w().pair.exec(ns, bin, ['-w', '-t', table, '-S'])).stdout;
  }

  async function tlsRequest(
    host: string,
    port: number,
    who: { cert: string; key: string } | undefined,
    payload = 'hello',
  ): Promise<{ secure: boolean; peer: string; data: string; error: string }> {
    const { pair, files } = w();
    const { stdout } = await pair.exec(
      pair.client,
      process.execPath,
      nodeScript(TLS_REQUEST, [host, String(port), files.ca, who?.cert ?? '-', who?.key ?? '-', payload]),
    );
    return JSON.parse(stdout) as { secure: boolean; peer: string; data: string; error: string };
  }

  async function tcpRequest(host: string, port: number, payload = 'hello'): Promise<{ data: string; error: string }> {
    const { pair } = w();
    const { stdout } = await pair.exec(
      pair.client,
      process.execPath,
      nodeScript(TCP_REQUEST, [host, String(port), payload]),
    );
    return JSON.parse(stdout) as { data: string; error: string };
  }

  async function adminGet(path: string): Promise<{ status: number; body: string }> {
    const { pair } = w();
    const { stdout } = await pair.exec(
      pair.client,
      process.execPath,
      nodeScript(HTTP_GET, [`http://${SERVER_V4}:${ADMIN}${path}`]),
    );
    return JSON.parse(stdout) as { status: number; body: string };
  }

  test.before(async () => {
    world = await setUp(dataPath);
  });

  test.serial(
    onPath('startup order: listeners, rules, default-deny removal, then the ready file', dataPath),
    async (t) => {
      const msgs = w().server.logs.map((l) => String(l['msg']));
      const at = (m: string): number => msgs.indexOf(m);
      t.true(at('certificates loaded') >= 0);
      t.true(at('listening') > at('certificates loaded'));
      t.true(msgs.lastIndexOf('listening') < at('ingress interception rules installed'));
      t.true(at('ingress interception rules installed') < at('removed the default-deny rule'));
      t.true(at('removed the default-deny rule') < at('ready'));
      const mangle = await rules(w().pair.server, 'iptables-legacy', 'mangle');
      t.true(mangle.includes('-A PREROUTING -p tcp -j CONTRAST_INBOUND'));
      t.true(mangle.includes('-A CONTRAST_IN_REDIRECT -p tcp -m tcp --dport 8001 -j TPROXY --on-port 15007'));
      t.true(mangle.includes('-A CONTRAST_IN_REDIRECT -p tcp -m tcp --dport 8080 -j RETURN'));
      t.true(mangle.includes('-A CONTRAST_IN_REDIRECT -p tcp -j TPROXY --on-port 15006'));
      t.true(
        (await rules(w().pair.server, 'ip6tables-legacy', 'mangle')).includes(
          '-A CONTRAST_IN_REDIRECT -p tcp -j TPROXY --on-port 15006',
        ),
      );
      for (const ns of [w().pair.server, w().pair.client])
        t.false((await rules(ns, 'iptables-legacy', 'filter')).includes('-j DROP'), ns);
    },
  );

  test.serial(
    onPath(
      'unlisted port: no certificate, another CA and an expired certificate are refused; a mesh client is served',
      dataPath,
    ),
    async (t) => {
      const { files } = w();
      for (const [who, pair] of [
        ['no certificate', undefined],
        ['another CA', files.foreign],
        ['expired', files.expired],
      ] as const) {
        const r = await tlsRequest(SERVER_V4, 9000, pair);
        t.is(r.data, '', `${who}: ${JSON.stringify(r)}`);
      }
      const ok = await tlsRequest(SERVER_V4, 9000, files.mesh, 'ping');
      t.true(ok.secure);
      t.is(ok.peer, 'server');
      t.is(ok.data, `app 9000 ${SERVER_V4} ping`);
      const stats = await adminGet('/stats/prometheus');
      t.is(stats.status, 200);
      t.regex(
        stats.body,
        /meshproxy_tls_handshake_failures_total\{listener="ingress",direction="ingress",reason="NO_CLIENT_CERTIFICATE"\} [1-9]/,
      );
      t.regex(
        stats.body,
        /meshproxy_tls_handshake_failures_total\{listener="ingress",direction="ingress",reason="CERT_HAS_EXPIRED"\} [1-9]/,
      );
      // Refused strangers: a counter by reason and an INFO line (the ingress subsystem is enabled here).
      await tcpRequest(SERVER_V4, 9000, 'GET / HTTP/1.0\r\n\r\n');
      const after = await adminGet('/stats/prometheus');
      for (const reason of ['no_client_certificate', 'unknown_ca', 'expired', 'plaintext']) {
        t.regex(
          after.body,
          new RegExp(`meshproxy_refused_total\\{listener="ingress",direction="ingress",reason="${reason}"\\} [1-9]`),
          reason,
        );
        const line = await waitForLog(w().server, (l) => l['msg'] === 'connection refused' && l['reason'] === reason);
        t.is(line['level'], 'INFO');
        t.is(line['listener'], 'ingress');
        t.is(line['destination'], `${SERVER_V4}:9000`);
        t.regex(String(line['peer']), new RegExp(`^${CLIENT_V4.replace(/\./g, '\\.')}:\\d+$`));
      }
    },
  );

  test.serial(onPath('app not listening: the failure is counted and logged as one WARN line', dataPath), async (t) => {
    const r = await tlsRequest(SERVER_V4, 9555, w().files.mesh, 'nobody');
    t.true(r.secure, 'the mesh client got through the proxy');
    t.is(r.data, '');
    const stats = await adminGet('/stats/prometheus');
    t.regex(stats.body, /meshproxy_upstream_connect_failures_total\{listener="ingress",direction="ingress"\} [1-9]/);
    const line = await waitForLog(
      w().server,
      (l) => l['msg'] === 'connection failed' && l['destination'] === `${SERVER_V4}:9555`,
    );
    t.is(line['level'], 'WARN');
    t.is(line['listener'], 'ingress');
    t.is(line['reason'], 'upstream connect: ECONNREFUSED');
    t.regex(String(line['peer']), /^10\.200\.1\.1:\d+$/);
  });

  test.serial(
    onPath('TLS port serves a client without certificate; plain port passes plaintext', dataPath),
    async (t) => {
      const tls = await tlsRequest(SERVER_V4, 8001, undefined, 'no-cert');
      t.is(tls.data, `app 8001 ${SERVER_V4} no-cert`);
      const bad = await tlsRequest(SERVER_V4, 8001, w().files.foreign, 'bad-cert');
      t.is(bad.data, '', 'a presented certificate that fails verification is refused');
      const plain = await tcpRequest(SERVER_V4, 8080, 'plain');
      t.is(plain.data, `app 8080 10.200.1.1 plain`);
    },
  );

  test.serial(
    onPath('plaintext to an unlisted port never reaches the application (IPv4 and IPv6)', dataPath),
    async (t) => {
      for (const host of [SERVER_V4, SERVER_V6]) {
        const r = await tcpRequest(host, 9000, 'GET / HTTP/1.0\r\n\r\n');
        t.false(r.data.startsWith('app'), `${host}: ${JSON.stringify(r)}`);
      }
    },
  );

  test.serial(onPath('IPv6 inbound to an unlisted port is intercepted and needs mutual TLS', dataPath), async (t) => {
    const refused = await tlsRequest(SERVER_V6, 9000, undefined);
    t.is(refused.data, '');
    const ok = await tlsRequest(SERVER_V6, 9000, w().files.mesh, 'v6');
    t.is(ok.data, `app 9000 ${SERVER_V6} v6`);
  });

  test.serial(
    onPath('egress from the client pod reaches the server application through both proxies', dataPath),
    async (t) => {
      const v4 = await tcpRequest('127.0.0.2', 4001, 'via-egress');
      t.is(v4.data, `app 9000 ${SERVER_V4} via-egress`);
      const v6 = await tcpRequest('127.0.0.3', 4001, 'via-egress6');
      t.is(v6.data, `app 9000 ${SERVER_V6} via-egress6`);
      const tlsPort = await tcpRequest('127.0.0.4', 4001, 'via-egress-tls');
      t.is(tlsPort.data, `app 8001 ${SERVER_V4} via-egress-tls`);
    },
  );

  test.serial(
    onPath('ingress DISABLED installs no interception rules but removes the default-deny rule', dataPath),
    async (t) => {
      const mangle = await rules(w().pair.client, 'iptables-legacy', 'mangle');
      t.false(mangle.includes('CONTRAST'));
      t.false((await rules(w().pair.client, 'iptables-legacy', 'filter')).includes('DROP'));
    },
  );

  test.serial(onPath('loop guard: a connection to the proxy port itself is closed', dataPath), async (t) => {
    const r = await tcpRequest(SERVER_V4, 15006, 'loop');
    t.is(r.data, '');
    const stats = await adminGet('/stats/prometheus');
    t.regex(stats.body, /meshproxy_blackholed_total\{listener="ingress",direction="ingress"\} [1-9]/);
  });

  test.serial(onPath('admin port: /ready, /config_dump', dataPath), async (t) => {
    const ready = await adminGet('/ready');
    t.is(ready.status, 200);
    const dump = await adminGet('/config_dump');
    t.is(dump.status, 200);
    const parsed = JSON.parse(dump.body) as {
      plan: { ingress: { ports: unknown[] }; adminPort: number };
      tlsDir: string;
      dataPath: string;
    };
    t.is(parsed.plan.ingress.ports.length, 4);
    t.is(parsed.plan.adminPort, 9901);
    t.is(parsed.dataPath, dataPath);
    t.false(dump.body.includes('PRIVATE KEY'));
  });

  test.serial(
    onPath('certificate rotation is picked up for new connections without a restart', dataPath),
    async (t) => {
      const { pki, serverEnv, files } = w();
      const rotated = await issueLeaf(pki.meshCA, 'server-rotated');
      const before = w().server.logs.length;
      await writeTlsDir(serverEnv.CONTRAST_TLS_DIR, pki.meshCA, rotated);
      // The reload is announced once all three files are in place and the new set is in use.
      await waitForLog(
        w().server,
        (l) =>
          l['msg'] === 'certificates reloaded' &&
          w().server.logs.indexOf(l) >= before &&
          JSON.stringify(l['identity']).includes('server-rotated'),
      );
      t.is((await tlsRequest(SERVER_V4, 9000, files.mesh)).peer, 'server-rotated');
    },
  );

  test.serial(
    onPath('SIGTERM drains an open connection, exits 0; a restart leaves exactly one set of rules', dataPath),
    async (t) => {
      const { pair, serverEnv, files } = w();
      const before4 = await rules(pair.server, 'iptables-legacy', 'mangle');
      const before6 = await rules(pair.server, 'ip6tables-legacy', 'mangle');
      // A connection in flight: the client sends its payload only after SIGTERM.
      const inflight = pair.spawn(
        pair.client,
        process.execPath,
        nodeScript(LATE_MESH_CLIENT, [SERVER_V4, files.ca, files.mesh.cert, files.mesh.key]),
        { stdio: ['pipe', 'pipe', 'pipe'] },
      );
      t.teardown(() => stopChild(inflight));
      await waitForLine(inflight, (l) => l === 'connected');
      w().server.child.kill('SIGTERM');
      await waitForLog(w().server, (l) => l['msg'] === 'listeners closed, draining');
      const result = waitForLine(inflight, (l) => l.startsWith('result '));
      inflight.stdin?.write('go\n');
      t.is(await result, `result app 9000 ${SERVER_V4} late`);
      t.is(await w().server.exited, 0);

      await rm(serverEnv.CONTRAST_READY_FILE, { force: true });
      const again = startProxy(pair, pair.server, serverEnv);
      cleanups.push(() => stopChild(again.child));
      await waitReady(again, serverEnv.CONTRAST_READY_FILE);
      w().server = again;
      t.is(await rules(pair.server, 'iptables-legacy', 'mangle'), before4);
      t.is(await rules(pair.server, 'ip6tables-legacy', 'mangle'), before6);
      t.is(
        before4.split('\n').filter((l) => l.includes('-j CONTRAST_INBOUND')).length,
        1,
        'exactly one jump from PREROUTING',
      );
      t.is(before4.split('\n').filter((l) => l.includes('TPROXY --on-port 15006')).length, 1);
      t.true(again.logs.some((l) => l['msg'] === 'default-deny rule does not exist, nothing to do'));
      const ok = await tlsRequest(SERVER_V4, 9000, files.mesh, 'after-restart');
      t.is(ok.data, `app 9000 ${SERVER_V4} after-restart`);
      const st = await stat(serverEnv.CONTRAST_READY_FILE);
      t.is(st.mode & 0o777, 0o644);
    },
  );

  test.serial(onPath('egress refuses a remote whose certificate is not from the mesh CA', dataPath), async (t) => {
    const { client } = w();
    const r = await tcpRequest('127.0.0.5', 4001, 'secret');
    t.is(r.data, '');
    // The refusal itself: the egress failed the remote's certificate (one WARN line naming it), and the
    // remote never received the application's bytes.
    const line = await waitForLog(client, (l) => l['msg'] === 'connection failed' && l['listener'] === 'foreign');
    t.is(line['level'], 'WARN');
    t.is(line['direction'], 'egress');
    t.is(line['destination'], `${SERVER_V4}:8443`);
    t.regex(
      String(line['reason']),
      /^remote TLS: (UNABLE_TO_GET_ISSUER_CERT_LOCALLY|UNABLE_TO_VERIFY_LEAF_SIGNATURE|SELF_SIGNED_CERT_IN_CHAIN|DEPTH_ZERO_SELF_SIGNED_CERT)$/,
    );
    t.false(
      w().foreignOutput.some((l) => l.startsWith('received')),
      w().foreignOutput.join('; '),
    );
  });
}
