/** The real program as a process: configuration errors, signals, retries and the files it leaves. */
import test from 'ava';
import { X509Certificate, createPrivateKey, createPublicKey } from 'node:crypto';
import { mkdtemp, readFile, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseLogLines } from './helpers/logs.js';
import { spawnFixture } from './helpers/spawn.js';

async function dirs(t: { teardown(fn: () => unknown): void }) {
  const root = await mkdtemp(join(tmpdir(), `init-prog-${process.pid}-`));
  t.teardown(() => rm(root, { recursive: true, force: true }));
  const env = {
    CONTRAST_TLS_DIR: join(root, 'tls-config'),
    CONTRAST_SECRETS_DIR: join(root, 'secrets'),
    CONTRAST_DONE_FILE: join(root, 'done'),
    CONTRAST_RETRY_INTERVAL: '50ms',
  };
  return { root, env };
}

test('success: files, key matches the leaf, log lines in order, exit 0', async (t) => {
  const { root, env } = await dirs(t);
  const p = spawnFixture({
    ...env,
    COORDINATOR_HOST: 'coordinator',
    FIXTURE_BEHAVIOUR: 'fail:2',
    FIXTURE_SECRET_ID: 'apps/v1/Deployment/default/web',
  });
  const { code } = await p.exited;
  t.is(code, 0, p.stderr());
  const lines = parseLogLines(p.stderr());
  t.deepEqual(
    lines.map((l) => `${String(l['level'])} ${String(l['msg'])}`),
    [
      'INFO Logger initialized',
      'INFO Initializer started',
      'WARN Requesting cert',
      'WARN Requesting cert',
      'INFO Successfully requested cert from Coordinator',
      'INFO Initializer done',
    ],
  );
  t.is(lines[1]!['coordinator'], 'coordinator:7777');
  const key = createPrivateKey(await readFile(join(root, 'tls-config', 'key.pem')));
  const leaf = new X509Certificate(await readFile(join(root, 'tls-config', 'certChain.pem')));
  t.true(leaf.publicKey.equals(createPublicKey(key)));
  t.true(leaf.verify(new X509Certificate(await readFile(join(root, 'tls-config', 'mesh-ca.pem'))).publicKey));
  t.regex(await readFile(join(root, 'secrets', 'workload-secret-seed'), 'utf8'), /^[0-9a-f]{128}$/);
  t.is((await stat(join(root, 'done'))).size, 0);
});

test('missing COORDINATOR_HOST: one ERROR line naming it, exit 64, nothing written', async (t) => {
  const { root, env } = await dirs(t);
  const p = spawnFixture({ ...env, CONTRAST_RETRY_INTERVAL: 'often' });
  const { code } = await p.exited;
  t.is(code, 64);
  const errors = parseLogLines(p.stderr()).filter((l) => l['level'] === 'ERROR');
  t.is(errors.length, 1);
  t.is(errors[0]!['code'], 'ERR_CONFIG');
  t.regex(String(errors[0]!['msg']), /COORDINATOR_HOST is not set/);
  t.regex(String(errors[0]!['msg']), /CONTRAST_RETRY_INTERVAL=often: expected a duration/);
  t.deepEqual(await readdir(root), []);
});

test('CONTRAST_DONE_FILE on key.pem: exit 64 naming both, nothing written', async (t) => {
  const { root, env } = await dirs(t);
  const p = spawnFixture({
    ...env,
    COORDINATOR_HOST: 'coordinator',
    CONTRAST_DONE_FILE: join(env.CONTRAST_TLS_DIR, 'key.pem'),
  });
  t.is((await p.exited).code, 64, p.stderr());
  const errors = parseLogLines(p.stderr()).filter((l) => l['level'] === 'ERROR');
  t.is(errors.length, 1);
  t.is(errors[0]!['code'], 'ERR_CONFIG');
  t.regex(String(errors[0]!['msg']), /key\.pem in CONTRAST_TLS_DIR and CONTRAST_DONE_FILE=\S+key\.pem: the same path/);
  t.deepEqual(await readdir(root), []);
});

