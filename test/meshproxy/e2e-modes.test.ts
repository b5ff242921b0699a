/**
 * Failing closed and the explicit mode, each in its own pair of network namespaces. The explicit mode
 * moves bytes and runs on each data path; the failures at start never get that far.
 */
import test from 'ava';
import { generateKeyPairSync } from 'node:crypto';
import { access, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEFAULT_DENY_RULE } from '../../lib/netfilter/default-deny.js';
import { DATA_PATHS, onPath } from './data-paths.js';
import { startProxy, waitForFile } from './harness.js';
import { runCli } from './helpers-cli.js';
import { SERVER_V4, createNetnsPair, stopChild, waitForLine, type NetnsPair } from './netns.js';
import { createTestPki, writeMeshPki, writeTlsDir } from './pki.js';
import { APP, HTTP_GET, TCP_REQUEST, TLS_REQUEST, nodeScript } from './scripts.js';

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
  const proxy = startProxy(pair, pair.server, {
    CONTRAST_TLS_DIR: join(dir, 'nothing-here'),
    CONTRAST_READY_FILE: ready,
  });
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
  const proxy = startProxy(pair, pair.server, {
    CONTRAST_INGRESS_PROXY_CONFIG: 'web#99999#true',
    CONTRAST_TLS_DIR: dir,
    CONTRAST_READY_FILE: join(dir, 'ready'),
  });
  t.teardown(() => stopChild(proxy.child));
  t.is(await proxy.exited, 64);
  await t.throwsAsync(access(join(dir, 'ready')));
  t.true((await pair.exec(pair.server, 'iptables-legacy', ['-w', '-S', 'INPUT'])).stdout.includes('-j DROP'));
});

for (const dataPath of DATA_PATHS) {
  test(onPath('explicit mode: listeners per port forwarding to 127.0.0.1, no iptables rules', dataPath), async (t) => {
    const pair = await createNetnsPair('ex');
    t.teardown(() => pair.destroy());
    const dir = await tempDir(t);
    const { ca, mesh } = await writeMeshPki(dir);
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
      // Not exposed to the network unless CONTRAST_MESHPROXY_ADMIN_ADDRESS says so.
      CONTRAST_ADMIN_PORT: '9901',
      CONTRAST_MESHPROXY_DATA_PATH: dataPath,
    });
    t.teardown(() => stopChild(proxy.child));
    await waitForFile(ready, proxy);
    const run = async (script: string, args: string[]): Promise<{ data: string }> =>
      JSON.parse((await pair.exec(pair.client, process.execPath, nodeScript(script, args))).stdout) as { data: string };
    t.is((await run(TLS_REQUEST, [SERVER_V4, '9443', ca, '-', '-', 'x'])).data, '');
    t.is(
      (await run(TLS_REQUEST, [SERVER_V4, '9443', ca, mesh.cert, mesh.key, 'mtls'])).data,
      'app 9000 127.0.0.1 mtls',
    );
    t.is((await run(TLS_REQUEST, [SERVER_V4, '9444', ca, '-', '-', 'tls'])).data, 'app 8001 127.0.0.1 tls');
    t.is((await run(TCP_REQUEST, [SERVER_V4, '9445', 'plain'])).data, 'app 8080 127.0.0.1 plain');
    for (const bin of ['iptables-legacy', 'ip6tables-legacy']) {
      t.false((await pair.exec(pair.server, bin, ['-w', '-t', 'mangle', '-S'])).stdout.includes('CONTRAST'));
    }
    const admin = async (ns: string, host: string): Promise<{ status: number; body: string }> =>
      JSON.parse(
        (await pair.exec(ns, process.execPath, nodeScript(HTTP_GET, [`http://${host}:9901/ready`]))).stdout,
      ) as {
        status: number;
        body: string;
      };
    t.deepEqual(
      await admin(pair.client, SERVER_V4),
      { status: 0, body: 'ECONNREFUSED' },
      'the admin port is not reachable from the network',
    );
    t.is((await admin(pair.server, '127.0.0.1')).status, 200, 'but from inside the pod');
    t.true(proxy.logs.some((l) => l['msg'] === 'listening' && l['address'] === '127.0.0.1:9901'));
    proxy.child.kill('SIGTERM');
    t.is(await proxy.exited, 0);
  });
}

