/** spkiDer: the JWK-built SPKI of P-256/P-384 keys is byte-for-byte node's DER export; other keys go through the export. */
import test from 'ava';
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { spkiDer } from '../../lib/atls/report-data.js';

for (const curve of ['P-256', 'P-384'] as const) {
  test(`${curve}: equal to the DER export, from the private and the public key (500 keys, short coordinates included)`, (t) => {
    for (let i = 0; i < 500; i++) {
      const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: curve });
      const expected = publicKey.export({ type: 'spki', format: 'der' });
      t.deepEqual(spkiDer(publicKey), expected);
      t.deepEqual(spkiDer(privateKey), expected);
    }
  });
}

const others: Array<[string, () => KeyObject]> = [
  ['secp256k1', () => generateKeyPairSync('ec', { namedCurve: 'secp256k1' }).publicKey],
  ['brainpoolP256r1', () => generateKeyPairSync('ec', { namedCurve: 'brainpoolP256r1' }).publicKey],
  ['P-521', () => generateKeyPairSync('ec', { namedCurve: 'P-521' }).publicKey],
  ['Ed25519', () => generateKeyPairSync('ed25519').publicKey],
  ['RSA', () => generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey],
];
for (const [name, make] of others) {
  test(`${name}: the DER export`, (t) => {
    const key = make();
    t.deepEqual(spkiDer(key), key.export({ type: 'spki', format: 'der' }));
  });
}
