/**
 * MeshAPI client: one `NewMeshCert` call over grpc-js on an aTLS connection. The connection is closed
 * after the attempt; retrying is the caller's business (the key stays the same across attempts).
 */
import { createPublicKey, X509Certificate, type KeyObject } from 'node:crypto';
import { Client, Metadata, status as GrpcStatus, type ServiceError } from '@grpc/grpc-js';
import type { Issuer } from '../attestation/types.js';
import { type Logger, silentLogger } from '../log.js';
import { atlsConnect } from '../atls/client.js';
import { pemBlocks, toPem } from '../x509/pem.js';
import type { TlsVersion } from '../native/tls.js';
import { AtlsChannelCredentials } from './credentials.js';
import { MeshApiError } from './errors.js';
import {
  decodeNewMeshCertResponse,
  encodeNewMeshCertRequest,
  NEW_MESH_CERT_PATH,
  type NewMeshCertResponse,
} from './wire.js';
import { errorCode, errorMessage } from '../errors.js';

export { MeshApiError, type MeshApiErrorCode } from './errors.js';

export interface MeshCerts {
  meshCACert: Buffer;
  certChain: Buffer;
  rootCACert: Buffer;
  workloadSecret: Buffer;
}

export interface NewMeshCertOptions {
  /** host:port of the Coordinator's mesh API. */
  target: string;
  issuer: Issuer;
  /** P-256 key; TLS client key and the key the mesh certificate is issued for. Reuse across attempts. */
  privateKey: KeyObject;
  /** Budget for TCP connect, aTLS handshake (including attestation) and the call. Default 30 s. */
  connectTimeoutMs?: number;
  signal?: AbortSignal;
  logger?: Logger;
  /** Highest TLS version to offer (default TLSv1.3; TLSv1.2 for tests of old Coordinators). */
  tlsMaxVersion?: TlsVersion;
  /** Key-exchange groups (CONTRAST_TLS_GROUPS); default OpenSSL's, which offers X25519MLKEM768 and X25519. */
  tlsGroups?: string;
}

const DEFAULT_CONNECT_TIMEOUT_MS = 30_000;

function mapError(
  err: ServiceError,
  target: string,
  creds: AtlsChannelCredentials,
  signal: AbortSignal | undefined,
  timeoutMs: number,
): MeshApiError {
  const last = creds.lastError;
  const lastCode = errorCode(last);
  const detail = err.details || err.message;
  switch (err.code) {
    case GrpcStatus.PERMISSION_DENIED:
      return new MeshApiError(
        'ERR_MESHAPI_PERMISSION_DENIED',
        `Coordinator at ${target} refused a mesh certificate: ${detail} (the pod's policy hash must be in the manifest's policies)`,
        { cause: err },
      );
    case GrpcStatus.DEADLINE_EXCEEDED:
      return new MeshApiError(
        'ERR_MESHAPI_TIMEOUT',
        `no answer from the Coordinator at ${target} within ${timeoutMs} ms${last === undefined ? '' : ` (last connection error: ${last.message})`}`,
        { cause: last ?? err },
      );
    case GrpcStatus.CANCELLED:
      if (signal?.aborted === true)
        return new MeshApiError('ERR_MESHAPI_ABORTED', `NewMeshCert to ${target} aborted`, { cause: signal.reason });
      break;
    case GrpcStatus.INTERNAL:
      if (/pars/i.test(detail))
        return new MeshApiError(
          'ERR_MESHAPI_MALFORMED',
          `Coordinator at ${target} sent a NewMeshCert response that does not decode: ${detail}`,
          { cause: err },
        );
      break;
    case GrpcStatus.UNAVAILABLE:
      if (lastCode === 'ERR_ATLS_REJECTED') {
        return new MeshApiError(
          'ERR_ATLS_HANDSHAKE_REJECTED',
          `Coordinator at ${target} rejected the aTLS handshake (${last?.message ?? detail}); when it turned our attestation away, its log names the reason`,
          { cause: last },
        );
      }
      if (lastCode === 'ERR_ATLS_ISSUE_FAILED') {
        return new MeshApiError(
          'ERR_MESHAPI_ATTESTATION_FAILED',
          `could not attest to the Coordinator at ${target}: ${last?.message ?? detail}`,
          { cause: last },
        );
      }
      if (lastCode === 'ERR_NATIVE_ADDON_NOT_FOUND') {
        return new MeshApiError(
          'ERR_MESHAPI_LOCAL_SETUP',
          `cannot run the aTLS client towards ${target}: ${last?.message ?? detail}`,
          { cause: last },
        );
      }
      if (lastCode === 'ERR_ATLS_HANDSHAKE_TIMEOUT') {
        return new MeshApiError(
          'ERR_MESHAPI_TIMEOUT',
          `aTLS handshake with the Coordinator at ${target} timed out: ${last?.message ?? detail}`,
          { cause: last },
        );
      }
      return new MeshApiError(
        'ERR_MESHAPI_UNAVAILABLE',
        `Coordinator at ${target} unavailable: ${last?.message ?? detail}`,
        { cause: last ?? err },
      );
    default:
      break;
  }
  return new MeshApiError(
    'ERR_MESHAPI_CALL_FAILED',
    `NewMeshCert to ${target} failed with gRPC status ${GrpcStatus[err.code]} (${err.code}): ${detail}`,
    { cause: err },
  );
}

