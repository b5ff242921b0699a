/**
 * The initializer's job, independent of how certificates are fetched: optionally open the pod's inbound
 * traffic, request certificates until a valid answer arrives, write them, write the done file.
 */
import { codeCacheCheckpoint } from '../lib/code-cache-state.js';
import type { Logger } from '../lib/log.js';
import type { InitializerConfig } from './config.js';
import type { DefaultDenyRemover } from './default-deny.js';
import { InterruptedError } from './errors.js';
import { validateMeshCerts, type MeshCerts, type ValidatedMeshCerts } from './mesh-response.js';
import { writeOutputs, type TlsWriter } from './outputs.js';
import { retryUntilSuccess } from './retry.js';
import type { WorkloadKey } from './workload-key.js';

/** One attempt at NewMeshCert over a fresh aTLS connection, made with the workload key. */
export type CertRequest = (signal: AbortSignal) => Promise<MeshCerts>;

/** The budget of one attempt (upstream: 30 s connect; the Coordinator's handshake budget is 25 s). */
export const ATTEMPT_TIMEOUT_MS = 60_000;

export interface InitializerDeps {
  readonly config: InitializerConfig;
  readonly key: WorkloadKey;
  readonly request: CertRequest;
  readonly logger: Logger;
  /** SIGTERM/SIGINT. */
  readonly signal: AbortSignal;
  /** Required when config.serviceMeshDisabled. */
  readonly defaultDeny?: DefaultDenyRemover;
  readonly attemptTimeoutMs?: number;
  /** Runs after the files and before the done file (the encrypted volume); a failure means no done file. */
  readonly beforeDone?: () => Promise<void>;
  /** Renewal mode: writes the TLS directory's files as one generation. */
  readonly writeTls?: TlsWriter;
}

/** Resolves with the answer it wrote. */
export async function runInitializer(deps: InitializerDeps): Promise<ValidatedMeshCerts> {
  const { config, key, logger, signal } = deps;
  if (config.serviceMeshDisabled) {
    logger.info('CONTRAST_SERVICE_MESH_DISABLED set, removing default deny rule');
    if (deps.defaultDeny === undefined)
      throw new Error('CONTRAST_SERVICE_MESH_DISABLED set but no default-deny remover was wired');
    const removedFrom = await deps.defaultDeny.remove();
    logger.info({ removedFrom }, 'Default deny rule removed');
  }

  const { value: certs, attempts } = await retryUntilSuccess(
    async (attemptSignal) => validateMeshCerts(await deps.request(attemptSignal), key.publicKey),
    {
      intervalMs: config.retryIntervalMs,
      attemptTimeoutMs: deps.attemptTimeoutMs ?? ATTEMPT_TIMEOUT_MS,
      signal,
      logger,
      target: config.coordinator.target,
    },
  );
  logger.info(
    {
      attempts,
      subject: certs.leaf.subject,
      subjectAltName: certs.leaf.subjectAltName,
      validTo: certs.leaf.validTo,
      meshCA: certs.meshCA.fingerprint256,
      hasWorkloadSecret: certs.workloadSecret.length > 0,
    },
    'Successfully requested cert from Coordinator',
  );
  // The start-up path a code cache should hold ends here: the answer is in and checked. What comes
  // after (the Coordinator closing the connection races our own close) varies from run to run and
  // would make the bundle's cache differ between builds (images/code-cache/).
  codeCacheCheckpoint();
  if (signal.aborted) throw new InterruptedError('interrupted before writing');

  const written = await writeOutputs(config, certs, key.pkcs8Pem, {
    ...(deps.writeTls === undefined ? {} : { writeTls: deps.writeTls }),
    ...(deps.beforeDone === undefined ? {} : { beforeDone: deps.beforeDone }),
  });
  logger.info({ files: written }, 'Initializer done');
  return certs;
}