/** Inserts the default-deny rule (IPv4 and IPv6) and returns a check that nothing changed since. */
async function closedPod(pair: NetnsPair): Promise<() => Promise<string[]>> {
  for (const bin of ['iptables-legacy', 'ip6tables-legacy'])
    await pair.exec(pair.server, bin, ['-w', '-I', 'INPUT', ...DEFAULT_DENY_RULE]);
  return async () => {
    const wrong: string[] = [];
    for (const bin of ['iptables-legacy', 'ip6tables-legacy']) {
      if ((await pair.exec(pair.server, bin, ['-w', '-t', 'mangle', '-S'])).stdout.includes('CONTRAST'))
        wrong.push(`${bin}: interception rules left`);
      if (!(await pair.exec(pair.server, bin, ['-w', '-S', 'INPUT'])).stdout.includes('-j DROP'))
        wrong.push(`${bin}: default-deny rule gone`);
    }
    return wrong;
  };
}

test('unusable certificates at start: ERR_MESH_CERTIFICATES naming the file, no ready file, nothing changed', async (t) => {
  const pair = await createNetnsPair('uc');
  t.teardown(() => pair.destroy());
  const dir = await tempDir(t);
  const unchanged = await closedPod(pair);
  const pki = await createTestPki();
  const rsaKey = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({
    type: 'pkcs8',
    format: 'pem',
  });
  for (const [name, file, content] of [
    ['RSA key beside an EC chain', 'key.pem', rsaKey],
    ['empty mesh CA', 'mesh-ca.pem', ''],
    ['mesh CA not PEM', 'mesh-ca.pem', 'hello\n'],
  ] as const) {
    const tls = join(dir, name.replace(/ /g, '-'));
    await writeTlsDir(tls, pki.meshCA, pki.server);
    await writeFile(join(tls, file), content);
    const ready = join(dir, 'ready');
    const proxy = startProxy(pair, pair.server, { CONTRAST_TLS_DIR: tls, CONTRAST_READY_FILE: ready });
    t.teardown(() => stopChild(proxy.child));
    t.is(await proxy.exited, 1, name);
    const error = proxy.logs.find((l) => l['level'] === 'ERROR');
    t.is(error?.['code'], 'ERR_MESH_CERTIFICATES', name);
    t.true(String(error?.['msg']).includes(join(tls, file)), `${name}: ${String(error?.['msg'])}`);
    t.false(
      proxy.logs.some((l) => l['msg'] === 'ready'),
      name,
    );
    await t.throwsAsync(access(ready), undefined, name);
    t.deepEqual(await unchanged(), [], name);
  }
});

