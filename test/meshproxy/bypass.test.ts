/**
 * A dead or draining sidecar never lets plaintext reach the application on an intercepted port.
 *
 * The mechanism: TPROXY looks up an existing socket for a SYN's own 4-tuple first. A TIME_WAIT socket
 * left by the proxy (transparent, because it was accepted through a transparent listener) matches; when
 * no listener answers on the TPROXY port any more (SIGKILL, or listeners closed while draining after
 * SIGTERM), TPROXY assigns the SYN to that TIME_WAIT socket, and TCP's TIME_WAIT handling then hands the
 * SYN to the application's own listener on the original port: the reconnecting client talks plaintext
 * to the app. Two ways leave such a TIME_WAIT socket: a refused connection that the proxy closed first,
 * and a served connection whose application closed first.
 *
 * In two network namespaces with the real rules: connections from a pool of fixed source ports (IPv4 and
 * IPv6, the mutual-TLS catch-all and a TLS port) are refused or served by the proxy; then the proxy is
 * SIGKILLed (or SIGTERMed with a connection in flight, so that it drains) and plaintext from the same
 * source ports must never reach the application. Every test runs on each data path.
 */
import test from 'ava';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEFAULT_DENY_RULE } from '../../lib/netfilter/default-deny.js';
import type { DataPath } from '../../meshproxy/config.js';
import { DATA_PATHS, onPath } from './data-paths.js';
import { startProxy, waitForLog, waitReady, type RunningProxy } from './harness.js';
import { SERVER_V4, SERVER_V6, createNetnsPair, stopChild, waitForLine, type NetnsPair } from './netns.js';
import { writeMeshPki } from './pki.js';
import { APP, BYE_APP, FROM_PORTS, LATE_MESH_CLIENT, nodeScript } from './scripts.js';

/** 9100: unlisted (mutual TLS); 8002: TLS without client authentication. */
const MTLS = 9100;
const TLS = 8002;
const POOL = 10;

interface Setup {
  pair: NetnsPair;
  env: Record<string, string>;
  readyFile: string;
  ca: string;
  mesh: { cert: string; key: string };
}

async function setup(
  t: { teardown: (f: () => Promise<unknown>) => void },
  tag: string,
  dataPath: DataPath,
): Promise<Setup> {
  const pair = await createNetnsPair(tag);
  t.teardown(() => pair.destroy());
  const dir = await mkdtemp(join(tmpdir(), `meshproxy-bypass-${process.pid}-`));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const { ca, mesh } = await writeMeshPki(dir);
  for (const bin of ['iptables-legacy', 'ip6tables-legacy'])
    await pair.exec(pair.server, bin, ['-w', '-I', 'INPUT', ...DEFAULT_DENY_RULE]);
  const bye = pair.spawn(pair.server, process.execPath, nodeScript(BYE_APP, [String(MTLS), String(TLS)]));
  t.teardown(() => stopChild(bye));
  await waitForLine(bye, (l) => l === 'ready');
  const app = pair.spawn(pair.server, process.execPath, nodeScript(APP, ['9000']));
  t.teardown(() => stopChild(app));
  await waitForLine(app, (l) => l === 'ready');
  const readyFile = join(dir, 'ready');
  const env = {
    CONTRAST_INGRESS_PROXY_CONFIG: `bye#${TLS}#false`,
    CONTRAST_TLS_DIR: join(dir, 'tls'),
    CONTRAST_READY_FILE: readyFile,
    CONTRAST_MESHPROXY_DRAIN_TIMEOUT: '60s',
    CONTRAST_MESHPROXY_DATA_PATH: dataPath,
  };
  return { pair, env, readyFile, ca, mesh };
}

/** A distinct block of source ports per test run and phase (TIME_WAIT sockets of earlier phases stay 60 s). */
let nextBlock = 0;
function portPool(): number[] {
  const base = 20_000 + ((process.pid * 7 + nextBlock++ * 97) % 200) * 100;
  return Array.from({ length: POOL }, (_, i) => base + i);
}

interface Target {
  host: string;
  port: number;
  label: string;
}
const TARGETS: Target[] = [
  { host: SERVER_V4, port: MTLS, label: 'IPv4 mutual-TLS port' },
  { host: SERVER_V4, port: TLS, label: 'IPv4 TLS port' },
  { host: SERVER_V6, port: MTLS, label: 'IPv6 mutual-TLS port' },
  { host: SERVER_V6, port: TLS, label: 'IPv6 TLS port' },
];

async function fromPorts(
  s: Setup,
  target: Target,
  mode: 'plain' | 'tls',
  ports: number[],
  withCert: boolean,
): Promise<string[]> {
  const args = [
    target.host,
    String(target.port),
    mode,
    ports.join(','),
    s.ca,
    withCert ? s.mesh.cert : '-',
    withCert ? s.mesh.key : '-',
  ];
  const { stdout } = await s.pair.exec(s.pair.client, process.execPath, nodeScript(FROM_PORTS, args));
  return (JSON.parse(stdout) as { answers: string[] }).answers;
}

