/** Server keys generated one ahead: each handed out once, failures reported to the taker only. */
import test from 'ava';
import { createPrivateKey, createPublicKey, X509Certificate } from 'node:crypto';
import { newServerKey, ServerKeyPool, type ServerKey } from '../../lib/coordinator/atls-server-keys.js';
import { atlsConnect } from '../../lib/atls/client.js';
import { InsecureIssuer } from '../../lib/attestation/insecure.js';
import { dial, startAtlsServer } from './helpers/harness.js';

test('a server key: P-256, its SPKI and PEM belong to it', async (t) => {
  const key = await newServerKey();
  t.is(key.privateKey.asymmetricKeyDetails?.namedCurve, 'prime256v1');
  t.deepEqual(key.spki, createPublicKey(key.privateKey).export({ type: 'spki', format: 'der' }));
  t.true(createPublicKey(createPrivateKey(key.privateKeyPem)).equals(key.publicKey));
});

test('the pool prepares the next key at once and never hands out a key twice', async (t) => {
  let generated = 0;
  const pool = new ServerKeyPool(() => {
    generated++;
    return newServerKey();
  });
  t.is(generated, 1);
  const first = pool.take();
  t.is(generated, 2);
  // Concurrent and sequential takes alike.
  const keys: ServerKey[] = [await first, ...(await Promise.all([pool.take(), pool.take(), pool.take()]))];
  for (let i = 0; i < 4; i++) keys.push(await pool.take());
  t.is(generated, 9);
  t.is(new Set(keys.map((k) => k.spki.toString('hex'))).size, keys.length);
});

test('a failed generation rejects only the take that gets it', async (t) => {
  let n = 0;
  const pool = new ServerKeyPool(() => (n++ === 1 ? Promise.reject(new Error('no entropy')) : newServerKey()));
  await t.notThrowsAsync(pool.take());
  await t.throwsAsync(pool.take(), { message: 'no entropy' });
  await t.notThrowsAsync(pool.take());
});

test('two connections to one server get different server keys', async (t) => {
  const server = await startAtlsServer(t);
  const serverKeys = new Set<string>();
  for (let i = 0; i < 3; i++) {
    const { privateKey } = await newServerKey();
    const stream = await atlsConnect(await dial(server.port), {
      issuer: new InsecureIssuer(Buffer.alloc(32, i)),
      privateKey,
    });
    // The server greets each accepted connection, then ends it.
    await new Promise((resolve, reject) => {
      stream
        .on('data', () => undefined)
        .once('end', resolve)
        .once('error', reject);
    });
    const cert = stream.tlsInfo.peerCertificate;
    t.truthy(cert);
    serverKeys.add(
      new X509Certificate(cert ?? Buffer.alloc(0)).publicKey.export({ type: 'spki', format: 'der' }).toString('hex'),
    );
    stream.destroy();
  }
  t.is(server.accepted.length, 3);
  t.is(serverKeys.size, 3);
});
