/**
 * Node labelling against a stand-in of the API server's nodes API over real TLS: the installer labels
 * its node after a successful install with the key the generated RuntimeClass selects on, uninstall
 * removes it first; a refused token, a foreign CA or a missing service account fail with ERR_NODE_LABEL.
 */
import test, { type ExecutionContext } from 'ava';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runtimeClass } from '../../images/k8s/runtime.js';
import { createFakeNode, runInstaller, shippedManifest, type FakeNode } from './helpers/host.js';
import { makeCerts, startKubeApi, type KubeApiStandIn } from './helpers/kube-api.js';

const TOKEN = 'test-token-' + Math.random().toString(36).slice(2);

async function setup(
  t: ExecutionContext,
  nodes: Record<string, Record<string, string>> = { 'node-a': { 'kubernetes.io/hostname': 'node-a' } },
): Promise<{ n: FakeNode; api: KubeApiStandIn; dir: string }> {
  const n = createFakeNode();
  t.teardown(() => {
    n.cleanup();
  });
  const dir = mkdtempSync(join(tmpdir(), `ri-kube-${process.pid}-`));
  t.teardown(() => {
    rmSync(dir, { recursive: true, force: true });
  });
  const api = await startKubeApi(dir, { nodes, token: TOKEN });
  t.teardown(() => api.close());
  mkdirSync(n.targetConfigDir, { recursive: true });
  writeFileSync(join(n.targetConfigDir, 'restart-systemd-unit'), 'false');
  return { n, api, dir };
}

function kubeEnv(n: FakeNode, api: KubeApiStandIn, extra: Record<string, string> = {}): Record<string, string> {
  return n.env({
    NODE_NAME: 'node-a',
    KUBERNETES_SERVICE_HOST: '127.0.0.1',
    KUBERNETES_SERVICE_PORT: String(api.port),
    CONTRAST_SERVICE_ACCOUNT_DIR: api.serviceAccountDir,
    ...extra,
  });
}

test('install labels the node with the key the RuntimeClass selects on; uninstall removes it first', async (t) => {
  const { n, api } = await setup(t);
  const hash = 'abcd0123';
  const handler = `contrast-cc-metal-qemu-snp-${hash}`;
  n.writeManifest(shippedManifest(n, { handler }));
  const r = await runInstaller(['Metal-QEMU-SNP'], kubeEnv(n, api));
  t.is(r.code, 0, r.stderr);
  const rc = runtimeClass('Metal-QEMU-SNP', {
    runtimeHash: hash,
    installerImage: 'i',
    namespace: 'kube-system',
    pauseImage: 'p',
  });
  const selector = rc.scheduling?.nodeSelector ?? {};
  t.deepEqual(Object.keys(selector).length, 1);
  const labels = api.labels('node-a') ?? {};
  for (const [k, v] of Object.entries(selector)) t.is(labels[k], v, `node label ${k}`);
  t.is(labels['kubernetes.io/hostname'], 'node-a', 'other labels kept');
  const patch = api.requests.find((q) => q.method === 'PATCH');
  t.is(patch?.path, '/api/v1/nodes/node-a');
  t.is(patch?.contentType, 'application/strategic-merge-patch+json');
  t.true(r.lines.some((l) => l['msg'] === 'node labelled'));
  // The label comes last: after the containerd config was written.
  const msgs = r.lines.map((l) => l['msg']);
  t.true(msgs.indexOf('node labelled') > msgs.indexOf('containerd config updated'));

  const u = await runInstaller(['uninstall', 'Metal-QEMU-SNP'], kubeEnv(n, api));
  t.is(u.code, 0, u.stderr);
  t.deepEqual(api.labels('node-a'), { 'kubernetes.io/hostname': 'node-a' });
  const umsgs = u.lines.map((l) => l['msg']);
  t.true(umsgs.includes('node label removed') && umsgs.includes('config edit undone'), umsgs.join(' | '));
  t.true(
    umsgs.indexOf('node label removed') < umsgs.indexOf('config edit undone'),
    'label removed before the runtime goes',
  );
});