test('a bad log level is a configuration error too', async (t) => {
  const { env } = await dirs(t);
  const p = spawnFixture({ ...env, COORDINATOR_HOST: 'c', CONTRAST_LOG_LEVEL: 'loud' });
  t.is((await p.exited).code, 64);
  t.regex(p.stderr(), /CONTRAST_LOG_LEVEL=loud: invalid log level/);
});

for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  test(`${signal} while waiting for the Coordinator: prompt exit 1 with one ERROR line, nothing written`, async (t) => {
    const { root, env } = await dirs(t);
    const p = spawnFixture({
      ...env,
      COORDINATOR_HOST: '[::1]:7000',
      FIXTURE_BEHAVIOUR: 'unavailable',
      CONTRAST_RETRY_INTERVAL: '1h',
    });
    t.teardown(() => p.child.kill('SIGKILL'));
    await p.waitForMsg('Requesting cert');
    p.child.kill(signal);
    const { code } = await p.exited;
    t.is(code, 1);
    const lines = parseLogLines(p.stderr());
    const errors = lines.filter((l) => l['level'] === 'ERROR');
    t.is(errors.length, 1);
    t.is(errors[0]!['code'], 'ERR_INIT_INTERRUPTED');
    t.is(errors[0]!['msg'], `waiting for retry to request cert: received ${signal}`);
    const warn = lines.find((l) => l['level'] === 'WARN');
    t.regex(String(warn?.['err']), /\[::1\]:7000/);
    t.deepEqual(await readdir(root), []);
  });
}

test('CRYPTSETUP_DEVICE that cannot be served: one ERROR line naming it, exit 1, no done file, nothing written', async (t) => {
  const { root, env } = await dirs(t);
  const p = spawnFixture({ ...env, COORDINATOR_HOST: 'coordinator', CRYPTSETUP_DEVICE: '/dev/csi0' });
  const { code } = await p.exited;
  t.is(code, 1, p.stderr());
  const lines = parseLogLines(p.stderr());
  const errors = lines.filter((l) => l['level'] === 'ERROR');
  t.is(errors.length, 1);
  t.is(errors[0]!['code'], 'ERR_INIT_SECURE_PV_UNAVAILABLE');
  t.regex(String(errors[0]!['msg']), /CRYPTSETUP_DEVICE=\/dev\/csi0/);
  t.false(
    lines.some((l) => l['msg'] === 'Initializer done' || l['msg'] === 'Successfully requested cert from Coordinator'),
  );
  t.deepEqual(await readdir(root), []);
});

test('a malformed answer is retried and nothing is written until a valid one arrives', async (t) => {
  const { env } = await dirs(t);
  const p = spawnFixture({ ...env, COORDINATOR_HOST: 'c', FIXTURE_BEHAVIOUR: 'malformed:1' });
  t.is((await p.exited).code, 0, p.stderr());
  const warns = parseLogLines(p.stderr()).filter((l) => l['level'] === 'WARN');
  t.is(warns.length, 1);
  t.is(warns[0]!['code'], 'ERR_INIT_RESPONSE_INVALID');
  t.regex(String(warns[0]!['err']), /not for this pod's key/);
});

test('a leaf that is not valid yet is refused and retried, not written', async (t) => {
  const { root, env } = await dirs(t);
  const p = spawnFixture({
    ...env,
    COORDINATOR_HOST: 'c',
    FIXTURE_BEHAVIOUR: 'future:1',
    CONTRAST_RETRY_INTERVAL: '1h',
  });
  t.teardown(() => p.child.kill('SIGKILL'));
  await p.waitForMsg('Requesting cert');
  const warn = parseLogLines(p.stderr()).find((l) => l['level'] === 'WARN');
  t.is(warn?.['code'], 'ERR_INIT_RESPONSE_INVALID');
  t.regex(String(warn?.['err']), /not valid yet \(valid from \S+ to \S+, this pod's clock says \S+\)/);
  p.child.kill('SIGTERM');
  t.is((await p.exited).code, 1);
  t.deepEqual(await readdir(root), []);
});

test('--version prints the upstream banner', async (t) => {
  const p = spawnFixture({}, ['--version']);
  const { code } = await p.exited;
  t.is(code, 0);
  t.regex(
    p.stdout(),
    /^Contrast initializer \d+\.\d+\.\d+\nReport issues at https:\/\/github.com\/edgelesssys\/contrast\/issues\n$/,
  );
});
