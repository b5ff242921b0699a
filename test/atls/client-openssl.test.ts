/**
 * Our aTLS client (OpenSSL session in the addon) against `openssl s_server`, a TLS stack we did not
 * write, configured to send one CA name whose CN is a base64 nonce.
 */
import 'reflect-metadata';
import test from 'ava';
import { connect, type Socket } from 'node:net';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateKeyPairSync, randomBytes, X509Certificate as NodeX509 } from 'node:crypto';
import { X509Certificate } from '@peculiar/x509';
import { atlsConnect } from '../../lib/atls/client.js';
import { reportDataFor } from '../../lib/atls/report-data.js';
import { InsecureIssuer } from '../../lib/attestation/insecure.js';
import {
  freePort,
  opensslSelfSigned,
  runOpenssl,
  sServerArgs,
  subjEscape,
  type OpensslPeer,
} from './helpers/openssl-peer.js';
import type { TlsVersion } from '../../lib/native/tls.js';
import { AtlsError } from '../../lib/atls/errors.js';
import { errorCode } from '../../lib/errors.js';

interface Setup {
  dir: string;
  port: number;
  serverNonce: Buffer;
  server: OpensslPeer;
}

async function startServer(
  t: { teardown(fn: () => Promise<void> | void): void },
  extra: string[] = [],
  version?: TlsVersion,
): Promise<Setup & { clientNonce: Buffer }> {
  const dir = await mkdtemp(join(tmpdir(), `atls-ossl-${process.pid}-`));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const serverNonce = randomBytes(32);
  const clientNonce = randomBytes(32);
  const names = await opensslSelfSigned(dir, 'names', `/CN=${subjEscape(serverNonce.toString('base64'))}`);
  const srv = await opensslSelfSigned(dir, 'server', '/CN=server');
  const port = await freePort();
  const args = sServerArgs(
    port,
    srv,
    '-CAfile',
    names.cert,
    '-alpn',
    'h2',
    // a second "virtual host" makes s_server log the SNI it received (a different name: no context switch)
    '-servername',
    'other.invalid',
    '-cert2',
    srv.cert,
    '-key2',
    srv.key,
  );
  if (version === 'TLSv1.2') args.push('-tls1_2');
  if (version === 'TLSv1.3') args.push('-tls1_3');
  const server = runOpenssl([...args, ...extra]);
  t.teardown(() => server.stop());
  await server.waitFor('ACCEPT');
  return { dir, port, serverNonce, server, clientNonce };
}

function dial(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect(port, '127.0.0.1', () => {
      resolve(s);
    });
    s.once('error', reject);
  });
}

for (const version of ['TLSv1.3', 'TLSv1.2'] as const) {
  test(`${version}: client reads the server nonce, attests over it, and sends SNI and ALPN`, async (t) => {
    const { port, serverNonce, clientNonce, server } = await startServer(t, [], version);
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const issuer = new InsecureIssuer(Buffer.alloc(32, 7));
    const socket = await dial(port);
    const stream = await atlsConnect(socket, { issuer, privateKey, nonce: clientNonce, timeoutMs: 10_000 });
    t.teardown(() => stream.destroy());
    t.is(stream.tlsInfo.version, version);
    t.is(stream.alpnProtocol, 'h2');
    t.true(stream.tlsInfo.certificateRequested);

    // s_server logged what we sent in the ClientHello.
    await server.waitFor(`Hostname in TLS extension: "${clientNonce.toString('base64')}"`);
    await server.waitFor(`ALPN protocols advertised by the client: atls:v1:nonce:${clientNonce.toString('hex')}, h2`);

    // The certificate s_server received carries a document bound to the nonce it sent.
    const pem = await server.waitFor(/Client certificate\n-----BEGIN CERTIFICATE-----[^]*?-----END CERTIFICATE-----/);
    const clientCert = new X509Certificate(pem.slice(pem.indexOf('-----BEGIN')));
    const ext = clientCert.getExtension('1.3.9901.2.3');
    t.truthy(ext);
    t.false(ext?.critical);
    const doc = JSON.parse(Buffer.from(ext?.value ?? new ArrayBuffer(0)).toString()) as { reportData: string };
    const spki = publicKey.export({ type: 'spki', format: 'der' });
    t.deepEqual(Buffer.from(doc.reportData, 'base64'), reportDataFor(spki, serverNonce));
    t.is(clientCert.subject, 'CN=Contrast');
    t.is(clientCert.issuer, 'CN=Contrast');
    t.is(clientCert.extensions.length, 1);
    const node = new NodeX509(pem.slice(pem.indexOf('-----BEGIN')));
    t.true(node.verify(node.publicKey));
    t.true(node.publicKey.equals(publicKey));

    // Application data flows both ways.
    stream.write('hello from the aTLS client\n');
    await server.waitFor('hello from the aTLS client');
    const got = new Promise<string>((resolve) =>
      stream.once('data', (d: Buffer) => {
        resolve(d.toString());
      }),
    );
    server.child.stdin.write('hello from s_server\n');
    t.is(await got, 'hello from s_server\n');
  });
}

