/**
 * Our aTLS server: with our client (TLS 1.3 and 1.2), with `openssl s_client` as an independent peer,
 * and one test per rejection reason (each logged with its own code, each seen by the client).
 */
import 'reflect-metadata';
import test from 'ava';
import { generateKeyPairSync, createPublicKey, type KeyObject } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { atlsConnect } from '../../lib/atls/client.js';
import { createAtlsCertificate, inspectAtlsCertificate } from '../../lib/coordinator/atls-client-certificate.js';
import { AtlsError } from '../../lib/atls/errors.js';
import { errorCode } from '../../lib/errors.js';
import { serverNonceFrom } from '../../lib/atls/nonce.js';
import { reportDataFor, spkiDer } from '../../lib/atls/report-data.js';
import { tlsConnect, type ClientCertificate, type TlsClientStream } from '../../lib/atls/tls-client.js';
import { peculiarCert } from './helpers/peculiar-cert.js';
import { DOCUMENT_OIDS, type Validator } from '../../lib/attestation/types.js';
import { dial, startAtlsServer } from './helpers/harness.js';
import { InsecureIssuer, InsecureValidator } from '../../lib/attestation/insecure.js';
import { opensslSelfSigned, runOpenssl } from './helpers/openssl-peer.js';

const HOST = Buffer.alloc(32, 0xab);

function p256(): { privateKey: KeyObject; publicKey: KeyObject } {
  return generateKeyPairSync('ec', { namedCurve: 'P-256' });
}

function readAll(stream: TlsClientStream): Promise<string> {
  return new Promise((resolve, reject) => {
    let out = '';
    stream.on('data', (d: Buffer) => {
      out += d.toString();
    });
    stream.once('end', () => {
      resolve(out);
    });
    stream.once('error', reject);
  });
}

for (const version of ['TLSv1.3', 'TLSv1.2'] as const) {
  test(`${version}: our client is accepted by our server, which sees its key and host data`, async (t) => {
    const server = await startAtlsServer(t);
    const { privateKey, publicKey } = p256();
    const stream = await atlsConnect(await dial(server.port), {
      issuer: new InsecureIssuer(HOST),
      privateKey,
      maxVersion: version,
    });
    t.is(stream.tlsInfo.version, version);
    t.is(stream.alpnProtocol, 'h2');
    t.is(await readAll(stream), 'welcome\n');
    const accepted = server.accepted[0];
    t.truthy(accepted);
    t.deepEqual(accepted?.peer.spki, spkiDer(publicKey));
    t.true(accepted?.peer.publicKey.equals(publicKey));
    t.deepEqual(Buffer.from(accepted?.peer.document.hostData ?? []), HOST);
    t.is(accepted?.peer.nonceChannel, 'alpn');
    const line = await server.logs.waitFor((l) => l['msg'] === 'Attestation accepted');
    t.is(line['hostData'], HOST.toString('hex'));
    t.is(line['tlsVersion'], version);
  });
}

