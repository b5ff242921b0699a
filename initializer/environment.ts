/** The variables contrast-initializer reads, for --help and docs/configuration.md (read by config.ts). */
import { ATTESTATION_ENVIRONMENT } from '../lib/attestation/environment.js';
import {
  LOG_ENVIRONMENT,
  NATIVE_ENVIRONMENT,
  REQUIRED,
  TLS_GROUPS_ENVIRONMENT,
  UNSET,
  type EnvVarDoc,
} from '../lib/environment.js';
import { DEFAULT_COORDINATOR_PORT } from './config.js';
import {
  DEFAULT_SECRETS_DIR,
  DEFAULT_TLS_DIR,
  defaultRenewalSignalFile,
  WORKLOAD_SECRET_SEED_FILE,
} from '../lib/pod-layout.js';

export const INITIALIZER_ENVIRONMENT: readonly EnvVarDoc[] = Object.freeze([
  {
    name: 'COORDINATOR_HOST',
    default: REQUIRED,
    meaning: `the Coordinator: host, host:port, [v6] or [v6]:port (port ${DEFAULT_COORDINATOR_PORT} when absent)`,
  },
  {
    name: 'CONTRAST_TLS_DIR',
    default: DEFAULT_TLS_DIR,
    meaning: 'where the mesh certificates and key are written (absolute path)',
  },
  {
    name: 'CONTRAST_SECRETS_DIR',
    default: DEFAULT_SECRETS_DIR,
    meaning: `where ${WORKLOAD_SECRET_SEED_FILE} is written (absolute path)`,
  },
  { name: 'CONTRAST_DONE_FILE', default: '/done', meaning: 'written last, when everything succeeded (absolute path)' },
  {
    name: 'CONTRAST_RETRY_INTERVAL',
    default: '5s',
    meaning: 'wait after a failed attempt (500ms, 5s, 1m30s; more than 0)',
  },
  {
    name: 'CONTRAST_SERVICE_MESH_DISABLED',
    default: UNSET,
    meaning: 'any non-empty value: remove the default-deny inbound rule first',
  },
  {
    name: 'CONTRAST_RENEWAL_INTERVAL',
    default: UNSET,
    meaning:
      'renewal mode: stay as a sidecar and check for new certificates this often (at least 1s); unset: write once and exit',
  },
  {
    name: 'CONTRAST_RENEWAL_AT',
    default: '0.66',
    meaning: 'renewal mode: renew when the leaf has lived this fraction of its lifetime (above 0, below 1)',
  },
  {
    name: 'CONTRAST_RENEWAL_SIGNAL_FILE',
    default: defaultRenewalSignalFile(DEFAULT_TLS_DIR),
    meaning: "renewal mode: the meshproxy's request for an immediate renewal (renewal-request beside CONTRAST_TLS_DIR)",
  },
  {
    name: 'CRYPTSETUP_DEVICE',
    default: UNSET,
    meaning:
      'block device of an encrypted persistent volume (secure-pv annotation: /dev/csi0): LUKS2 with the workload secret seed, mounted at /state, kept until SIGTERM',
  },
  ...TLS_GROUPS_ENVIRONMENT,
  ...ATTESTATION_ENVIRONMENT,
  ...LOG_ENVIRONMENT,
  ...NATIVE_ENVIRONMENT,
]);
