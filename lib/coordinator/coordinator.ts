/**
 * The development Coordinator: the MeshAPI (`/meshapi.MeshAPI/NewMeshCert`) over mutual aTLS, like the
 * upstream Coordinator's port 7777, for local end-to-end runs and tests.
 *
 * Handshake: lib/coordinator/atls-server (client attestation validated before the connection reaches gRPC).
 * NewMeshCert: the policy is looked up by the peer's host data (missing -> PERMISSION_DENIED "policy
 * hash <hex> not found in manifest"), a mesh certificate is issued for the peer's TLS key, CertChain =
 * leaf then intermediate, and the workload secret is derived when the policy names a WorkloadSecretID.
 */
import { X509Certificate } from 'node:crypto';
import type { AddressInfo, Socket } from 'node:net';
import { Server, ServerCredentials, status as GrpcStatus } from '@grpc/grpc-js';
import type { Issuer, Validator } from '../attestation/types.js';
import { ConfigError } from '../errors.js';
import type { Logger } from '../log.js';
import { createAtlsServer, type AttestedPeer } from './atls-server.js';
import { MeshApiStatus, meshApiDefinition, meshApiImplementation } from '../meshapi/service.js';
import type { NewMeshCertResponse } from '../meshapi/wire.js';
import { issueMeshCert } from './mesh-cert.js';
import { snpClaims } from './snp-claims.js';
import { decodeSnpDocument } from '../attestation/snp-document.js';
import { toPem } from '../x509/pem.js';
import { deriveWorkloadSecret } from './workload-secret.js';
import type { DevManifest } from './manifest.js';
import { prepareState, rotateMeshCa, type CoordinatorState } from './state.js';

export interface CoordinatorOptions {
  /** HOST:PORT ([v6]:PORT for IPv6; port 0 picks a free one). */
  listen: string;
  manifest: DevManifest;
  stateDir: string;
  validators: Validator[];
  logger: Logger;
  /** Attests the Coordinator to its clients (initializers ignore it); omitted: no document. */
  issuer?: Issuer;
  /** Lowest TLS version accepted; default TLSv1.3 like upstream E3 (TLSv1.2 for E1/E2-era clients). */
  minVersion?: 'TLSv1.2' | 'TLSv1.3';
}

export interface RunningCoordinator {
  address: string;
  port: number;
  /** Replaces the mesh CA (new key, same root); later answers carry it. Resolves with its PEM. */
  rotate(): Promise<string>;
  close(): Promise<void>;
}

/** Splits HOST:PORT; throws ConfigError naming `what`. */
export function parseListen(value: string, what = '--listen'): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(value);
  const port = m === null ? NaN : Number(m[3]);
  if (m === null || !(port >= 0 && port <= 65535))
    throw new ConfigError([`${what}=${value}: expected HOST:PORT (e.g. 127.0.0.1:7777 or [::1]:7777)`]);
  return { host: m[1] ?? m[2] ?? '', port };
}

function fingerprint(pem: string): string {
  return new X509Certificate(pem).fingerprint256;
}

function peerKey(address: string | undefined, port: number | undefined): string {
  return `${address ?? ''}:${String(port ?? '')}`;
}

/** Report claims copied into the mesh certificate (SEV-SNP; TDX claims are not implemented). */
function claimsOf(peer: AttestedPeer): Array<{ oid: string; value: Buffer }> {
  if (peer.document.kind !== 'snp') return [];
  return snpClaims(decodeSnpDocument(peer.rawDocument.value).report);
}

