/** Workload secret derivation (spec §6.2) against HKDF computed by the openssl CLI. */
import test from 'ava';
import { deriveWorkloadSecret, podStateSeed, SecretSeedError } from '../../lib/coordinator/workload-secret.js';
import { opensslHkdf } from '../atls/helpers/openssl-peer.js';

const seed = Buffer.from(Array.from({ length: 64 }, (_, i) => i));
const salt = Buffer.from(Array.from({ length: 32 }, (_, i) => 255 - i));

test('podStateSeed and WorkloadSecret are the two HKDF-SHA256 steps, 64 bytes each', async (t) => {
  const pod = podStateSeed(seed, salt);
  t.deepEqual(pod, await opensslHkdf(seed, salt, 'POD STATE SECRET'));
  const id = 'apps/v1/Deployment/default/web';
  const secret = deriveWorkloadSecret(seed, salt, id);
  t.is(secret.length, 64);
  t.deepEqual(secret, await opensslHkdf(pod, salt, `WORKLOAD SECRET ID: ${id}`));
  t.notDeepEqual(secret, deriveWorkloadSecret(seed, salt, 'apps/v1/Deployment/default/db'));
});

test('seed and salt lengths are checked', (t) => {
  t.is(
    t.throws(() => deriveWorkloadSecret(seed.subarray(1), salt, 'x'), { instanceOf: SecretSeedError }).code,
    'ERR_PKI_SECRET_SEED',
  );
  t.is(
    t.throws(() => deriveWorkloadSecret(seed, salt.subarray(1), 'x'), { instanceOf: SecretSeedError }).code,
    'ERR_PKI_SECRET_SEED',
  );
});
