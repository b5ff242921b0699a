/**
 * NewMeshCert end to end: our client (OpenSSL session in the addon, grpc-js over the aTLS stream)
 * against the development Coordinator (node:tls server, grpc-js server), TLS 1.3 and 1.2, and the
 * error mapping for each failure an operator can meet.
 */
import 'reflect-metadata';
import test from 'ava';
import { createPublicKey, generateKeyPairSync, X509Certificate, type KeyObject } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer, type AddressInfo, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Server, ServerCredentials } from '@grpc/grpc-js';
import { InsecureIssuer, InsecureValidator } from '../../lib/attestation/insecure.js';
import type { Validator } from '../../lib/attestation/types.js';
import { DOCUMENT_OIDS } from '../../lib/attestation/types.js';
import { createAtlsServer } from '../../lib/coordinator/atls-server.js';
import { MeshApiError, newMeshCert } from '../../lib/meshapi/client.js';
import { meshApiDefinition, meshApiImplementation } from '../../lib/meshapi/service.js';
import { pemBlocks } from '../../lib/x509/pem.js';
import { startCoordinator } from '../../lib/coordinator/coordinator.js';
import { parseManifest } from '../../lib/coordinator/manifest.js';
import {
  decodeNewMeshCertRequest,
  encodeNewMeshCertResponse,
  NEW_MESH_CERT_PATH,
  type NewMeshCertResponse,
} from '../../lib/meshapi/wire.js';
import type { ServerWritableStream, ServiceDefinition } from '@grpc/grpc-js';
import { captureLogs, type LogCapture } from '../atls/helpers/harness.js';
import { opensslHkdf, runOpenssl } from '../atls/helpers/openssl-peer.js';

const HOST = 'ab'.repeat(32);
const NO_SECRET_HOST = 'cd'.repeat(32);
const UNKNOWN_HOST = 'ef'.repeat(32);
const SECRET_ID = 'apps/v1/Deployment/default/web';

type T = { teardown(fn: () => void | Promise<void>): void };

async function coordinator(
  t: T,
  validators: Validator[] = [new InsecureValidator()],
  minVersion: 'TLSv1.2' | 'TLSv1.3' = 'TLSv1.2',
): Promise<{ target: string; stateDir: string; logs: LogCapture }> {
  const stateDir = await mkdtemp(join(tmpdir(), `dev-coord-${process.pid}-`));
  t.teardown(() => rm(stateDir, { recursive: true, force: true }));
  const manifest = parseManifest(
    JSON.stringify({
      policies: {
        [HOST]: { sans: ['web', '*', '10.1.2.3', 'spiffe://contrast/web'], workloadSecretID: SECRET_ID },
        [NO_SECRET_HOST]: { SANs: ['db'] },
      },
      referenceValues: { allowInsecure: true },
    }),
    'test-manifest.json',
  );
  const logs = captureLogs();
  const c = await startCoordinator({
    listen: '127.0.0.1:0',
    manifest,
    stateDir,
    validators,
    logger: logs.logger,
    minVersion,
  });
  t.teardown(() => c.close());
  return { target: `127.0.0.1:${c.port}`, stateDir, logs };
}

/**
 * Serves `grpcServer` behind an aTLS server on loopback (InsecureValidator), both shut at teardown: a
 * Coordinator whose answers the test writes. Returns the target.
 */
