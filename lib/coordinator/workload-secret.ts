/**
 * Workload secret derivation (spec §6.2), HKDF-SHA256 with output length = input length (64):
 *   podStateSeed   = HKDF(ikm = seed,         salt, info = "POD STATE SECRET")
 *   WorkloadSecret = HKDF(ikm = podStateSeed, salt, info = "WORKLOAD SECRET ID: " + workloadSecretID)
 */
import { hkdfSync } from 'node:crypto';
import { ContrastError } from '../errors.js';

export class SecretSeedError extends ContrastError {
  readonly code = 'ERR_PKI_SECRET_SEED';
}

export const SEED_LENGTH = 64;
export const SALT_LENGTH = 32;

function hkdf(ikm: Uint8Array, salt: Uint8Array, info: string): Buffer {
  return Buffer.from(hkdfSync('sha256', ikm, salt, Buffer.from(info, 'utf8'), ikm.length));
}

export function podStateSeed(seed: Uint8Array, salt: Uint8Array): Buffer {
  if (seed.length !== SEED_LENGTH) throw new SecretSeedError(`seed: ${seed.length} bytes, expected ${SEED_LENGTH}`);
  if (salt.length !== SALT_LENGTH) throw new SecretSeedError(`salt: ${salt.length} bytes, expected ${SALT_LENGTH}`);
  return hkdf(seed, salt, 'POD STATE SECRET');
}

export function deriveWorkloadSecret(seed: Uint8Array, salt: Uint8Array, workloadSecretID: string): Buffer {
  return hkdf(podStateSeed(seed, salt), salt, `WORKLOAD SECRET ID: ${workloadSecretID}`);
}
