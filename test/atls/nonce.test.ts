/** Nonce channels: upstream's ALPN/SNI cases (internal/atls/atls_test.go) and the CertificateRequest CA name. */
import 'reflect-metadata';
import test from 'ava';
import { Name } from '@peculiar/x509';
import { clientNonceFrom, nonceAlpn, nonceSni, serverNonceFrom, newNonce } from '../../lib/atls/nonce.js';
import { AtlsError } from '../../lib/atls/errors.js';

const nonce = Buffer.from('0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef', 'hex');
const hex = nonce.toString('hex');

test('client nonce encodings', (t) => {
  t.is(nonceAlpn(nonce), `atls:v1:nonce:${hex}`);
  t.is(nonceSni(nonce), nonce.toString('base64'));
  t.is(nonceSni(nonce).length, 44);
  t.true(nonceSni(nonce).endsWith('='));
  t.is(newNonce().length, 32);
  t.notDeepEqual(newNonce(), newNonce());
});

const ok: Array<[string, string[], string | undefined, 'alpn' | 'sni']> = [
  ['ALPN nonce first', [`atls:v1:nonce:${hex}`, 'h2'], undefined, 'alpn'],
  ['ALPN nonce last', ['h2', `atls:v1:nonce:${hex}`], undefined, 'alpn'],
  ['ALPN wins over SNI', [`atls:v1:nonce:${hex}`, 'h2'], Buffer.alloc(32).toString('base64'), 'alpn'],
  ['upper-case hex (Go decodes it)', [`atls:v1:nonce:${hex.toUpperCase()}`], undefined, 'alpn'],
  ['SNI fallback', ['h2'], nonce.toString('base64'), 'sni'],
  ['SNI fallback without ALPN', [], nonce.toString('base64'), 'sni'],
];
for (const [name, alpn, sni, channel] of ok) {
  test(`server reads the client nonce: ${name}`, (t) => {
    const got = clientNonceFrom(alpn, sni);
    t.deepEqual(got.nonce, nonce);
    t.is(got.channel, channel);
  });
}

const bad: Array<[string, string[], string | undefined]> = [
  ['wrong version is a hard error', [`atls:v2:nonce:${hex}`, 'h2'], nonce.toString('base64')],
  ['bad hex', ['atls:v1:nonce:zz', 'h2'], nonce.toString('base64')],
  ['short hex', [`atls:v1:nonce:${hex.slice(2)}`], undefined],
  ['no nonce at all', ['h2'], undefined],
  ['non-base64 SNI', ['h2'], 'coordinator'],
  ['base64 SNI of the wrong length', ['h2'], Buffer.alloc(16).toString('base64')],
];
for (const [name, alpn, sni] of bad) {
  test(`server rejects the client nonce: ${name}`, (t) => {
    const err = t.throws(() => clientNonceFrom(alpn, sni), { instanceOf: AtlsError });
    t.is(err.code, 'ERR_ATLS_CLIENT_NONCE');
  });
}

function nameDer(cn: string, asUtf8 = false): Buffer {
  const value = asUtf8 ? { utf8String: cn } : { printableString: cn };
  return Buffer.from(new Name([{ '2.5.4.3': [value] }]).toArrayBuffer());
}

test('client reads the server nonce from the single CA name (PrintableString and UTF8String)', (t) => {
  t.deepEqual(
    serverNonceFrom([
      Buffer.from(
        new Name([
          { '2.5.4.6': [{ printableString: 'DE' }] },
          { '2.5.4.3': [{ ia5String: nonce.toString('base64') }] },
        ]).toArrayBuffer(),
      ),
    ]),
    nonce,
  );
  t.deepEqual(serverNonceFrom([nameDer(nonce.toString('base64'))]), nonce);
  t.deepEqual(serverNonceFrom([nameDer(nonce.toString('base64'), true)]), nonce);
  // DER is exactly SEQUENCE { SET { SEQUENCE { OID 2.5.4.3, PrintableString } } }
  const der = nameDer(nonce.toString('base64'));
  t.deepEqual(
    der,
    Buffer.concat([Buffer.from('3037313530330603550403132c', 'hex'), Buffer.from(nonce.toString('base64'))]),
  );
});

const badNames: Array<[string, Buffer[]]> = [
  ['no CA name', []],
  ['two CA names', [nameDer(nonce.toString('base64')), nameDer(nonce.toString('base64'))]],
  ['CN not base64', [nameDer('Contrast')]],
  ['no CN', [Buffer.from(new Name('O=Contrast').toArrayBuffer())]],
  ['not DER', [Buffer.from('nonsense')]],
  ['trailing bytes after the Name', [Buffer.concat([nameDer(nonce.toString('base64')), Buffer.from([0])])]],
  ['truncated Name', [nameDer(nonce.toString('base64')).subarray(0, 20)]],
  ['CN as an INTEGER', [Buffer.from('300e310c300a0603550403020300ffff', 'hex')]],
];
for (const [name, names] of badNames) {
  test(`client rejects the CertificateRequest CA names: ${name}`, (t) => {
    const err = t.throws(() => serverNonceFrom(names), { instanceOf: AtlsError });
    t.is(err.code, 'ERR_ATLS_SERVER_NONCE');
  });
}