async function serveOverAtls(t: T, grpcServer: Server, logs: LogCapture): Promise<string> {
  const injector = grpcServer.createConnectionInjector(ServerCredentials.createInsecure());
  const server = createAtlsServer({
    validators: [new InsecureValidator()],
    logger: logs.logger,
    onConnection: (s) => {
      injector.injectConnection(s);
    },
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => {
    server.close();
    grpcServer.forceShutdown();
  });
  return `127.0.0.1:${(server.address() as AddressInfo).port}`;
}

function p256(): KeyObject {
  return generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
}

for (const version of ['TLSv1.3', 'TLSv1.2'] as const) {
  test(`${version}: NewMeshCert returns certificates for our own key and the derived workload secret`, async (t) => {
    const { target, stateDir, logs } = await coordinator(t);
    const privateKey = p256();
    const certs = await newMeshCert({
      target,
      issuer: new InsecureIssuer(Buffer.from(HOST, 'hex')),
      privateKey,
      tlsMaxVersion: version,
      connectTimeoutMs: 20_000,
    });

    // What the client got is what the Coordinator wrote to its state directory.
    t.deepEqual(certs.meshCACert, await readFile(join(stateDir, 'mesh-ca.pem')));
    t.deepEqual(certs.rootCACert, await readFile(join(stateDir, 'root-ca.pem')));
    const [leafDer, intermediateDer, extra] = pemBlocks(certs.certChain, 'CERTIFICATE', 'CertChain');
    t.is(extra, undefined);
    const leaf = new X509Certificate(leafDer ?? Buffer.alloc(0));
    const intermediate = new X509Certificate(intermediateDer ?? Buffer.alloc(0));
    const meshCA = new X509Certificate(certs.meshCACert);
    const root = new X509Certificate(certs.rootCACert);
    t.true(leaf.publicKey.equals(createPublicKey(privateKey)));
    t.true(leaf.verify(meshCA.publicKey));
    t.true(intermediate.verify(root.publicKey));
    t.is(leaf.subjectAltName, 'DNS:web, DNS:*, IP Address:10.1.2.3, URI:spiffe://contrast/web');

    // The workload secret, recomputed with openssl's HKDF from the Coordinator's seed and salt.
    const secrets = JSON.parse(await readFile(join(stateDir, 'secrets.json'), 'utf8')) as {
      seed: string;
      salt: string;
    };
    const salt = Buffer.from(secrets.salt, 'hex');
    const podState = await opensslHkdf(Buffer.from(secrets.seed, 'hex'), salt, 'POD STATE SECRET');
    t.deepEqual(certs.workloadSecret, await opensslHkdf(podState, salt, `WORKLOAD SECRET ID: ${SECRET_ID}`));
    t.is(certs.workloadSecret.length, 64);

    const issued = await logs.waitFor((l) => l['msg'] === 'Issued mesh certificate');
    t.is(issued['hostData'], HOST);
    const accepted = await logs.waitFor((l) => l['msg'] === 'Attestation accepted');
    t.is(accepted['tlsVersion'], version);
  });
}

test('the Coordinator defaults to TLS 1.3 only: a TLS 1.2 client is turned away', async (t) => {
  const stateDir = await mkdtemp(join(tmpdir(), `dev-coord-${process.pid}-`));
  t.teardown(() => rm(stateDir, { recursive: true, force: true }));
  const manifest = parseManifest(
    JSON.stringify({ policies: { [HOST]: { sans: ['web'] } }, referenceValues: { allowInsecure: true } }),
    'm.json',
  );
  const logs = captureLogs();
  const c = await startCoordinator({
    listen: '127.0.0.1:0',
    manifest,
    stateDir,
    validators: [new InsecureValidator()],
    logger: logs.logger,
  });
  t.teardown(() => c.close());
  const issuer = new InsecureIssuer(Buffer.from(HOST, 'hex'));
  const err = await t.throwsAsync(
    newMeshCert({ target: `127.0.0.1:${c.port}`, issuer, privateKey: p256(), tlsMaxVersion: 'TLSv1.2' }),
    { instanceOf: MeshApiError },
  );
  t.is(err.code, 'ERR_ATLS_HANDSHAKE_REJECTED');
  t.regex(err.message, /protocol version/);
  const certs = await newMeshCert({ target: `127.0.0.1:${c.port}`, issuer, privateKey: p256() });
  t.true(certs.certChain.length > 0);
});

test('the leaf chains with openssl verify: to the mesh CA, and through the intermediate to the root', async (t) => {
  const { target, stateDir } = await coordinator(t);
  const certs = await newMeshCert({ target, issuer: new InsecureIssuer(Buffer.from(HOST, 'hex')), privateKey: p256() });
  const [leaf, intermediate] = pemBlocks(certs.certChain, 'CERTIFICATE', 'CertChain');
  const { writeFile } = await import('node:fs/promises');
  const toPemFile = async (name: string, der: Buffer | undefined): Promise<string> => {
    const path = join(stateDir, name);
    await writeFile(
      path,
      `-----BEGIN CERTIFICATE-----\n${(der ?? Buffer.alloc(0)).toString('base64')}\n-----END CERTIFICATE-----\n`,
    );
    return path;
  };
  const leafPath = await toPemFile('leaf.pem', leaf);
  const interPath = await toPemFile('inter.pem', intermediate);
  for (const args of [
    ['verify', '-purpose', 'sslclient', '-CAfile', join(stateDir, 'mesh-ca.pem'), leafPath],
    ['verify', '-purpose', 'sslserver', '-CAfile', join(stateDir, 'root-ca.pem'), '-untrusted', interPath, leafPath],
  ]) {
    const p = runOpenssl(args);
    t.is(await p.exited, 0, p.output());
    t.regex(p.output(), /: OK/);
  }
});

test('no WorkloadSecretID: empty workload secret', async (t) => {
  const { target } = await coordinator(t);
  const certs = await newMeshCert({
    target,
    issuer: new InsecureIssuer(Buffer.from(NO_SECRET_HOST, 'hex')),
    privateKey: p256(),
  });
  t.is(certs.workloadSecret.length, 0);
  t.is(new X509Certificate(pemBlocks(certs.certChain, 'CERTIFICATE', 'x')[0] ?? Buffer.alloc(0)).subject, 'CN=db');
});

test('unknown host data: ERR_MESHAPI_PERMISSION_DENIED, and the Coordinator logs why', async (t) => {
  const { target, logs } = await coordinator(t);
  const err = await t.throwsAsync(
    newMeshCert({ target, issuer: new InsecureIssuer(Buffer.from(UNKNOWN_HOST, 'hex')), privateKey: p256() }),
    { instanceOf: MeshApiError },
  );
  t.is(err.code, 'ERR_MESHAPI_PERMISSION_DENIED');
  t.regex(err.message, new RegExp(`policy hash ${UNKNOWN_HOST} not found in manifest`));
  const line = await logs.waitFor((l) => l['msg'] === 'NewMeshCert denied');
  t.is(line['reason'], 'ERR_POLICY_NOT_FOUND');
  t.is(line['hostData'], UNKNOWN_HOST);
});

test('attestation rejected by the Coordinator: ERR_ATLS_HANDSHAKE_REJECTED', async (t) => {
  const refusing: Validator = {
    kind: 'insecure',
    oid: DOCUMENT_OIDS.insecure,
    validate: () =>
      Promise.reject(Object.assign(new Error('measurement not in reference values'), { code: 'ERR_TEST_REFUSED' })),
  };
  const { target, logs } = await coordinator(t, [refusing]);
  const err = await t.throwsAsync(
    newMeshCert({ target, issuer: new InsecureIssuer(Buffer.from(HOST, 'hex')), privateKey: p256() }),
    { instanceOf: MeshApiError },
  );
  t.is(err.code, 'ERR_ATLS_HANDSHAKE_REJECTED');
  const line = await logs.waitFor((l) => l['msg'] === 'Attestation rejected');
  t.is(line['reason'], 'ERR_ATLS_DOCUMENT_REJECTED');
  t.is(line['detail'], 'ERR_TEST_REFUSED');
});

test('nothing listening: ERR_MESHAPI_UNAVAILABLE', async (t) => {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const port = (probe.address() as AddressInfo).port;
  await new Promise<void>((resolve) =>
    probe.close(() => {
      resolve();
    }),
  );
  const err = await t.throwsAsync(
    newMeshCert({
      target: `127.0.0.1:${port}`,
      issuer: new InsecureIssuer(Buffer.from(HOST, 'hex')),
      privateKey: p256(),
      connectTimeoutMs: 5000,
    }),
    { instanceOf: MeshApiError },
  );
  t.is(err.code, 'ERR_MESHAPI_UNAVAILABLE');
  t.regex(err.message, new RegExp(`127\\.0\\.0\\.1:${port}`));
});

test('a server that accepts but never speaks TLS: ERR_MESHAPI_TIMEOUT', async (t) => {
  const sockets: Socket[] = [];
  const silent = createServer((s) => {
    sockets.push(s);
  });
  await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
  t.teardown(() => {
    sockets.forEach((s) => s.destroy());
    silent.close();
  });
  const port = (silent.address() as AddressInfo).port;
  const err = await t.throwsAsync(
    newMeshCert({
      target: `127.0.0.1:${port}`,
      issuer: new InsecureIssuer(Buffer.from(HOST, 'hex')),
      privateKey: p256(),
      connectTimeoutMs: 800,
    }),
    { instanceOf: MeshApiError },
  );
  t.is(err.code, 'ERR_MESHAPI_TIMEOUT');
});

test('a response with missing fields or a leaf for another key: ERR_MESHAPI_MALFORMED', async (t) => {
  const logs = captureLogs();
  const grpcServer = new Server();
  let respond = (): { meshCACert: Buffer; certChain: Buffer; rootCACert: Buffer; workloadSecret: Buffer } => ({
    meshCACert: Buffer.alloc(0),
    certChain: Buffer.alloc(0),
    rootCACert: Buffer.alloc(0),
    workloadSecret: Buffer.alloc(0),
  });
  grpcServer.addService(
    meshApiDefinition,
    meshApiImplementation(() => Promise.resolve(respond())),
  );
  const target = await serveOverAtls(t, grpcServer, logs);
  const issuer = new InsecureIssuer(Buffer.from(HOST, 'hex'));
  const e1 = await t.throwsAsync(newMeshCert({ target, issuer, privateKey: p256() }), { instanceOf: MeshApiError });
  t.is(e1.code, 'ERR_MESHAPI_MALFORMED');
  t.regex(e1.message, /MeshCACert/);

  // Well-formed PEM, but the leaf is for someone else's key.
  const other = await newMeshCert({ target: (await coordinator(t)).target, issuer, privateKey: p256() });
  respond = () => ({
    meshCACert: other.meshCACert,
    certChain: other.certChain,
    rootCACert: other.rootCACert,
    workloadSecret: Buffer.alloc(0),
  });
  const e2 = await t.throwsAsync(newMeshCert({ target, issuer, privateKey: p256() }), { instanceOf: MeshApiError });
  t.is(e2.code, 'ERR_MESHAPI_MALFORMED');
  t.regex(e2.message, /not for our key/);
});

test('a response stream with two messages is a protocol violation, reported at once (not at the deadline)', async (t) => {
  const logs = captureLogs();
  const issuer = new InsecureIssuer(Buffer.from(HOST, 'hex'));
  const privateKey = p256();
  // A real answer from the development Coordinator, sent twice on the same call by a hostile one.
  const good = await newMeshCert({ target: (await coordinator(t)).target, issuer, privateKey });
  const twice: ServiceDefinition = {
    NewMeshCert: {
      path: NEW_MESH_CERT_PATH,
      requestStream: false,
      responseStream: true,
      requestSerialize: () => Buffer.alloc(0),
      requestDeserialize: (b: Buffer) => decodeNewMeshCertRequest(b),
      responseSerialize: (r: NewMeshCertResponse) => encodeNewMeshCertResponse(r),
      responseDeserialize: (b: Buffer) => b,
      originalName: 'NewMeshCert',
    },
  };
  const grpcServer = new Server();
  let calls = 0;
  grpcServer.addService(twice, {
    NewMeshCert: (call: ServerWritableStream<unknown, NewMeshCertResponse>) => {
      calls++;
      call.write(good);
      call.write(good);
      call.end();
    },
  });
  const target = await serveOverAtls(t, grpcServer, logs);
  // A generous deadline: a client that waits for it reports ERR_MESHAPI_TIMEOUT instead.
  const err = await t.throwsAsync(newMeshCert({ target, issuer, privateKey, connectTimeoutMs: 120_000 }), {
    instanceOf: MeshApiError,
  });
  t.is(err.code, 'ERR_MESHAPI_PROTOCOL');
  t.regex(err.message, /second NewMeshCert response message/);
  t.is(calls, 1);
});

test('an aborted signal: ERR_MESHAPI_ABORTED', async (t) => {
  const { target } = await coordinator(t);
  const ac = new AbortController();
  ac.abort();
  const err = await t.throwsAsync(
    newMeshCert({
      target,
      issuer: new InsecureIssuer(Buffer.from(HOST, 'hex')),
      privateKey: p256(),
      signal: ac.signal,
    }),
    { instanceOf: MeshApiError },
  );
  t.is(err.code, 'ERR_MESHAPI_ABORTED');
});
