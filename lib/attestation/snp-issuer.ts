/**
 * SEV-SNP issuer: a report over the caller's report data from configfs-tsm or the /dev/sev-guest
 * ioctl, the certificates the host supplied (else an optional, time-bounded KDS fetch), the product,
 * encoded as upstream's `sevsnp.Attestation`.
 */
import { readFileSync } from 'node:fs';
import type { Logger } from '../log.js';
import { describeError } from '../errors.js';
import { AttestationError, ATTESTATION_ERROR_CODES } from './errors.js';
import { checkReportData } from './reportdata.js';
import { sameBytes } from './bytes.js';
import { parseSnpReport, SNP_REPORT_SIZE, type SnpReport } from './snp-report.js';
import { snpProduct, type SnpProduct } from './snp-product.js';
import { encodeSnpDocument, SNP_CRL_EXTRAS_KEY, type SnpCertificateChain } from './snp-document-encode.js';
import { tsmGetReport } from './configfs-tsm.js';
import type { KdsClient } from './snp-kds.js';
import type { TeeAccess } from './devices.js';
import { DOCUMENT_OIDS, type Issuer } from './types.js';

export type SnpSource =
  { readonly kind: 'configfs'; readonly dir: string } | { readonly kind: 'ioctl'; readonly device: string };

export interface SnpIssuerOptions {
  readonly source: SnpSource;
  readonly tee: TeeAccess;
  readonly logger: Logger;
  readonly vmpl?: number;
  readonly cpuinfoPath: string;
  /** Fetches certificates the host did not supply; omitted or timeout 0: no fetch. */
  readonly kds?: { readonly client: KdsClient; readonly timeoutMs: number };
}

interface RawEvidence {
  readonly report: Buffer;
  readonly certTable: Buffer;
}

export class SnpIssuer implements Issuer {
  readonly kind = 'snp' as const;
  readonly oid = DOCUMENT_OIDS.snp;

  constructor(private readonly opts: SnpIssuerOptions) {}

  private async raw(reportData: Uint8Array): Promise<RawEvidence> {
    const { source, tee } = this.opts;
    if (source.kind === 'configfs') {
      const r = await tsmGetReport(source.dir, {
        inblob: reportData,
        readAuxblob: true,
        ...(this.opts.vmpl !== undefined ? { privlevel: this.opts.vmpl } : {}),
      });
      if (r.provider !== 'sev_guest') {
        throw new AttestationError(
          ATTESTATION_ERROR_CODES.DEVICE,
          `configfs-tsm ${source.dir}: provider is "${r.provider}", expected sev_guest`,
        );
      }
      return { report: r.outblob.subarray(0, SNP_REPORT_SIZE), certTable: r.auxblob };
    }
    try {
      return await tee.snpGetExtReport(source.device, reportData, this.opts.vmpl ?? 0);
    } catch (err) {
      // Hosts that get the certificate protocol wrong: a plain report still attests (go-sev-guest does the same).
      if ((err as { reason?: unknown }).reason !== 'certs-length') throw err;
      this.opts.logger.warn(
        { device: source.device, err: describeError(err) },
        'extended SEV-SNP report failed; using a plain report',
      );
      return {
        report: await tee.snpGetReport(source.device, reportData, this.opts.vmpl ?? 0),
        certTable: Buffer.alloc(0),
      };
    }
  }

  private hostChain(certTable: Buffer): SnpCertificateChain {
    if (certTable.length === 0) return {};
    const chain: Record<string, unknown> = {};
    const extras: Record<string, Buffer> = {};
    for (const e of this.opts.tee.parseSnpCertTable(certTable)) {
      if (e.name === 'vcek' || e.name === 'vlek' || e.name === 'ask' || e.name === 'ark') chain[e.name] = e.der;
      else if (e.name === 'asvk') chain['ask'] = e.der;
      else if (e.name === 'crl') extras[SNP_CRL_EXTRAS_KEY] = e.der;
    }
    if (Object.keys(extras).length > 0) chain['extras'] = extras;
    return chain;
  }

  private async fetchMissing(
    chain: SnpCertificateChain,
    report: SnpReport,
    product: SnpProduct,
    signal?: AbortSignal,
  ): Promise<SnpCertificateChain> {
    const kds = this.opts.kds;
    if (kds === undefined || kds.timeoutMs <= 0 || report.signingKey !== 'vcek') return chain;
    if (chain.vcek !== undefined && chain.ask !== undefined && chain.ark !== undefined) return chain;
    const bound = AbortSignal.timeout(kds.timeoutMs);
    const sig = signal === undefined ? bound : AbortSignal.any([signal, bound]);
    try {
      const fetched = await kds.client.fetchChain(product, report, sig);
      return { ...fetched, ...chain };
    } catch (err) {
      this.opts.logger.warn(
        { err: describeError(err), timeoutMs: kds.timeoutMs },
        'SEV-SNP certificates not fetched; issuing without them',
      );
      return chain;
    }
  }

  async issue(reportData: Uint8Array, signal?: AbortSignal): Promise<Uint8Array> {
    checkReportData(reportData);
    signal?.throwIfAborted();
    const raw = await this.raw(reportData);
    const report = parseSnpReport(raw.report);
    if (!sameBytes(report.reportData, reportData)) {
      throw new AttestationError(
        ATTESTATION_ERROR_CODES.DEVICE,
        'SEV-SNP report: REPORT_DATA differs from the requested report data',
      );
    }
    const product = snpProduct(report, () => readCpuinfo(this.opts.cpuinfoPath));
    const chain = await this.fetchMissing(this.hostChain(raw.certTable), report, product, signal);
    this.opts.logger.debug(
      { version: report.version, product, certificates: Object.keys(chain) },
      'issued SEV-SNP report',
    );
    return encodeSnpDocument({ report, chain, product, machineStepping: 0 });
  }
}

function readCpuinfo(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return '';
  }
}
