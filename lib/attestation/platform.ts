/**
 * Platform detection and the issuer factory. Order in `auto` mode: configfs-tsm (provider sev_guest
 * or tdx_guest), then /dev/sev-guest, then insecure if explicitly allowed. Paths come from the config,
 * so tests point them at emulated devices. Each issuer is imported only when its platform is selected,
 * so a process loads the document encoders of the TEE it runs on and nothing else.
 */
import { readFile, stat } from 'node:fs/promises';
import type { Logger } from '../log.js';
import { AttestationError, ATTESTATION_ERROR_CODES } from './errors.js';
import { INSECURE_CMDLINE_FLAG, type AttestationConfig } from './config.js';
import { tsmProvider } from './configfs-tsm.js';
import type { SnpSource } from './snp-issuer.js';
import type { FetchFn } from './snp-kds.js';
import type { TeeAccess } from './devices.js';
import type { Issuer } from './types.js';

export type Platform =
  | { readonly kind: 'snp'; readonly source: SnpSource }
  | { readonly kind: 'tdx'; readonly dir: string }
  | { readonly kind: 'insecure' };

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

/** Whether insecure attestation is allowed by the config or the kernel command line. */
export async function insecureAllowed(config: AttestationConfig): Promise<boolean> {
  if (config.allowInsecure) return true;
  const cmdline = await readFile(config.kernelCmdlinePath, 'utf8').catch(() => '');
  return cmdline.split(/\s+/).includes(INSECURE_CMDLINE_FLAG);
}

function noPlatform(what: string): AttestationError {
  return new AttestationError(ATTESTATION_ERROR_CODES.NO_PLATFORM, what);
}

export async function detectPlatform(config: AttestationConfig): Promise<Platform> {
  const { mode, tsmReportDir, snpDevice, tdxDevice } = config;
  if (mode === 'insecure') {
    if (!(await insecureAllowed(config))) {
      throw new AttestationError(
        ATTESTATION_ERROR_CODES.INSECURE_NOT_ALLOWED,
        `CONTRAST_ATTESTATION=insecure: not allowed; set CONTRAST_ALLOW_INSECURE_ATTESTATION=1 or boot with ${INSECURE_CMDLINE_FLAG}`,
      );
    }
    return { kind: 'insecure' };
  }
  const provider = await tsmProvider(tsmReportDir);
  if (mode === 'auto' || mode === 'snp') {
    if (provider === 'sev_guest') return { kind: 'snp', source: { kind: 'configfs', dir: tsmReportDir } };
    if (await exists(snpDevice)) return { kind: 'snp', source: { kind: 'ioctl', device: snpDevice } };
  }
  if (mode === 'auto' || mode === 'tdx') {
    if (provider === 'tdx_guest') return { kind: 'tdx', dir: tsmReportDir };
    if (mode === 'tdx' || (await exists(tdxDevice))) {
      throw noPlatform(
        `TDX: no configfs-tsm report provider tdx_guest at ${tsmReportDir}${(await exists(tdxDevice)) ? ` (${tdxDevice} exists, but quotes need configfs-tsm, Linux 6.7+)` : ''}`,
      );
    }
  }
  if (mode === 'snp')
    throw noPlatform(`SEV-SNP: neither configfs-tsm provider sev_guest at ${tsmReportDir} nor ${snpDevice}`);
  if (await insecureAllowed(config)) return { kind: 'insecure' };
  throw noPlatform(
    `no TEE found (configfs-tsm ${tsmReportDir}: ${provider ?? 'unavailable'}; ${snpDevice}, ${tdxDevice}: absent) and insecure attestation is not allowed`,
  );
}

export interface IssuerDeps {
  /** Device ioctls; needed for SEV-SNP (certificate tables, ioctl fallback). */
  readonly tee?: () => Promise<TeeAccess>;
  readonly fetch?: FetchFn;
}

export async function createIssuer(config: AttestationConfig, logger: Logger, deps: IssuerDeps = {}): Promise<Issuer> {
  const platform = await detectPlatform(config);
  switch (platform.kind) {
    case 'snp': {
      const loadTee = deps.tee ?? defaultTee;
      const tee = await loadTee();
      logger.info(
        {
          platform: 'snp',
          source: platform.source.kind,
          path: platform.source.kind === 'configfs' ? platform.source.dir : platform.source.device,
        },
        'attestation platform selected',
      );
      const [{ SnpIssuer }, { KdsClient }] = await Promise.all([import('./snp-issuer.js'), import('./snp-kds.js')]);
      return new SnpIssuer({
        source: platform.source,
        tee,
        logger,
        cpuinfoPath: config.cpuinfoPath,
        ...(config.vmpl !== undefined ? { vmpl: config.vmpl } : {}),
        kds: { client: new KdsClient(config.kdsBaseUrl, deps.fetch), timeoutMs: config.kdsTimeoutMs },
      });
    }
    case 'tdx': {
      logger.info({ platform: 'tdx', source: 'configfs', path: platform.dir }, 'attestation platform selected');
      const { TdxIssuer } = await import('./tdx-issuer.js');
      return new TdxIssuer({ tsmReportDir: platform.dir, logger });
    }
    case 'insecure': {
      logger.warn(
        { platform: 'insecure' },
        'attestation platform selected: INSECURE, no TEE vouches for this workload',
      );
      const { InsecureIssuer } = await import('./insecure.js');
      return new InsecureIssuer(config.insecureHostData ?? Buffer.alloc(32));
    }
  }
}

async function defaultTee(): Promise<TeeAccess> {
  const { nativeTeeAccess } = await import('./native-tee.js');
  return nativeTeeAccess();
}
