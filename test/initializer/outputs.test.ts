import test from 'ava';
import { execFileSync } from 'node:child_process';
import { mkdtemp, readFile, readdir, rm, stat, symlink, writeFile, mkdir, chmod } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeOutputs, planOutputs } from '../../initializer/outputs.js';
import { generateWorkloadKey } from '../../initializer/workload-key.js';
import { OutputWriteError } from '../../initializer/errors.js';
import { createLocalCA } from './helpers/local-ca.js';
import { opensslMutualTls } from './helpers/openssl-mtls.js';

const ca = await createLocalCA();
const key = generateWorkloadKey();
const withSecret = await ca.issue(key.publicKey, { workloadSecretId: 'core/v1/Pod/default/p' });
const withoutSecret = await ca.issue(key.publicKey);

async function layout(t: { teardown(fn: () => unknown): void }) {
  const root = await mkdtemp(join(tmpdir(), `init-out-${process.pid}-`));
  t.teardown(() => rm(root, { recursive: true, force: true }));
  return {
    root,
    tlsDir: join(root, 'contrast', 'tls-config'),
    secretsDir: join(root, 'contrast', 'secrets'),
    doneFile: join(root, 'done'),
  };
}

const mode = async (p: string): Promise<number> => (await stat(p)).mode & 0o7777;

test('files, modes and contents as upstream (E2/E3)', async (t) => {
  const l = await layout(t);
  const written = await writeOutputs(l, withSecret, key.pkcs8Pem);
  t.deepEqual(
    written.map((p) => p.slice(l.root.length)),
    [
      '/contrast/tls-config/mesh-ca.pem',
      '/contrast/tls-config/certChain.pem',
      '/contrast/tls-config/key.pem',
      '/contrast/tls-config/coordinator-root-ca.pem',
      '/contrast/secrets/workload-secret-seed',
      '/done',
    ],
  );
  t.is(await mode(l.tlsDir), 0o755);
  t.is(await mode(l.secretsDir), 0o755);
  t.deepEqual((await readdir(l.tlsDir)).sort(), ['certChain.pem', 'coordinator-root-ca.pem', 'key.pem', 'mesh-ca.pem']);
  t.deepEqual(await readdir(l.secretsDir), ['workload-secret-seed']);
  t.is(await mode(join(l.tlsDir, 'mesh-ca.pem')), 0o444);
  t.is(await mode(join(l.tlsDir, 'certChain.pem')), 0o444);
  t.is(await mode(join(l.tlsDir, 'coordinator-root-ca.pem')), 0o444);
  t.is(await mode(join(l.tlsDir, 'key.pem')), 0o400);
  t.is(await mode(join(l.secretsDir, 'workload-secret-seed')), 0o400);
  t.is(await mode(l.doneFile), 0o644);
  t.deepEqual(await readFile(join(l.tlsDir, 'mesh-ca.pem')), withSecret.meshCACert);
  t.deepEqual(await readFile(join(l.tlsDir, 'certChain.pem')), withSecret.certChain);
  t.deepEqual(await readFile(join(l.tlsDir, 'coordinator-root-ca.pem')), withSecret.rootCACert);
  const keyPem = await readFile(join(l.tlsDir, 'key.pem'), 'utf8');
  t.true(keyPem.startsWith('-----BEGIN PRIVATE KEY-----\n'));
  t.is(keyPem, key.pkcs8Pem);
  const seed = await readFile(join(l.secretsDir, 'workload-secret-seed'), 'utf8');
  t.regex(seed, /^[0-9a-f]{128}$/);
  t.is(seed, withSecret.workloadSecret.toString('hex'));
  t.is((await stat(l.doneFile)).size, 0);
});

test('no workload-secret-seed when the secret is empty; the secrets directory still exists', async (t) => {
  const l = await layout(t);
  await writeOutputs(l, withoutSecret, key.pkcs8Pem);
  t.deepEqual(await readdir(l.secretsDir), []);
  t.is(await mode(l.secretsDir), 0o755);
  t.is(planOutputs(l, withoutSecret, key.pkcs8Pem).length, 4);
});

test('existing directories get mode 0755; a second run writes identical bytes', async (t) => {
  const l = await layout(t);
  await mkdir(l.tlsDir, { recursive: true });
  await chmod(l.tlsDir, 0o777);
  await writeOutputs(l, withSecret, key.pkcs8Pem);
  t.is(await mode(l.tlsDir), 0o755);
  const before = await readFile(join(l.tlsDir, 'certChain.pem'));
  await writeOutputs(l, withSecret, key.pkcs8Pem);
  t.deepEqual(await readFile(join(l.tlsDir, 'certChain.pem')), before);
  t.deepEqual(
    (await readdir(l.tlsDir)).sort(),
    ['certChain.pem', 'coordinator-root-ca.pem', 'key.pem', 'mesh-ca.pem'],
    'no temporary files left',
  );
});

