/** The certificate store: load, reload on change, keep the old set when the new one is broken. */
import test from 'ava';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { silentLogger } from '../../lib/log.js';
import { openCertStore } from '../../meshproxy/certs.js';
import { CertificateError } from '../../meshproxy/errors.js';
import { createTestPki, issueLeaf, writeTlsDir } from './pki.js';

test('missing files are a CertificateError naming the file', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), `certs-${process.pid}-`));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const err = await t.throwsAsync(openCertStore({ dir, log: silentLogger(), pollMs: 0 }), { instanceOf: CertificateError });
  t.is(err.code, 'ERR_MESH_CERTIFICATES');
  t.true(err.message.includes(join(dir, 'certChain.pem')) || err.message.includes(join(dir, 'key.pem')) || err.message.includes(join(dir, 'mesh-ca.pem')));
});

test('reload publishes a new context, keeps the old one when the new files are broken', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), `certs-${process.pid}-`));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const pki = await createTestPki();
  await writeTlsDir(dir, pki.meshCA, pki.server);
  const reloads: number[] = [];
  const store = await openCertStore({ dir, log: silentLogger(), pollMs: 0, onReload: (g) => reloads.push(g) });
  t.teardown(() => { store.close(); });
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
