/**
 * The certificate store in renewal mode: files read from one generation (`..data`), and after a mesh CA
 * change the previous CA trusted beside the new one for the grace window, then dropped; checked with
 * real TLS handshakes of clients holding certificates of the old and of the new CA (same CA name, as
 * the Coordinator's mesh CAs have).
 */
import test from 'ava';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, createServer, type TLSSocket } from 'node:tls';
import type { AddressInfo } from 'node:net';
import { silentLogger } from '../../lib/log.js';
import { openCertStore, type CertStore } from '../../meshproxy/certs.js';
import { writeGeneration } from '../../initializer/tls-generation.js';
import { createCA, issueLeaf, type CA, type Issued } from './pki.js';

async function writeSet(dir: string, ca: CA, leaf: Issued, n: number): Promise<void> {
  await writeGeneration(
    dir,
    [
      { name: 'mesh-ca.pem', data: ca.certPem, mode: 0o444 },
      { name: 'certChain.pem', data: leaf.certPem + ca.certPem, mode: 0o444 },
      { name: 'key.pem', data: leaf.keyPem, mode: 0o400 },
    ],
    n,
  );
}

/** A handshake with a client certificate against a server built from the store: the server's verdict. */
async function serverAccepts(store: CertStore, client: Issued): Promise<string> {
  const server = createServer({ ...store.tlsOptions, requestCert: true, rejectUnauthorized: false });
  const verdict = new Promise<string>((resolve) => {
    server.on('secureConnection', (s: TLSSocket) => {
      resolve(s.authorized ? 'authorized' : String(s.authorizationError));
      s.destroy();
    });
  });
  await new Promise<void>((r) => {
    server.listen(0, '127.0.0.1', r);
  });
  const socket = connect({
    port: (server.address() as AddressInfo).port,
    host: '127.0.0.1',
    cert: client.certPem,
    key: client.keyPem,
    rejectUnauthorized: false,
  });
  socket.on('error', () => undefined);
  try {
    return await verdict;
  } finally {
    socket.destroy();
    await new Promise<void>((r) => {
      server.close(() => {
        r();
      });
    });
  }
}

test('a new mesh CA: both trusted during the grace window, only the new one after; one generation per load', async (t) => {
  const dir = join(await mkdtemp(join(tmpdir(), `certs-grace-${process.pid}-`)), 'tls-config');
  t.teardown(() => rm(join(dir, '..'), { recursive: true, force: true }));
  const oldCa = await createCA('system:coordinator:intermediate');
  const newCa = await createCA('system:coordinator:intermediate');
  const oldPeer = await issueLeaf(oldCa, 'old-peer');
  const newPeer = await issueLeaf(newCa, 'new-peer');
  await writeSet(dir, oldCa, await issueLeaf(oldCa, 'me'), 1);
  let graceEnded!: () => void;
  const ended = new Promise<void>((r) => {
    graceEnded = r;
  });
  const reloads: number[] = [];
  const store = await openCertStore({
    dir,
    log: silentLogger(),
    pollMs: 0,
    graceMs: 1500,
    onReload: (g) => {
      reloads.push(g);
      if (g === 3) graceEnded();
    },
  });
  t.teardown(() => {
    store.close();
  });
  t.is(await serverAccepts(store, oldPeer), 'authorized');
  t.not(await serverAccepts(store, newPeer), 'authorized', 'a peer of an unknown CA is refused');
  t.is(store.trust.previous, undefined);

  await writeSet(dir, newCa, await issueLeaf(newCa, 'me'), 2);
  await store.reload(); // the directory watch may have been first: either way, one reload
  t.is(store.generation, 2);
  t.true(store.identity.subject.includes('CN=me'));
  t.truthy(store.trust.previous, 'the previous CA is listed during the grace window');
  t.is(await serverAccepts(store, newPeer), 'authorized', 'new peers: trusted');
  t.is(
    await serverAccepts(store, oldPeer),
    'authorized',
    'peers that have not renewed yet: trusted during the grace window',
  );

  await ended;
  t.deepEqual(reloads, [2, 3]);
  t.is(store.trust.previous, undefined);
  t.is(await serverAccepts(store, newPeer), 'authorized');
  t.regex(
    await serverAccepts(store, oldPeer),
    /UNABLE_TO_GET_ISSUER_CERT_LOCALLY|UNABLE_TO_VERIFY_LEAF_SIGNATURE|CERT_SIGNATURE_FAILURE/,
    'after the window: refused',
  );
});

test('no grace window (0): the previous mesh CA is dropped at once', async (t) => {
  const dir = join(await mkdtemp(join(tmpdir(), `certs-grace-${process.pid}-`)), 'tls-config');
  t.teardown(() => rm(join(dir, '..'), { recursive: true, force: true }));
  const oldCa = await createCA('system:coordinator:intermediate');
  const newCa = await createCA('system:coordinator:intermediate');
  await writeSet(dir, oldCa, await issueLeaf(oldCa, 'me'), 1);
  const store = await openCertStore({ dir, log: silentLogger(), pollMs: 0, graceMs: 0 });
  t.teardown(() => {
    store.close();
  });
  await writeSet(dir, newCa, await issueLeaf(newCa, 'me'), 2);
  await store.reload(); // the directory watch may have been first: either way, one reload
  t.is(store.generation, 2);
  t.is(store.trust.previous, undefined);
  t.not(await serverAccepts(store, await issueLeaf(oldCa, 'old-peer')), 'authorized');
  t.is(await serverAccepts(store, await issueLeaf(newCa, 'new-peer')), 'authorized');
});