function answer(
  peer: AttestedPeer | undefined,
  manifest: DevManifest,
  state: CoordinatorState,
  log: Logger,
  remote: string,
): NewMeshCertResponse {
  if (peer === undefined) throw new MeshApiStatus(GrpcStatus.UNAUTHENTICATED, 'no attested peer for this connection');
  const hostData = Buffer.from(peer.document.hostData).toString('hex');
  const policy = manifest.policies.get(hostData);
  if (policy === undefined) {
    log.warn({ remote, reason: 'ERR_POLICY_NOT_FOUND', hostData, kind: peer.document.kind }, 'NewMeshCert denied');
    throw new MeshApiStatus(GrpcStatus.PERMISSION_DENIED, `policy hash ${hostData} not found in manifest`);
  }
  const leaf = issueMeshCert({
    extraExtensions: claimsOf(peer),
    issuerKey: state.meshCAKey,
    subjectPublicKey: peer.publicKey,
    sans: policy.sans,
    ...(policy.workloadSecretID === undefined ? {} : { workloadSecretID: policy.workloadSecretID }),
  });
  const workloadSecret =
    policy.workloadSecretID === undefined
      ? Buffer.alloc(0)
      : deriveWorkloadSecret(state.seed, state.salt, policy.workloadSecretID);
  log.info(
    { remote, hostData, kind: peer.document.kind, sans: policy.sans, workloadSecretID: policy.workloadSecretID },
    'Issued mesh certificate',
  );
  return {
    meshCACert: Buffer.from(state.meshCAPem),
    certChain: Buffer.from(toPem(leaf, 'CERTIFICATE') + state.intermediatePem),
    rootCACert: Buffer.from(state.rootCAPem),
    workloadSecret,
  };
}

export async function startCoordinator(opts: CoordinatorOptions): Promise<RunningCoordinator> {
  const { host, port } = parseListen(opts.listen);
  if (opts.validators.length === 0)
    throw new ConfigError(['manifest referenceValues: accept no attestation document kind']);
  const log = opts.logger;
  let state = await prepareState(opts.stateDir);
  const peers = new Map<string, AttestedPeer>();
  const sockets = new Set<Socket>();

  const grpcServer = new Server({ 'grpc.keepalive_time_ms': 15_000 });
  grpcServer.addService(
    meshApiDefinition,
    meshApiImplementation((remote) => answer(peers.get(remote), opts.manifest, state, log, remote)),
  );
  const injector = grpcServer.createConnectionInjector(ServerCredentials.createInsecure());

  const atlsServer = createAtlsServer({
    validators: opts.validators,
    // Attestation decisions are this program's main log: not behind a subsystem opt-in.
    logger: log,
    minVersion: opts.minVersion ?? 'TLSv1.3',
    ...(opts.issuer === undefined ? {} : { issuer: opts.issuer }),
    onConnection(socket, peer) {
      const key = peerKey(socket.remoteAddress, socket.remotePort);
      peers.set(key, peer);
      sockets.add(socket);
      socket.once('close', () => {
        peers.delete(key);
        sockets.delete(socket);
      });
      injector.injectConnection(socket);
    },
  });
  atlsServer.on('error', (err) => {
    log.error({ err: err.message }, 'Mesh API listener failed');
  });
  await new Promise<void>((resolve, reject) => {
    atlsServer.once('error', reject);
    atlsServer.listen(port, host, () => {
      atlsServer.off('error', reject);
      resolve();
    });
  });
  const addr = atlsServer.address() as AddressInfo;
  log.info(
    {
      address: addr.address,
      port: addr.port,
      minTlsVersion: opts.minVersion ?? 'TLSv1.3',
      stateDir: opts.stateDir,
      policies: opts.manifest.policies.size,
      accepts: opts.validators.map((v) => v.kind),
    },
    'Coordinator mesh API listening',
  );
  return {
    address: addr.address,
    port: addr.port,
    rotate: async () => {
      const previous = state;
      state = await rotateMeshCa(opts.stateDir, state);
      log.info(
        {
          oldMeshCA: fingerprint(previous.meshCAPem),
          newMeshCA: fingerprint(state.meshCAPem),
          root: fingerprint(state.rootCAPem),
        },
        'Mesh CA rotated (same root)',
      );
      return state.meshCAPem;
    },
    close: async () => {
      await new Promise<void>((resolve) => {
        atlsServer.close(() => {
          resolve();
        });
        for (const s of sockets) s.destroy();
        injector.destroy();
        grpcServer.forceShutdown();
      });
    },
  };
}
