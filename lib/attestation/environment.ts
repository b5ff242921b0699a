/** The attestation variables (read by lib/attestation/config.ts), for --help and docs/configuration.md. */
import type { EnvVarDoc } from '../environment.js';
import { UNSET } from '../environment.js';
import { ATTESTATION_DEFAULTS, INSECURE_CMDLINE_FLAG } from './config.js';

export const ATTESTATION_ENVIRONMENT: readonly EnvVarDoc[] = Object.freeze([
  { name: 'CONTRAST_ATTESTATION', default: 'auto', meaning: 'auto (detect), snp, tdx or insecure' },
  {
    name: 'CONTRAST_SNP_DEVICE',
    default: ATTESTATION_DEFAULTS.snpDevice,
    meaning: 'SEV-SNP guest device (used when configfs-tsm is absent)',
  },
  {
    name: 'CONTRAST_TDX_DEVICE',
    default: ATTESTATION_DEFAULTS.tdxDevice,
    meaning: 'TDX guest device (detection only; quotes come from configfs-tsm)',
  },
  {
    name: 'CONTRAST_TSM_REPORT_DIR',
    default: ATTESTATION_DEFAULTS.tsmReportDir,
    meaning: 'configfs-tsm report directory',
  },
  {
    name: 'CONTRAST_ALLOW_INSECURE_ATTESTATION',
    default: 'false',
    meaning: `allow the insecure document (development; ${INSECURE_CMDLINE_FLAG} on the kernel command line also allows it)`,
  },
  {
    name: 'CONTRAST_INSECURE_HOST_DATA',
    default: UNSET,
    meaning: 'host data of insecure documents, 64 hex characters (32 zero bytes when unset)',
  },
  {
    name: 'CONTRAST_KDS_URL',
    default: ATTESTATION_DEFAULTS.kdsBaseUrl,
    meaning: 'AMD key server for SNP certificates the host did not supply',
  },
  {
    name: 'CONTRAST_KDS_TIMEOUT',
    default: ATTESTATION_DEFAULTS.kdsTimeout,
    meaning: 'bound on fetching missing SNP certificates; 0 disables fetching',
  },
]);