test('bad configuration exits 64 naming the variable, before anything is changed', async (t) => {
  const pair = await createNetnsPair('cf');
  t.teardown(() => pair.destroy());
  const dir = await tempDir(t);
  const unchanged = await closedPod(pair);
  const pki = await createTestPki();
  await writeTlsDir(join(dir, 'tls'), pki.meshCA, pki.server);
  const rows: [string, Record<string, string>][] = [
    ['CONTRAST_MESHPROXY_CONNECT_TIMEOUT', { CONTRAST_MESHPROXY_CONNECT_TIMEOUT: '1000h' }],
    ['CONTRAST_LOG_SUBSYSTEMS', { CONTRAST_LOG_SUBSYSTEMS: 'bogus' }],
    ['CONTRAST_IP6TABLES', { CONTRAST_IP6TABLES: '/nonexistent/ip6tables' }],
    ['CONTRAST_IPTABLES', { CONTRAST_IPTABLES: '/nonexistent/iptables' }],
    ['CONTRAST_READY_FILE', { CONTRAST_READY_FILE: join(dir, 'missing', 'ready') }],
    [
      'CONTRAST_MESHPROXY_ADMIN_ADDRESS',
      { CONTRAST_MESHPROXY_ADMIN_ADDRESS: 'everywhere', CONTRAST_ADMIN_PORT: '9901' },
    ],
    ['CONTRAST_MESHPROXY_DATA_PATH', { CONTRAST_MESHPROXY_DATA_PATH: 'kernel' }],
  ];
  for (const [variable, env] of rows) {
    const proxy = startProxy(pair, pair.server, {
      CONTRAST_TLS_DIR: join(dir, 'tls'),
      CONTRAST_READY_FILE: join(dir, 'ready'),
      ...env,
    });
    t.teardown(() => stopChild(proxy.child));
    t.is(await proxy.exited, 64, variable);
    const error = proxy.logs.find((l) => l['level'] === 'ERROR');
    t.is(error?.['code'], 'ERR_CONFIG', variable);
    t.true(String(error?.['msg']).includes(`${variable}=`), `${variable}: ${String(error?.['msg'])}`);
    t.false(
      proxy.logs.some((l) => l['msg'] === 'ready'),
      variable,
    );
    await t.throwsAsync(access(join(dir, 'ready')), undefined, variable);
    t.deepEqual(await unchanged(), [], variable);
  }
  const subsystems = await runCli([], { CONTRAST_LOG_SUBSYSTEMS: 'ingress,bogus' });
  t.regex(
    subsystems.stderr,
    /CONTRAST_LOG_SUBSYSTEMS=ingress,bogus: unknown subsystem bogus, expected \* or a comma list of certs, ingress, egress, netfilter/,
  );
});

test('a failure after the first change puts back the previous rules and the default-deny rule', async (t) => {
  const pair = await createNetnsPair('rb');
  t.teardown(() => pair.destroy());
  const dir = await tempDir(t);
  const unchanged = await closedPod(pair);
  const pki = await createTestPki();
  await writeTlsDir(join(dir, 'tls'), pki.meshCA, pki.server);
  // ip6tables as it is, except that committing rules fails: IPv4 is already changed by then.
  const bin = join(dir, 'bin');
  await mkdir(bin);
  await writeFile(join(bin, 'ip6tables-legacy'), '#!/bin/sh\nexec ip6tables-legacy "$@"\n', { mode: 0o755 });
  await writeFile(join(bin, 'ip6tables-legacy-save'), '#!/bin/sh\nexec ip6tables-legacy-save "$@"\n', { mode: 0o755 });
  await writeFile(
    join(bin, 'ip6tables-legacy-restore'),
    '#!/bin/sh\ncase " $* " in *" --test "*) exec ip6tables-legacy-restore "$@";; esac\necho "ip6tables-restore: injected failure" >&2\nexit 4\n',
    { mode: 0o755 },
  );
  const ready = join(dir, 'ready');
  const proxy = startProxy(pair, pair.server, {
    CONTRAST_TLS_DIR: join(dir, 'tls'),
    CONTRAST_READY_FILE: ready,
    CONTRAST_IP6TABLES: join(bin, 'ip6tables-legacy'),
  });
  t.teardown(() => stopChild(proxy.child));
  t.is(await proxy.exited, 1);
  t.true(
    proxy.logs.some((l) => l['msg'] === 'ingress interception rules installed' && l['family'] === 'IPv4'),
    'IPv4 was changed first',
  );
  t.true(proxy.logs.some((l) => l['msg'] === 'start failed: restored the previous rules' && l['family'] === 'IPv4'));
  // The last line is the failure itself (before it, the injected failure also stops the IPv6 restore).
  t.is(proxy.logs.filter((l) => l['level'] === 'ERROR').at(-1)?.['code'], 'ERR_IPTABLES');
  await t.throwsAsync(access(ready));
  t.deepEqual(await unchanged(), []);
});
