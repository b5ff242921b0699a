/**
 * The workload key: one ECDSA P-256 key per process, used as the aTLS client key for every attempt and
 * written to key.pem, so that the mesh certificate issued for the handshake key matches the file.
 */
import { generateKeyPairSync, type KeyObject } from 'node:crypto';

export interface WorkloadKey {
  readonly privateKey: KeyObject;
  readonly publicKey: KeyObject;
  /** PKCS#8 PEM (`-----BEGIN PRIVATE KEY-----`), as upstream writes key.pem. */
  readonly pkcs8Pem: string;
}

export function generateWorkloadKey(): WorkloadKey {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const pkcs8Pem = privateKey.export({ type: 'pkcs8', format: 'pem' });
  return Object.freeze({ privateKey, publicKey, pkcs8Pem });
}