test('a refused token fails with ERR_NODE_LABEL naming the request; the re-run with a good token converges', async (t) => {
  const { n, api, dir } = await setup(t);
  n.writeManifest(shippedManifest(n, { handler: 'contrast-cc-metal-qemu-tdx-abcd0124' }));
  const bad = join(dir, 'bad-sa');
  mkdirSync(bad);
  writeFileSync(join(bad, 'token'), 'wrong');
  writeFileSync(join(bad, 'ca.crt'), readFileSync(join(api.serviceAccountDir, 'ca.crt')));
  const r = await runInstaller(['Metal-QEMU-TDX'], kubeEnv(n, api, { CONTRAST_SERVICE_ACCOUNT_DIR: bad }));
  t.is(r.code, 1);
  const err = r.lines.find((l) => l['level'] === 'ERROR');
  t.is(err?.['code'], 'ERR_NODE_LABEL', r.stderr);
  t.regex(JSON.stringify(err), /401|Unauthorized/);
  t.is(api.labels('node-a')?.['runtime.contrast.edgeless.systems/contrast-cc-metal-qemu-tdx-abcd0124'], undefined);
  const ok = await runInstaller(['Metal-QEMU-TDX'], kubeEnv(n, api));
  t.is(ok.code, 0, ok.stderr);
  t.is(api.labels('node-a')?.['runtime.contrast.edgeless.systems/contrast-cc-metal-qemu-tdx-abcd0124'], 'true');
});

test('a server certificate from another CA, a missing service account, an unknown node: ERR_NODE_LABEL', async (t) => {
  const { n, api, dir } = await setup(t);
  n.writeManifest(shippedManifest(n, { handler: 'contrast-cc-metal-qemu-snp-abcd0125' }));
  const other = makeCerts(join(dir, 'other'), 'other');
  const foreign = join(dir, 'foreign-sa');
  mkdirSync(foreign);
  writeFileSync(join(foreign, 'token'), TOKEN);
  writeFileSync(join(foreign, 'ca.crt'), readFileSync(other.ca));
  for (const [what, env] of [
    ['foreign CA', kubeEnv(n, api, { CONTRAST_SERVICE_ACCOUNT_DIR: foreign })],
    ['no service account', kubeEnv(n, api, { CONTRAST_SERVICE_ACCOUNT_DIR: join(dir, 'missing') })],
    ['unknown node', kubeEnv(n, api, { NODE_NAME: 'node-zz' })],
  ] as const) {
    const r = await runInstaller(['Metal-QEMU-SNP'], env);
    t.is(r.code, 1, what);
    t.is(r.lines.find((l) => l['level'] === 'ERROR')?.['code'], 'ERR_NODE_LABEL', `${what}: ${r.stderr}`);
  }
  t.false(
    api.requests.some((q) => q.authorization !== `Bearer ${TOKEN}`),
    'the token is only ever sent as read from the service account',
  );
});

test('NODE_NAME without KUBERNETES_SERVICE_HOST is a configuration error (exit 64), nothing changed', async (t) => {
  const { n, api } = await setup(t);
  n.writeManifest(shippedManifest(n, { handler: 'contrast-cc-metal-qemu-snp-abcd0126' }));
  const before = readFileSync(join(n.host, 'etc/containerd/config.toml'), 'utf8');
  const env = kubeEnv(n, api);
  delete env['KUBERNETES_SERVICE_HOST'];
  const r = await runInstaller(['Metal-QEMU-SNP'], env);
  t.is(r.code, 64, r.stderr);
  t.regex(r.stderr, /KUBERNETES_SERVICE_HOST/);
  t.is(readFileSync(join(n.host, 'etc/containerd/config.toml'), 'utf8'), before);
});