test('TLS 1.3: a server that rejects the certificate surfaces as ERR_ATLS_REJECTED on the first read', async (t) => {
  const { port, clientNonce } = await startServer(t, ['-verify_return_error'], 'TLSv1.3');
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const socket = await dial(port);
  const stream = await atlsConnect(socket, {
    issuer: new InsecureIssuer(Buffer.alloc(32)),
    privateKey,
    nonce: clientNonce,
    timeoutMs: 10_000,
  });
  const err = await new Promise<Error>((resolve) => stream.once('error', resolve));
  t.true(err instanceof AtlsError);
  t.is(errorCode(err), 'ERR_ATLS_REJECTED');
  t.regex(err.message, /unknown CA|alert/i);
});

test('TLS 1.2: a server that rejects the certificate fails the handshake with ERR_ATLS_REJECTED', async (t) => {
  const { port, clientNonce } = await startServer(t, ['-verify_return_error'], 'TLSv1.2');
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const socket = await dial(port);
  const err = await t.throwsAsync(
    atlsConnect(socket, {
      issuer: new InsecureIssuer(Buffer.alloc(32)),
      privateKey,
      nonce: clientNonce,
      timeoutMs: 10_000,
    }),
    { instanceOf: AtlsError },
  );
  t.is(err.code, 'ERR_ATLS_REJECTED');
});

test('a CertificateRequest without exactly one CA name fails with ERR_ATLS_SERVER_NONCE', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), `atls-ossl-${process.pid}-`));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const srv = await opensslSelfSigned(dir, 'server', '/CN=server');
  const port = await freePort();
  // No -CAfile: the CertificateRequest names no CA at all.
  const server = runOpenssl(sServerArgs(port, srv));
  t.teardown(() => server.stop());
  await server.waitFor('ACCEPT');
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const socket = await dial(port);
  const err = await t.throwsAsync(
    atlsConnect(socket, { issuer: new InsecureIssuer(Buffer.alloc(32)), privateKey, timeoutMs: 10_000 }),
    { instanceOf: AtlsError },
  );
  t.is(err.code, 'ERR_ATLS_SERVER_NONCE');
  t.regex(err.message, /got 0/);
});

test('a server that never answers runs into ERR_ATLS_HANDSHAKE_TIMEOUT', async (t) => {
  const { createServer } = await import('node:net');
  const sockets: Socket[] = [];
  const silent = createServer((s) => sockets.push(s));
  await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
  t.teardown(() => {
    sockets.forEach((s) => s.destroy());
    silent.close();
  });
  const addr = silent.address();
  if (addr === null || typeof addr !== 'object') throw new Error('no address');
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const socket = await dial(addr.port);
  const err = await t.throwsAsync(
    atlsConnect(socket, { issuer: new InsecureIssuer(Buffer.alloc(32)), privateKey, timeoutMs: 300 }),
    { instanceOf: AtlsError },
  );
  t.is(err.code, 'ERR_ATLS_HANDSHAKE_TIMEOUT');
  t.true(socket.destroyed);
});

test('a server that resets the connection yields a typed close error', async (t) => {
  const { createServer } = await import('node:net');
  const rude = createServer((s) => s.once('data', () => s.resetAndDestroy()));
  await new Promise<void>((resolve) => rude.listen(0, '127.0.0.1', resolve));
  t.teardown(() => {
    rude.close();
  });
  const addr = rude.address();
  if (addr === null || typeof addr !== 'object') throw new Error('no address');
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const socket = await dial(addr.port);
  const err = await t.throwsAsync(
    atlsConnect(socket, { issuer: new InsecureIssuer(Buffer.alloc(32)), privateKey, timeoutMs: 5000 }),
    { instanceOf: AtlsError },
  );
  t.is(err.code, 'ERR_ATLS_CONNECTION_RESET');
});

test('TLS 1.3 with a HelloRetryRequest (server insists on P-384 key shares)', async (t) => {
  const { port, serverNonce, clientNonce, server } = await startServer(
    t,
    ['-groups', 'secp384r1', '-trace'],
    'TLSv1.3',
  );
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const stream = await atlsConnect(await dial(port), {
    issuer: new InsecureIssuer(Buffer.alloc(32, 1)),
    privateKey,
    nonce: clientNonce,
    timeoutMs: 10_000,
  });
  t.teardown(() => stream.destroy());
  t.is(stream.tlsInfo.version, 'TLSv1.3');
  // RFC 8446 §4.1.3: a HelloRetryRequest is a ServerHello with this fixed random (s_server -trace prints its tail).
  t.regex(server.output(), /E59A6111BE1D8C021E65B891C2A211167ABB8C5E079E09E2C8A8339C/);
  const pem = await server.waitFor(/Client certificate\n-----BEGIN CERTIFICATE-----[^]*?-----END CERTIFICATE-----/);
  const doc = JSON.parse(
    Buffer.from(
      new X509Certificate(pem.slice(pem.indexOf('-----BEGIN'))).getExtension('1.3.9901.2.3')?.value ??
        new ArrayBuffer(0),
    ).toString(),
  ) as { reportData: string };
  t.deepEqual(
    Buffer.from(doc.reportData, 'base64'),
    reportDataFor(publicKey.export({ type: 'spki', format: 'der' }), serverNonce),
  );
});
