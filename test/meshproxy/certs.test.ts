/** The certificate store: load, reload on change, keep the old set when the new one is broken. */
import test from 'ava';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { silentLogger } from '../../lib/log.js';
import { openCertStore } from '../../meshproxy/certs.js';
import { CertificateError } from '../../meshproxy/errors.js';
import { createTestPki, issueLeaf, writeTlsDir } from './pki.js';
import { recordingLogger } from '../initializer/helpers/logs.js';

test('missing files are a CertificateError naming the file', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), `certs-${process.pid}-`));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const err = await t.throwsAsync(openCertStore({ dir, log: silentLogger(), pollMs: 0 }), {
    instanceOf: CertificateError,
  });
  t.is(err.code, 'ERR_MESH_CERTIFICATES');
  t.true(
    err.message.includes(join(dir, 'certChain.pem')) ||
      err.message.includes(join(dir, 'key.pem')) ||
      err.message.includes(join(dir, 'mesh-ca.pem')),
  );
});

test('reload publishes a new context, keeps the old one when the new files are broken', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), `certs-${process.pid}-`));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const pki = await createTestPki();
  await writeTlsDir(dir, pki.meshCA, pki.server);
  const reloads: number[] = [];
  const store = await openCertStore({ dir, log: silentLogger(), pollMs: 0, onReload: (g) => reloads.push(g) });
  t.teardown(() => {
    store.close();
  });
  t.is(store.generation, 1);
  t.true(store.identity.subject.includes('CN=server'));
  const first = store.current;
  t.false(await store.reload(), 'unchanged files are not a reload');
  await writeFile(join(dir, 'key.pem'), '-----BEGIN PRIVATE KEY-----\nnot a key\n-----END PRIVATE KEY-----\n');
  await t.throwsAsync(store.reload(), { instanceOf: CertificateError });
  t.is(store.current, first);
  t.is(store.generation, 1);
  await writeTlsDir(dir, pki.meshCA, await issueLeaf(pki.meshCA, 'rotated'));
  t.true(await store.reload());
  t.not(store.current, first);
  t.is(store.generation, 2);
  t.true(store.identity.subject.includes('CN=rotated'));
  t.true(reloads.includes(2));
});

test('unusable sets are refused at load, each error naming the file and the problem', async (t) => {
  const pki = await createTestPki();
  const rsaKey = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({
    type: 'pkcs8',
    format: 'pem',
  });
  const rows: { name: string; file: string; change: (dir: string) => Promise<void>; expect: RegExp }[] = [
    {
      name: 'RSA key beside an EC chain',
      file: 'key.pem',
      change: (d) => writeFile(join(d, 'key.pem'), rsaKey),
      expect: /rsa key does not belong to the first certificate .*ec key/,
    },
    {
      name: 'key of another certificate',
      file: 'key.pem',
      change: (d) => writeFile(join(d, 'key.pem'), pki.client.keyPem),
      expect: /does not belong to the first certificate/,
    },
    {
      name: 'empty mesh-ca.pem',
      file: 'mesh-ca.pem',
      change: (d) => writeFile(join(d, 'mesh-ca.pem'), ''),
      expect: /the file is empty/,
    },
    {
      name: 'mesh-ca.pem without PEM',
      file: 'mesh-ca.pem',
      change: (d) => writeFile(join(d, 'mesh-ca.pem'), 'not a certificate\n'),
      expect: /no PEM certificate/,
    },
    {
      name: 'broken certificate in mesh-ca.pem',
      file: 'mesh-ca.pem',
      change: (d) =>
        writeFile(join(d, 'mesh-ca.pem'), '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n'),
      expect: /certificate 1 cannot be parsed/,
    },
    {
      name: 'empty certChain.pem',
      file: 'certChain.pem',
      change: (d) => writeFile(join(d, 'certChain.pem'), ''),
      expect: /the file is empty/,
    },
  ];
  for (const row of rows) {
    const dir = await mkdtemp(join(tmpdir(), `certs-${process.pid}-`));
    t.teardown(() => rm(dir, { recursive: true, force: true }));
    await writeTlsDir(dir, pki.meshCA, pki.server);
    await row.change(dir);
    const err = await t.throwsAsync(
      openCertStore({ dir, log: silentLogger(), pollMs: 0 }),
      { instanceOf: CertificateError },
      row.name,
    );
    t.true(err.message.startsWith(join(dir, row.file)), `${row.name}: ${err.message}`);
    t.regex(err.message, row.expect, row.name);
  }
});

test('a reload to an unusable set keeps the old one and warns once, naming the file', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), `certs-${process.pid}-`));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const pki = await createTestPki();
  await writeTlsDir(dir, pki.meshCA, pki.server);
  const { logger: log, lines } = recordingLogger('info');
  const store = await openCertStore({ dir, log, pollMs: 50 });
  t.teardown(() => {
    store.close();
  });
  const first = store.current;
  await writeFile(join(dir, 'mesh-ca.pem'), '');
  // The watcher and the 50 ms poll retry many times; the warning comes once.
  for (
    let i = 0;
    i < 100 && !lines.some((l) => l['msg'] === 'certificate reload failed, keeping the current certificates');
    i++
  )
    await new Promise((r) => setTimeout(r, 50));
  await new Promise((r) => setTimeout(r, 500));
  const warnings = lines.filter((l) => l['msg'] === 'certificate reload failed, keeping the current certificates');
  t.is(warnings.length, 1);
  t.is(warnings[0]?.['level'], 'WARN');
  t.true(String(warnings[0]?.['err']).includes(join(dir, 'mesh-ca.pem')));
  t.is(store.current, first);
  t.is(store.generation, 1);
});
