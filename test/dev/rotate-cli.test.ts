/**
 * `contrast-dev coordinator rotate`: the running Coordinator gets a new mesh CA under the same root,
 * and answers with it; a missing or stale pid file is refused without signalling anything.
 */
import test from 'ava';
import { spawn, spawnSync } from 'node:child_process';
import { generateKeyPairSync, X509Certificate } from 'node:crypto';
import { access, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { InsecureIssuer } from '../../lib/attestation/insecure.js';
import { newMeshCert } from '../../lib/meshapi/client.js';
import { devCoordinatorArgs } from './coordinator-args.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const MAIN = join(root, 'dev', 'main.ts');
const HOST = '34'.repeat(32);

const rotate = (stateDir: string): ReturnType<typeof spawnSync> =>
  spawnSync(process.execPath, ['--import=tsx', MAIN, 'coordinator', 'rotate', '--state-dir', stateDir], {
    cwd: root,
    encoding: 'utf8',
    timeout: 60_000,
  });

async function until(check: () => Promise<boolean>): Promise<void> {
  while (!(await check())) await new Promise((r) => setTimeout(r, 50));
}

test('rotate: new mesh CA, same root; NewMeshCert answers with it; the pid file goes on SIGTERM', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), `dev-rotate-${process.pid}-`));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const state = join(dir, 'state');
  const child = spawn(process.execPath, ['--import=tsx', MAIN, ...(await devCoordinatorArgs(dir, HOST, state))], {
    cwd: root,
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let log = '';
  child.stderr.on('data', (d: Buffer) => {
    log += d.toString();
  });
  const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
  t.teardown(() => {
    child.kill('SIGKILL');
  });
  await until(async () =>
    access(join(state, 'coordinator.pid')).then(
      () => true,
      () => child.exitCode !== null,
    ),
  );
  t.is(await readFile(join(state, 'coordinator.pid'), 'utf8'), `${child.pid ?? 0}\n`);
  const port = Number(/"port":(\d+)/.exec(log)?.[1]);
  const before = {
    ca: await readFile(join(state, 'mesh-ca.pem'), 'utf8'),
    root: await readFile(join(state, 'root-ca.pem'), 'utf8'),
  };

  const r = rotate(state);
  t.is(r.status, 0, String(r.stderr));
  const after = await readFile(join(state, 'mesh-ca.pem'), 'utf8');
  t.not(after, before.ca);
  t.is(
    String(r.stdout).trim(),
    `mesh CA rotated: ${new X509Certificate(before.ca).fingerprint256} -> ${new X509Certificate(after).fingerprint256}`,
  );
  t.is(await readFile(join(state, 'root-ca.pem'), 'utf8'), before.root, 'same root');
  t.regex(log, /"msg":"Mesh CA rotated \(same root\)"/);
  const certs = await newMeshCert({
    target: `127.0.0.1:${port}`,
    issuer: new InsecureIssuer(Buffer.from(HOST, 'hex')),
    privateKey: generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey,
  });
  t.is(certs.meshCACert.toString(), after, 'answers carry the new mesh CA');
  t.is(certs.rootCACert.toString(), before.root);
  const intermediate = new X509Certificate(
    certs.certChain.toString().slice(certs.certChain.toString().indexOf('-----END CERTIFICATE-----') + 26),
  );
  t.true(
    intermediate.verify(new X509Certificate(before.root).publicKey),
    'the new intermediate chains to the same root',
  );
  t.true(intermediate.publicKey.equals(new X509Certificate(after).publicKey));

  child.kill('SIGTERM');
  t.is(await exited, 0);
  await t.throwsAsync(access(join(state, 'coordinator.pid')), { code: 'ENOENT' });
});

test('rotate without a running Coordinator: exit 64 without a pid file, exit 1 for a stale one; nothing signalled', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), `dev-rotate-${process.pid}-`));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const missing = rotate(dir);
  t.is(missing.status, 64);
  t.regex(String(missing.stderr), /--state-dir=.*: expected the state directory of a running Coordinator/);
  await mkdir(dir, { recursive: true });
  // This test's own pid: alive, but not a Coordinator: it must not receive a SIGHUP.
  let hups = 0;
  const onHup = (): void => {
    hups += 1;
  };
  process.on('SIGHUP', onHup);
  t.teardown(() => {
    process.off('SIGHUP', onHup);
  });
  await writeFile(join(dir, 'coordinator.pid'), `${process.pid}\n`);
  const stale = rotate(dir);
  t.is(stale.status, 1);
  t.regex(String(stale.stderr), /"code":"ERR_DEV_ROTATE".*stale pid file/);
  t.is(hups, 0);
});