/** Checks the response: three PEM certificate fields, and a leaf for our own key. */
function checkResponse(r: NewMeshCertResponse, target: string, publicKey: KeyObject): void {
  const bad = (what: string, cause?: unknown): MeshApiError =>
    new MeshApiError(
      'ERR_MESHAPI_MALFORMED',
      `Coordinator at ${target} sent an unusable NewMeshCert response: ${what}`,
      { cause },
    );
  let leafDer: Buffer | undefined;
  try {
    pemBlocks(r.meshCACert, 'CERTIFICATE', 'MeshCACert');
    pemBlocks(r.rootCACert, 'CERTIFICATE', 'RootCACert');
    leafDer = pemBlocks(r.certChain, 'CERTIFICATE', 'CertChain')[0];
  } catch (err) {
    throw bad(errorMessage(err), err);
  }
  let leaf: X509Certificate;
  try {
    leaf = new X509Certificate(toPem(leafDer ?? Buffer.alloc(0), 'CERTIFICATE')); // PEM: Node parses PEM first
  } catch (err) {
    throw bad('CertChain: first certificate does not parse', err);
  }
  if (!leaf.publicKey.equals(publicKey)) throw bad('CertChain: the leaf certificate is not for our key');
}

/**
 * The call itself. NewMeshCert is unary, but it is read as a response stream: grpc-js's unary client
 * reads one message and no further, so a second message would hide the call's status behind it until
 * the deadline. Read as a stream, a second message is a protocol violation reported at once.
 */
function callNewMeshCert(
  client: Client,
  opts: NewMeshCertOptions,
  creds: AtlsChannelCredentials,
  timeoutMs: number,
): Promise<NewMeshCertResponse> {
  return new Promise<NewMeshCertResponse>((resolve, reject) => {
    let first: NewMeshCertResponse | undefined;
    let settled = false;
    const settle = (fn: () => void): void => {
      if (settled) return;
      settled = true;
      opts.signal?.removeEventListener('abort', onAbort);
      fn();
    };
    const call = client.makeServerStreamRequest(
      NEW_MESH_CERT_PATH,
      () => encodeNewMeshCertRequest(),
      (bytes: Buffer) => decodeNewMeshCertResponse(bytes),
      {},
      new Metadata(),
      { deadline: Date.now() + timeoutMs },
    );
    call.on('data', (value: NewMeshCertResponse) => {
      if (first === undefined) {
        first = value;
        return;
      }
      settle(() => {
        reject(
          new MeshApiError(
            'ERR_MESHAPI_PROTOCOL',
            `Coordinator at ${opts.target} broke the gRPC protocol: a second NewMeshCert response message arrived on a unary call`,
          ),
        );
      });
      call.cancel();
    });
    call.on('error', (err: ServiceError) => {
      settle(() => {
        reject(mapError(err, opts.target, creds, opts.signal, timeoutMs));
      });
    });
    call.on('status', (st: { code: GrpcStatus }) => {
      if (st.code !== GrpcStatus.OK) return; // 'error' reports it
      settle(() => {
        if (first === undefined)
          reject(
            new MeshApiError(
              'ERR_MESHAPI_PROTOCOL',
              `Coordinator at ${opts.target} ended the NewMeshCert call without a response message`,
            ),
          );
        else resolve(first);
      });
    });
    const onAbort = (): void => {
      call.cancel();
    };
    opts.signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** Requests mesh certificates (and the workload secret) from the Coordinator. */
export async function newMeshCert(opts: NewMeshCertOptions): Promise<MeshCerts> {
  const log = opts.logger ?? silentLogger();
  const timeoutMs = opts.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS;
  const publicKey = createPublicKey(opts.privateKey);
  if (opts.signal?.aborted === true)
    throw new MeshApiError('ERR_MESHAPI_ABORTED', `NewMeshCert to ${opts.target} aborted`, {
      cause: opts.signal.reason,
    });
  const creds = new AtlsChannelCredentials((socket) =>
    atlsConnect(socket, {
      issuer: opts.issuer,
      privateKey: opts.privateKey,
      timeoutMs,
      logger: log,
      ...(opts.tlsMaxVersion === undefined ? {} : { maxVersion: opts.tlsMaxVersion }),
      ...(opts.tlsGroups === undefined ? {} : { groups: opts.tlsGroups }),
      ...(opts.signal === undefined ? {} : { signal: opts.signal }),
    }),
  );
  const client = new Client(opts.target, creds, {
    'grpc.enable_retries': 0,
    // No DNS TXT query for a service config (as upstream's Go client): one name lookup per attempt.
    'grpc.service_config_disable_resolution': 1,
    'grpc.max_reconnect_backoff_ms': 1000,
    'grpc.keepalive_time_ms': 15_000,
  });
  try {
    const response = await callNewMeshCert(client, opts, creds, timeoutMs);
    checkResponse(response, opts.target, publicKey);
    return {
      meshCACert: response.meshCACert,
      certChain: response.certChain,
      rootCACert: response.rootCACert,
      workloadSecret: response.workloadSecret,
    };
  } finally {
    client.close();
  }
}