test('openssl s_client: the CertificateRequest names exactly one CA, CN = base64 of the server nonce', async (t) => {
  const server = await startAtlsServer(t);
  const nonce = Buffer.alloc(32, 0x5a);
  const client = runOpenssl([
    's_client',
    '-connect',
    `127.0.0.1:${server.port}`,
    '-tls1_3',
    '-servername',
    nonce.toString('base64'),
    '-alpn',
    `atls:v1:nonce:${nonce.toString('hex')},h2`,
  ]);
  t.teardown(() => client.stop());
  const requested = await server.logs.waitFor((l) => l['msg'] === 'Requesting client attestation');
  t.is(requested['clientNonce'], nonce.toString('hex'));
  t.is(requested['nonceChannel'], 'alpn');
  const serverNonce = Buffer.from(String(requested['serverNonce']), 'hex');
  const block = await client.waitFor(
    /Acceptable client certificate CA names\n(.*\n)+?(Requested|Client Certificate Types|Shared)/,
  );
  const names = block
    .split('\n')
    .slice(1, -1)
    .filter((l) => l.trim() !== '')
    .map((l) => l.replace(/"/g, ''));
  t.deepEqual(names, [`CN = ${serverNonce.toString('base64')}`]);
  await client.waitFor('ALPN protocol: h2');
  // s_client has no certificate to offer: the server turns it away with its own reason.
  const rejected = await server.logs.waitFor((l) => l['msg'] === 'Attestation rejected');
  t.is(rejected['reason'], 'ERR_ATLS_NO_CLIENT_CERT');
});

test('openssl s_client with an ordinary certificate: rejected for the missing attestation extension', async (t) => {
  const server = await startAtlsServer(t);
  const dir = await mkdtemp(join(tmpdir(), `atls-srv-${process.pid}-`));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const cert = await opensslSelfSigned(dir, 'client', '/CN=Contrast');
  const nonce = Buffer.alloc(32, 0x11);
  const client = runOpenssl([
    's_client',
    '-connect',
    `127.0.0.1:${server.port}`,
    '-cert',
    cert.cert,
    '-key',
    cert.key,
    '-servername',
    nonce.toString('base64'),
  ]);
  t.teardown(() => client.stop());
  const rejected = await server.logs.waitFor((l) => l['msg'] === 'Attestation rejected');
  t.is(rejected['reason'], 'ERR_ATLS_NO_DOCUMENT');
  const requested = await server.logs.waitFor((l) => l['msg'] === 'Requesting client attestation');
  t.is(requested['nonceChannel'], 'sni');
});

test('openssl s_client offering another aTLS version is turned away before TLS', async (t) => {
  const server = await startAtlsServer(t);
  const client = runOpenssl([
    's_client',
    '-connect',
    `127.0.0.1:${server.port}`,
    '-alpn',
    `atls:v2:nonce:${'00'.repeat(32)},h2`,
  ]);
  t.teardown(() => client.stop());
  const rejected = await server.logs.waitFor((l) => l['msg'] === 'Attestation rejected');
  t.is(rejected['reason'], 'ERR_ATLS_CLIENT_NONCE');
  t.regex(String(rejected['err']), /atls:v2/);
});

/** Builds a client certificate for the server nonce with a twist. */
type Twist = (ctx: {
  privateKey: KeyObject;
  publicKey: KeyObject;
  serverNonce: Buffer;
}) => Buffer | null | Promise<Buffer | null>;

async function document(publicKey: KeyObject, serverNonce: Buffer): Promise<{ oid: string; value: Uint8Array }> {
  return {
    oid: DOCUMENT_OIDS.insecure,
    value: await new InsecureIssuer(HOST).issue(reportDataFor(spkiDer(publicKey), serverNonce)),
  };
}

const rejections: Array<{ name: string; reason: string; detail?: string; twist: Twist }> = [
  {
    name: 'wrong nonce binding',
    reason: 'ERR_ATLS_DOCUMENT_REJECTED',
    detail: 'ERR_ATTESTATION_REPORT_DATA_MISMATCH',
    twist: async ({ privateKey, publicKey, serverNonce }) =>
      createAtlsCertificate({
        privateKey,
        publicKey,
        document: await document(publicKey, Buffer.from(serverNonce).reverse()),
      }),
  },
  {
    name: 'expired certificate',
    reason: 'ERR_ATLS_CERT_EXPIRED',
    twist: async ({ privateKey, publicKey, serverNonce }) =>
      createAtlsCertificate({
        privateKey,
        publicKey,
        document: await document(publicKey, serverNonce),
        now: new Date(Date.now() - 3 * 3600_000),
      }),
  },
  {
    name: 'certificate not self-signed',
    reason: 'ERR_ATLS_CERT_NOT_SELF_SIGNED',
    twist: async ({ publicKey, serverNonce }) => {
      const other = p256();
      const doc = await document(publicKey, serverNonce);
      return peculiarCert({
        subject: 'CN=Contrast',
        issuer: 'CN=Some CA',
        extensions: [new (await import('@peculiar/x509')).Extension(doc.oid, false, Buffer.from(doc.value))],
        keys: { publicKey, signer: other.privateKey },
      });
    },
  },
  {
    name: 'missing attestation extension',
    reason: 'ERR_ATLS_NO_DOCUMENT',
    twist: ({ privateKey, publicKey }) => createAtlsCertificate({ privateKey, publicKey }),
  },
  {
    name: 'no client certificate',
    reason: 'ERR_ATLS_NO_CLIENT_CERT',
    twist: () => Promise.resolve(null),
  },
];

for (const row of rejections) {
  for (const version of ['TLSv1.3', 'TLSv1.2'] as const) {
    test(`${version}: rejected with a logged reason: ${row.name}`, async (t) => {
      const server = await startAtlsServer(t);
      const { privateKey } = p256();
      const keyDer = privateKey.export({ type: 'pkcs8', format: 'der' });
      const nonce = Buffer.alloc(32, 0x42);
      const connecting = tlsConnect(await dial(server.port), {
        serverName: nonce.toString('base64'),
        alpn: [`atls:v1:nonce:${nonce.toString('hex')}`, 'h2'],
        maxVersion: version,
        async onCertificateRequest(caNames): Promise<ClientCertificate | null> {
          const cert = await row.twist({
            privateKey,
            publicKey: createPublicKey(privateKey),
            serverNonce: serverNonceFrom(caNames),
          });
          return cert === null ? null : { certificate: cert, key: keyDer };
        },
      });
      // The client learns of the rejection either in the handshake or on its first read.
      const err = await connecting.then(
        (stream) =>
          new Promise<Error>((resolve) => {
            stream.once('error', resolve);
            stream.once('end', () => {
              resolve(new Error('stream ended without error'));
            });
            stream.resume();
          }),
        (e: unknown) => e as Error,
      );
      t.true(err instanceof AtlsError, String(err));
      t.is(errorCode(err), 'ERR_ATLS_REJECTED');
      const line = await server.logs.waitFor((l) => l['msg'] === 'Attestation rejected');
      t.is(line['reason'], row.reason);
      if (row.detail !== undefined) t.is(line['detail'], row.detail);
      t.is(server.accepted.length, 0);
    });
  }
}

test('a validator that never answers runs into the handshake budget (ERR_ATLS_HANDSHAKE_TIMEOUT)', async (t) => {
  const stuck: Validator = {
    kind: 'insecure',
    oid: DOCUMENT_OIDS.insecure,
    validate: () =>
      new Promise(() => {
        /* never */
      }),
  };
  const server = await startAtlsServer(t, { validators: [stuck], handshakeTimeoutMs: 4000 });
  const { privateKey } = p256();
  const stream = await atlsConnect(await dial(server.port), { issuer: new InsecureIssuer(HOST), privateKey });
  const err = await new Promise<Error>((resolve) => {
    stream.once('error', resolve);
    stream.resume();
  });
  t.is(errorCode(err), 'ERR_ATLS_REJECTED');
  const line = await server.logs.waitFor((l) => l['msg'] === 'Attestation rejected');
  t.is(line['reason'], 'ERR_ATLS_HANDSHAKE_TIMEOUT');
});

test('the server attests itself over the client nonce when given an issuer', async (t) => {
  const server = await startAtlsServer(t, { issuer: new InsecureIssuer(Buffer.alloc(32, 0xcc)) });
  const { privateKey } = p256();
  const nonce = Buffer.alloc(32, 0x77);
  const stream = await atlsConnect(await dial(server.port), { issuer: new InsecureIssuer(HOST), privateKey, nonce });
  t.teardown(() => stream.destroy());
  const peer = stream.tlsInfo.peerCertificate;
  t.truthy(peer);
  const inspected = inspectAtlsCertificate(peer ?? Buffer.alloc(0));
  const doc = await new InsecureValidator().validate(
    inspected.documents[0]?.value ?? Buffer.alloc(0),
    reportDataFor(inspected.spki, nonce),
  );
  t.deepEqual(Buffer.from(doc.hostData), Buffer.alloc(32, 0xcc));
});

test('a client that sends nothing, or no TLS at all, is turned away with its own reason', async (t) => {
  const server = await startAtlsServer(t, { handshakeTimeoutMs: 400 });
  const idle = await dial(server.port);
  t.teardown(() => idle.destroy());
  const timeout = await server.logs.waitFor((l) => l['msg'] === 'Attestation rejected');
  t.is(timeout['reason'], 'ERR_ATLS_HANDSHAKE_TIMEOUT');
  const other = await startAtlsServer(t);
  const http = await dial(other.port);
  t.teardown(() => http.destroy());
  http.write('GET / HTTP/1.1\r\nHost: coordinator\r\n\r\n');
  const garbage = await other.logs.waitFor((l) => l['msg'] === 'Attestation rejected');
  t.is(garbage['reason'], 'ERR_ATLS_CLIENT_HELLO');
  t.regex(String(garbage['err']), /expected a handshake record/);
  await new Promise<void>((resolve) => {
    http.once('close', () => {
      resolve();
    });
    http.resume();
  });
});