test('a failing write names the file, leaves no done file and removes a stale one', async (t) => {
  const l = await layout(t);
  await writeFile(l.doneFile, '');
  // A directory where key.pem should go makes the rename fail.
  await mkdir(join(l.tlsDir, 'key.pem'), { recursive: true });
  const err = await t.throwsAsync(writeOutputs(l, withSecret, key.pkcs8Pem), { instanceOf: OutputWriteError });
  t.is(err.code, 'ERR_INIT_WRITE');
  t.is(err.path, join(l.tlsDir, 'key.pem'));
  await t.throwsAsync(stat(l.doneFile), { code: 'ENOENT' });
  t.false(
    (await readdir(l.tlsDir)).some((n) => n.includes('.tmp-')),
    'no temporary files left',
  );
});

test('temporary files left by a killed run are removed; unrelated files stay', async (t) => {
  const l = await layout(t);
  await mkdir(l.tlsDir, { recursive: true });
  await writeFile(join(l.tlsDir, '.key.pem.tmp-0123456789ab'), 'half a key');
  await writeFile(join(l.tlsDir, '.other.tmp-0123456789ab'), 'not ours');
  await writeOutputs(l, withSecret, key.pkcs8Pem);
  t.deepEqual(
    (await readdir(l.tlsDir)).filter((n) => n.startsWith('.')),
    ['.other.tmp-0123456789ab'],
  );
});

test('a directory, a fifo or a link under a temporary name does not stop a restart; links are not followed', async (t) => {
  const l = await layout(t);
  const outside = join(l.root, 'outside');
  await mkdir(outside);
  await writeFile(join(outside, 'precious'), 'do not touch');
  await mkdir(join(l.tlsDir, '.key.pem.tmp-0123456789ab', 'inner'), { recursive: true });
  await writeFile(join(l.tlsDir, '.key.pem.tmp-0123456789ab', 'inner', 'x'), 'x');
  await symlink(outside, join(l.tlsDir, '.key.pem.tmp-0123456789ab', 'out'));
  await symlink(outside, join(l.tlsDir, '.certChain.pem.tmp-aaaaaaaaaaaa'));
  execFileSync('mkfifo', [join(l.tlsDir, '.mesh-ca.pem.tmp-bbbbbbbbbbbb')]);
  await mkdir(l.secretsDir, { recursive: true });
  await symlink(join(outside, 'precious'), join(l.secretsDir, '.workload-secret-seed.tmp-cccccccccccc'));
  await mkdir(join(l.root, '.done.tmp-dddddddddddd'));
  await writeOutputs(l, withSecret, key.pkcs8Pem);
  t.deepEqual((await readdir(l.tlsDir)).sort(), ['certChain.pem', 'coordinator-root-ca.pem', 'key.pem', 'mesh-ca.pem']);
  t.deepEqual(await readdir(l.secretsDir), ['workload-secret-seed']);
  t.false((await readdir(l.root)).includes('.done.tmp-dddddddddddd'));
  t.deepEqual(await readdir(outside), ['precious']);
  t.is(await readFile(join(outside, 'precious'), 'utf8'), 'do not touch');
  // And again over the result: still nothing stale, the same bytes.
  await writeOutputs(l, withSecret, key.pkcs8Pem);
  t.is((await stat(l.doneFile)).size, 0);
});

test("two pods' written files establish mutual TLS through openssl s_server / s_client", async (t) => {
  const a = await layout(t);
  const b = await layout(t);
  const keyB = generateWorkloadKey();
  await writeOutputs(a, await ca.issue(key.publicKey, { dnsNames: ['pod-a'] }), key.pkcs8Pem);
  await writeOutputs(b, await ca.issue(keyB.publicKey, { dnsNames: ['pod-b'] }), keyB.pkcs8Pem);
  const ok = await opensslMutualTls(a.tlsDir, b.tlsDir, 'hello from pod-b', 'pod-a');
  t.is(ok.clientCode, 0, ok.clientOut);
  t.regex(ok.clientOut, /Verify return code: 0 \(ok\)/);
  t.regex(ok.serverOut, /hello from pod-b/);

  // Negative control: a pod of another Coordinator is refused by the server.
  const foreign = await layout(t);
  const otherCA = await createLocalCA();
  const keyC = generateWorkloadKey();
  await writeOutputs(foreign, await otherCA.issue(keyC.publicKey), keyC.pkcs8Pem);
  const refused = await opensslMutualTls(a.tlsDir, foreign.tlsDir, 'hello from elsewhere');
  t.notRegex(refused.serverOut, /hello from elsewhere/);
  t.regex(refused.serverOut + refused.clientOut, /verify error|alert|certificate verify failed|unknown ca/i);
});