/**
 * Per target, two pools of source ports: one refused (plaintext, the proxy closes), one served (the app
 * closes first). Returns the pools; asserts that the live proxy refused and served as expected.
 */
async function prime(
  t: { is: (a: unknown, b: unknown, m?: string) => void },
  s: Setup,
): Promise<Map<Target, number[][]>> {
  const pools = new Map<Target, number[][]>();
  for (const target of TARGETS) {
    const refused = portPool();
    const served = portPool();
    pools.set(target, [refused, served]);
    const r = await fromPorts(s, target, 'plain', refused, false);
    t.is(r.filter((a) => a !== '').length, 0, `${target.label}: plaintext is refused while the proxy lives`);
    const ok = await fromPorts(s, target, 'tls', served, true);
    t.is(ok.filter((a) => a.startsWith(`bye ${target.port}`)).length, POOL, `${target.label}: mesh clients are served`);
  }
  return pools;
}

async function plaintextReached(s: Setup, pools: Map<Target, number[][]>): Promise<string[]> {
  const leaks: string[] = [];
  for (const [target, [refused, served]] of pools) {
    for (const ports of [refused ?? [], served ?? []]) {
      const answers = await fromPorts(s, target, 'plain', ports, false);
      for (const [i, a] of answers.entries())
        if (a !== '') leaks.push(`${target.label} from port ${ports[i]}: ${JSON.stringify(a)}`);
    }
  }
  return leaks;
}

for (const dataPath of DATA_PATHS) {
  test(
    onPath(
      'after SIGKILL, plaintext from the source ports of refused and served connections never reaches the app',
      dataPath,
    ),
    async (t) => {
      t.timeout(180_000);
      const s = await setup(t, 'bk', dataPath);
      const proxy = startProxy(s.pair, s.pair.server, s.env);
      t.teardown(() => stopChild(proxy.child));
      await waitReady(proxy, s.readyFile);
      const pools = await prime(t, s);
      await stopChild(proxy.child, 'SIGKILL');
      const leaks = await plaintextReached(s, pools);
      t.deepEqual(leaks, [], 'no plaintext reached the application after SIGKILL');
    },
  );

  test(
    onPath('while draining after SIGTERM, plaintext from the same source ports never reaches the app', dataPath),
    async (t) => {
      t.timeout(180_000);
      const s = await setup(t, 'bt', dataPath);
      const proxy: RunningProxy = startProxy(s.pair, s.pair.server, s.env);
      t.teardown(() => stopChild(proxy.child));
      await waitReady(proxy, s.readyFile);
      const pools = await prime(t, s);
      // A mesh connection in flight keeps the proxy draining until it sends.
      const inflight = s.pair.spawn(
        s.pair.client,
        process.execPath,
        nodeScript(LATE_MESH_CLIENT, [SERVER_V4, s.ca, s.mesh.cert, s.mesh.key]),
        { stdio: ['pipe', 'pipe', 'pipe'] },
      );
      t.teardown(() => stopChild(inflight));
      await waitForLine(inflight, (l) => l === 'connected');
      proxy.child.kill('SIGTERM');
      await waitForLog(proxy, (l) => l['msg'] === 'listeners closed, draining');
      const leaks = await plaintextReached(s, pools);
      t.deepEqual(leaks, [], 'no plaintext reached the application while draining');
      const result = waitForLine(inflight, (l) => l.startsWith('result '));
      inflight.stdin?.write('go\n');
      t.is(await result, `result app 9000 ${SERVER_V4} late`, 'the in-flight connection was served to its end');
      t.is(await proxy.exited, 0);
    },
  );

  /**
   * The same 4-tuple the other way round: a client whose connection the live proxy refused (reset) comes
   * back from the same source port within conntrack's 10 s for a closed entry. Conntrack does not reopen
   * an entry that the server's reset closed; it ignores the new SYN and reports it ESTABLISHED. A rule that
   * returns ESTABLISHED packets before TPROXY (as upstream's does) then hands the SYN to the application,
   * whose SYN-ACK the guard drops: the client hangs (without the guard it would talk plaintext to the app).
   * SYNs therefore always go through TPROXY.
   */
  test(
    onPath('a mesh client reconnecting from the source port of a refused connection is served', dataPath),
    async (t) => {
      t.timeout(120_000);
      const s = await setup(t, 'br', dataPath);
      const proxy = startProxy(s.pair, s.pair.server, s.env);
      t.teardown(() => stopChild(proxy.child));
      await waitReady(proxy, s.readyFile);
      for (const target of TARGETS) {
        const ports = portPool();
        const refused = await fromPorts(s, target, 'plain', ports, false);
        t.is(refused.filter((a) => a !== '').length, 0, `${target.label}: plaintext is refused`);
        const served = await fromPorts(s, target, 'tls', ports, true);
        t.deepEqual(
          served.map((a) => a.startsWith(`bye ${target.port}`)),
          ports.map(() => true),
          `${target.label}: the same source ports are served right after: ${JSON.stringify(served)}`,
        );
      }
      proxy.child.kill('SIGTERM');
      t.is(await proxy.exited, 0);
    },
  );
}
