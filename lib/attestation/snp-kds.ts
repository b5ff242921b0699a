/**
 * Optional fetch of SEV-SNP certificates the host did not supply, from AMD's key server (KDS):
 * VCEK for the report's CHIP_ID and REPORTED_TCB, and the ASK/ARK chain. Bounded by one deadline;
 * results are cached per client instance (VCEKs only change with the TCB).
 */

import { AttestationError, ATTESTATION_ERROR_CODES } from './errors.js';
import { hex } from './bytes.js';
import { tcbParts, type SnpReport } from './snp-report.js';
import type { SnpProduct } from './snp-product.js';
import { loadCertificates } from './certs.js';
import { errorMessage } from '../errors.js';

export interface KdsChain {
  readonly vcek?: Buffer;
  readonly ask?: Buffer;
  readonly ark?: Buffer;
}

export type FetchFn = (
  url: string,
  init: { signal: AbortSignal },
) => Promise<{ ok: boolean; status: number; arrayBuffer(): Promise<ArrayBuffer> }>;

/** `…/vcek/v1/{product}/{hwid}?blSPL=…` (Turin: 8-byte hwid and fmcSPL). */
export function kdsVcekUrl(base: string, product: SnpProduct, report: SnpReport): string {
  const turin = product === 'Turin';
  const tcb = tcbParts(report.reportedTcb, turin);
  const hwid = hex(turin ? report.chipId.subarray(0, 8) : report.chipId);
  const q = [
    ...(turin ? [`fmcSPL=${tcb.fmc ?? 0}`] : []),
    `blSPL=${tcb.bootloader}`,
    `teeSPL=${tcb.tee}`,
    `snpSPL=${tcb.snp}`,
    `ucodeSPL=${tcb.microcode}`,
  ].join('&');
  return `${base}/vcek/v1/${product}/${hwid}?${q}`;
}

export function kdsChainUrl(base: string, product: SnpProduct): string {
  return `${base}/vcek/v1/${product}/cert_chain`;
}

export class KdsClient {
  private readonly cache = new Map<string, Buffer>();

  constructor(
    private readonly base: string,
    private readonly fetchFn: FetchFn = fetch,
  ) {}

  private async get(url: string, signal: AbortSignal): Promise<Buffer> {
    const hit = this.cache.get(url);
    if (hit !== undefined) return hit;
    let body: Buffer;
    try {
      const res = await this.fetchFn(url, { signal });
      if (!res.ok) throw new Error(`HTTP ${res.status}`);
      body = Buffer.from(await res.arrayBuffer());
    } catch (err) {
      throw new AttestationError(ATTESTATION_ERROR_CODES.FETCH, `fetching ${url}: ${errorMessage(err)}`, {
        cause: err,
      });
    }
    this.cache.set(url, body);
    return body;
  }

  /** VCEK (DER) and ASK/ARK (DER) for a VCEK-signed report; throws FETCH on any failure. */
  async fetchChain(product: SnpProduct, report: SnpReport, signal: AbortSignal): Promise<KdsChain> {
    if (product === 'Unknown')
      throw new AttestationError(ATTESTATION_ERROR_CODES.FETCH, 'fetching SEV-SNP certificates: product unknown');
    const [vcekDer, chainPem] = await Promise.all([
      this.get(kdsVcekUrl(this.base, product, report), signal),
      this.get(kdsChainUrl(this.base, product), signal),
    ]);
    const vcek = loadCertificates(vcekDer, 'KDS VCEK')[0];
    const [ask, ark] = loadCertificates(chainPem.toString('latin1'), 'KDS cert_chain');
    return {
      ...(vcek !== undefined ? { vcek: Buffer.from(vcek.raw) } : {}),
      ...(ask !== undefined ? { ask: Buffer.from(ask.raw) } : {}),
      ...(ark !== undefined ? { ark: Buffer.from(ark.raw) } : {}),
    };
  }
}
