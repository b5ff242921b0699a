/** The ClientHello reader, fed ClientHellos captured live from openssl s_client and from our client. */
import test from 'ava';
import { createServer, type AddressInfo } from 'node:net';
import { generateKeyPairSync } from 'node:crypto';
import { parseClientHello } from '../../lib/coordinator/atls-client-hello.js';
import { AtlsError } from '../../lib/atls/errors.js';
import { atlsConnect } from '../../lib/atls/client.js';
import { InsecureIssuer } from '../../lib/attestation/insecure.js';
import { dial } from './helpers/harness.js';
import { runOpenssl } from './helpers/openssl-peer.js';

/** Accepts one connection and returns the first complete ClientHello it receives. */
async function capture(t: { teardown(fn: () => void): void }, drive: (port: number) => void): Promise<Buffer> {
  let bytes = Buffer.alloc(0);
  const got = new Promise<Buffer>((resolve) => {
    const srv = createServer((s) => {
      s.on('data', (d: Buffer) => {
        bytes = Buffer.concat([bytes, d]);
        if (parseClientHello(bytes) !== undefined) {
          resolve(bytes);
          s.destroy();
        }
      });
      s.on('error', () => {
        /* peer gives up */
      });
    });
    t.teardown(() => srv.close());
    srv.listen(0, '127.0.0.1', () => {
      drive((srv.address() as AddressInfo).port);
    });
  });
  return got;
}

function checkPrefixes(t: { is(a: unknown, b: unknown): void }, hello: Buffer): void {
  for (let n = 0; n < hello.length; n++) t.is(parseClientHello(hello.subarray(0, n)), undefined);
}

test('openssl s_client ClientHello: SNI and ALPN; every prefix asks for more', async (t) => {
  const nonce = Buffer.alloc(32, 9);
  const hello = await capture(t, (port) => {
    const c = runOpenssl([
      's_client',
      '-connect',
      `127.0.0.1:${port}`,
      '-servername',
      nonce.toString('base64'),
      '-alpn',
      `atls:v1:nonce:${nonce.toString('hex')},h2`,
    ]);
    t.teardown(() => {
      void c.stop();
    });
  });
  t.deepEqual(parseClientHello(hello), {
    serverName: nonce.toString('base64'),
    alpn: [`atls:v1:nonce:${nonce.toString('hex')}`, 'h2'],
  });
  checkPrefixes(t, hello);
});

test('our client ClientHello, also when split across two records', async (t) => {
  const nonce = Buffer.alloc(32, 3);
  const hello = await capture(t, (port) => {
    void dial(port)
      .then((s) =>
        atlsConnect(s, {
          issuer: new InsecureIssuer(Buffer.alloc(32)),
          privateKey: generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey,
          nonce,
          timeoutMs: 5000,
        }),
      )
      .catch(() => undefined);
  });
  const expected = { serverName: nonce.toString('base64'), alpn: [`atls:v1:nonce:${nonce.toString('hex')}`, 'h2'] };
  t.deepEqual(parseClientHello(hello), expected);
  const body = hello.subarray(5, 5 + hello.readUInt16BE(3));
  const cut = 100;
  const rec = (b: Buffer): Buffer => Buffer.concat([Buffer.from([22, 3, 1, b.length >> 8, b.length & 0xff]), b]);
  const split = Buffer.concat([rec(body.subarray(0, cut)), rec(body.subarray(cut))]);
  t.deepEqual(parseClientHello(split), expected);
  checkPrefixes(t, split);
});

const garbage: Array<[string, Buffer]> = [
  ['HTTP request', Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n')],
  ['not a ClientHello', Buffer.from([22, 3, 3, 0, 4, 2, 0, 0, 0])],
  ['truncated inside the message', Buffer.from([22, 3, 3, 0, 6, 1, 0, 0, 2, 3, 3])],
];
for (const [name, bytes] of garbage) {
  test(`rejects ${name}`, (t) => {
    const err = t.throws(() => parseClientHello(bytes), { instanceOf: AtlsError });
    t.is(err.code, 'ERR_ATLS_CLIENT_HELLO');
  });
}
