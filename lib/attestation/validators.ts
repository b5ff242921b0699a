/**
 * Validators for the three document kinds: decode, verify signatures and chains against pinned
 * anchors, compare report data, and return the host data the Coordinator keys policies on.
 */
import type { X509Certificate } from 'node:crypto';
import { AttestationError, ATTESTATION_ERROR_CODES } from './errors.js';
import { hex, sameBytes } from './bytes.js';
import { loadCertificates, splitAnchors } from './certs.js';
import { decodeSnpDocument } from './snp-document.js';
import { verifySnpReport } from './snp-verify.js';
import { tcbParts, type SnpReport } from './snp-report.js';
import { decodeTdxDocument } from './tdx-document.js';
import { verifyTdxQuote } from './tdx-verify.js';
import { InsecureValidator } from './insecure.js';
import { productFamily } from './snp-vcek.js';
import { DOCUMENT_OIDS, type ValidatedDocument, type Validator } from './types.js';

export interface SnpValidatorOptions {
  /** PEM bundles with ARKs (self-signed, pinned) and optionally ASK/ASVK intermediates. */
  readonly trustedArkPems: readonly string[];
  /** Supplies the VCEK/VLEK (DER) when the document has none, e.g. from a KDS cache. */
  readonly fetchLeaf?: (report: SnpReport) => Promise<Uint8Array>;
  readonly now?: () => Date;
}

export interface TdxValidatorOptions {
  /** PEM bundles with the pinned Intel SGX Root CA(s). */
  readonly trustedRootPems: readonly string[];
  readonly now?: () => Date;
}

export interface ValidatorsOptions {
  readonly snp?: SnpValidatorOptions;
  readonly tdx?: TdxValidatorOptions;
  readonly allowInsecure?: boolean;
}

function bundle(pems: readonly string[], what: string): X509Certificate[] {
  return pems.flatMap((p, i) => loadCertificates(p, `${what} #${i + 1}`));
}

function checkReportData(got: Uint8Array, expected: Uint8Array, what: string): void {
  if (!sameBytes(got, expected)) {
    throw new AttestationError(
      ATTESTATION_ERROR_CODES.REPORT_DATA_MISMATCH,
      `${what}: report data ${hex(got).slice(0, 16)}… differs from the expected ${hex(expected).slice(0, 16)}…`,
    );
  }
}

export class SnpValidator implements Validator {
  readonly kind = 'snp' as const;
  readonly oid = DOCUMENT_OIDS.snp;
  private readonly roots: X509Certificate[];
  private readonly intermediates: X509Certificate[];

  constructor(private readonly opts: SnpValidatorOptions) {
    const { roots, others } = splitAnchors(bundle(opts.trustedArkPems, 'trusted ARK bundle'));
    this.roots = roots;
    this.intermediates = others;
  }

  async validate(document: Uint8Array, expectedReportData: Uint8Array): Promise<ValidatedDocument> {
    const doc = decodeSnpDocument(document);
    const report = doc.report;
    const leafDer =
      (report.signingKey === 'vlek' ? doc.chain?.vlek : doc.chain?.vcek) ?? (await this.opts.fetchLeaf?.(report));
    if (leafDer === undefined) {
      throw new AttestationError(
        ATTESTATION_ERROR_CODES.CHAIN,
        `SEV-SNP attestation document: carries no ${report.signingKey.toUpperCase()} certificate and no fetcher is configured`,
      );
    }
    const leaf = loadCertificates(leafDer, `SEV-SNP document ${report.signingKey.toUpperCase()}`)[0];
    if (leaf === undefined)
      throw new AttestationError(ATTESTATION_ERROR_CODES.CHAIN, 'SEV-SNP attestation document: empty leaf certificate');
    const fromDoc = doc.chain?.ask === undefined ? [] : loadCertificates(doc.chain.ask, 'SEV-SNP document ASK');
    const verified = verifySnpReport(report, {
      leaf,
      intermediates: [...fromDoc, ...this.intermediates],
      anchors: this.roots,
      now: (this.opts.now ?? (() => new Date()))(),
    });
    checkReportData(report.reportData, expectedReportData, 'SEV-SNP report');
    const turin = verified.vcek.productName !== undefined && productFamily(verified.vcek.productName) === 'Turin';
    return {
      kind: 'snp',
      hostData: report.hostData,
      reportData: report.reportData,
      details: {
        measurement: hex(report.measurement),
        vmpl: report.vmpl,
        policy: report.policy,
        guestSvn: report.guestSvn,
        reportedTcb: tcbParts(report.reportedTcb, turin),
        chipId: hex(report.chipId),
        product: verified.vcek.productName ?? doc.product,
        signingKey: report.signingKey,
      },
    };
  }
}

export class TdxValidator implements Validator {
  readonly kind = 'tdx' as const;
  readonly oid = DOCUMENT_OIDS.tdx;
  private readonly roots: X509Certificate[];

  constructor(private readonly opts: TdxValidatorOptions) {
    this.roots = splitAnchors(bundle(opts.trustedRootPems, 'trusted Intel root bundle')).roots;
  }

  validate(document: Uint8Array, expectedReportData: Uint8Array): Promise<ValidatedDocument> {
    return Promise.resolve().then(() => {
      const quote = decodeTdxDocument(document);
      verifyTdxQuote(quote, { anchors: this.roots, now: (this.opts.now ?? (() => new Date()))() });
      checkReportData(quote.body.reportData, expectedReportData, 'TDX quote');
      const b = quote.body;
      return {
        kind: 'tdx' as const,
        hostData: Buffer.from(b.mrConfigId.subarray(0, 32)),
        reportData: b.reportData,
        details: {
          mrTd: hex(b.mrTd),
          rtmrs: b.rtmrs.map(hex),
          mrConfigId: hex(b.mrConfigId),
          tdAttributes: hex(b.tdAttributes),
          xfam: hex(b.xfam),
          teeTcbSvn: hex(b.teeTcbSvn),
          mrSeam: hex(b.mrSeam),
        },
      };
    });
  }
}

/** The validators a server installs: one per configured kind, insecure only when allowed. */
export function createValidators(opts: ValidatorsOptions): Validator[] {
  const out: Validator[] = [];
  if (opts.snp !== undefined) out.push(new SnpValidator(opts.snp));
  if (opts.tdx !== undefined) out.push(new TdxValidator(opts.tdx));
  if (opts.allowInsecure === true) out.push(new InsecureValidator());
  return out;
}
