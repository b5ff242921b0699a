/**
 * Failing closed and the explicit mode, each in its own pair of network namespaces.
 */
import test from 'ava';
import { access, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEFAULT_DENY_RULE } from '../../lib/netfilter/default-deny.js';
import { startProxy, waitForFile } from './harness.js';
import { SERVER_V4, createNetnsPair, stopChild, waitForLine } from './netns.js';
import { createTestPki, writePair, writeTlsDir } from './pki.js';
import { APP, TCP_REQUEST, TLS_REQUEST, nodeScript } from './scripts.js';

async function tempDir(t: { teardown: (f: () => Promise<void>) => void }): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), `meshproxy-modes-${process.pid}-`));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

test('missing certificates: exit 1, no ready file, no rules, the default-deny rule stays', async (t) => {
  const pair = await createNetnsPair('fc');
  t.teardown(() => pair.destroy());
  const dir = await tempDir(t);
  await pair.exec(pair.server, 'iptables-legacy', ['-w', '-I', 'INPUT', ...DEFAULT_DENY_RULE]);
  const ready = join(dir, 'ready');
  await writeFile(ready, '');
  const proxy = startProxy(pair, pair.server, { CONTRAST_TLS_DIR: join(dir, 'nothing-here'), CONTRAST_READY_FILE: ready });
  t.teardown(() => stopChild(proxy.child));
  t.is(await proxy.exited, 1);
  await t.throwsAsync(access(ready));
  const error = proxy.logs.find((l) => l['level'] === 'ERROR');
  t.is(error?.['code'], 'ERR_MESH_CERTIFICATES');
  t.false((await pair.exec(pair.server, 'iptables-legacy', ['-w', '-t', 'mangle', '-S'])).stdout.includes('CONTRAST'));
  t.true((await pair.exec(pair.server, 'iptables-legacy', ['-w', '-S', 'INPUT'])).stdout.includes('-j DROP'));
});

test('a bad annotation changes nothing on the system and exits 64', async (t) => {
  const pair = await createNetnsPair('bc');
  t.teardown(() => pair.destroy());
  const dir = await tempDir(t);
  await pair.exec(pair.server, 'iptables-legacy', ['-w', '-I', 'INPUT', ...DEFAULT_DENY_RULE]);
  const proxy = startProxy(pair, pair.server, { CONTRAST_INGRESS_PROXY_CONFIG: 'web#99999#true', CONTRAST_TLS_DIR: dir, CONTRAST_READY_FILE: join(dir, 'ready') });
  t.teardown(() => stopChild(proxy.child));
  t.is(await proxy.exited, 64);
  await t.throwsAsync(access(join(dir, 'ready')));
  t.true((await pair.exec(pair.server, 'iptables-legacy', ['-w', '-S', 'INPUT'])).stdout.includes('-j DROP'));
});

test('explicit mode: listeners per port forwarding to 127.0.0.1, no iptables rules', async (t) => {
  const pair = await createNetnsPair('ex');
  t.teardown(() => pair.destroy());
  const dir = await tempDir(t);
  const pki = await createTestPki();
  await writeTlsDir(join(dir, 'tls'), pki.meshCA, pki.server);
  const ca = join(dir, 'ca.pem');
  await writeFile(ca, pki.meshCA.certPem);
  const mesh = await writePair(join(dir, 'mesh'), pki.client, pki.meshCA);
  const app = pair.spawn(pair.server, process.execPath, nodeScript(APP, ['8001', '8080', '9000']));
  t.teardown(() => stopChild(app));
  await waitForLine(app, (l) => l === 'ready');
  const ready = join(dir, 'ready');
  const proxy = startProxy(pair, pair.server, {
    CONTRAST_MESHPROXY_MODE: 'explicit',
    CONTRAST_MESHPROXY_INGRESS_LISTEN: '0.0.0.0:9443=9000,0.0.0.0:9444=8001,0.0.0.0:9445=8080',
    CONTRAST_INGRESS_PROXY_CONFIG: 'main#8001#false##metrics#8080#true',
    CONTRAST_TLS_DIR: join(dir, 'tls'),
    CONTRAST_READY_FILE: ready,
    // No iptables binary may be needed in this mode.
    CONTRAST_IPTABLES: '/nonexistent/iptables',
    CONTRAST_IP6TABLES: '/nonexistent/ip6tables',
  });
  t.teardown(() => stopChild(proxy.child));
  await waitForFile(ready, proxy);
  const run = async (script: string, args: string[]): Promise<{ data: string }> =>
    JSON.parse((await pair.exec(pair.client, process.execPath, nodeScript(script, args))).stdout) as { data: string };
  t.is((await run(TLS_REQUEST, [SERVER_V4, '9443', ca, '-', '-', 'x'])).data, '');
  t.is((await run(TLS_REQUEST, [SERVER_V4, '9443', ca, mesh.cert, mesh.key, 'mtls'])).data, 'app 9000 127.0.0.1 mtls');
  t.is((await run(TLS_REQUEST, [SERVER_V4, '9444', ca, '-', '-', 'tls'])).data, 'app 8001 127.0.0.1 tls');
  t.is((await run(TCP_REQUEST, [SERVER_V4, '9445', 'plain'])).data, 'app 8080 127.0.0.1 plain');
  for (const bin of ['iptables-legacy', 'ip6tables-legacy']) {
    t.false((await pair.exec(pair.server, bin, ['-w', '-t', 'mangle', '-S'])).stdout.includes('CONTRAST'));
  }
  proxy.child.kill('SIGTERM');
  t.is(await proxy.exited, 0);
});
