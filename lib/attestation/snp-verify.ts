/**
 * SEV-SNP verification: report signature (ECDSA P-384, little-endian R/S) with the VCEK/VLEK, the chain
 * VCEK → ASK (or ASVK) → ARK (RSA-PSS) to a pinned ARK, and the certificate's TCB and hardware id.
 */
import type { KeyObject, X509Certificate } from 'node:crypto';
import { AttestationError, ATTESTATION_ERROR_CODES } from './errors.js';
import { SNP_SIGNED_END, type SnpReport } from './snp-report.js';
import { commonName, ecdsaP1363Verify, publicKeyOf, verifyChain } from './certs.js';
import { checkVcekMatchesReport, parseVcekExtensions, productFamily, type VcekInfo } from './snp-vcek.js';
import { productFromFamilyModel } from './snp-product.js';

/** R and S are 72-byte little-endian fields; P-384 uses the low 48 bytes. Returns IEEE-P1363 r‖s. */
export function snpSignatureP1363(report: Pick<SnpReport, 'signature'>): Buffer {
  const half = (off: number): Buffer =>
    Buffer.from(report.signature.subarray(off, off + 72))
      .reverse()
      .subarray(24);
  return Buffer.concat([half(0), half(72)]);
}

/** Checks the signature over `raw[0, 0x2a0)`; takes the raw bytes so that tests can alter them freely. */
export function verifySnpReportSignature(report: Pick<SnpReport, 'raw' | 'signature'>, key: KeyObject): void {
  const curve = key.asymmetricKeyDetails?.namedCurve;
  if (key.asymmetricKeyType !== 'ec' || curve !== 'secp384r1') {
    throw new AttestationError(
      ATTESTATION_ERROR_CODES.CHAIN,
      `SEV-SNP report: signing key is ${key.asymmetricKeyType ?? 'unknown'} ${curve ?? ''}, expected EC P-384`,
    );
  }
  const ok = ecdsaP1363Verify('sha384', report.raw.subarray(0, SNP_SIGNED_END), key, snpSignatureP1363(report));
  if (!ok)
    throw new AttestationError(
      ATTESTATION_ERROR_CODES.SIGNATURE,
      'SEV-SNP report: signature over bytes [0x0, 0x2a0) does not verify with the VCEK/VLEK key',
    );
}

export interface SnpVerifyOptions {
  /** The VCEK or VLEK certificate. */
  readonly leaf: X509Certificate;
  /** ASK/ASVK candidates (from the document or the trust bundle). */
  readonly intermediates: readonly X509Certificate[];
  /** Pinned ARKs. */
  readonly anchors: readonly X509Certificate[];
  readonly now: Date;
}

export interface SnpVerified {
  readonly vcek: VcekInfo;
  readonly chain: readonly X509Certificate[];
}

export function verifySnpReport(report: SnpReport, opts: SnpVerifyOptions): SnpVerified {
  if (report.signingKey === 'none') {
    throw new AttestationError(
      ATTESTATION_ERROR_CODES.SIGNATURE,
      'SEV-SNP report: SIGNING_KEY is 7 (report not signed)',
    );
  }
  const expectedCn = report.signingKey === 'vlek' ? 'SEV-VLEK' : 'SEV-VCEK';
  if (commonName(opts.leaf) !== expectedCn) {
    throw new AttestationError(
      ATTESTATION_ERROR_CODES.CHAIN,
      `SEV-SNP report: signed by the ${report.signingKey.toUpperCase()}, but the certificate is "${commonName(opts.leaf)}", expected CN ${expectedCn}`,
    );
  }
  verifySnpReportSignature(report, publicKeyOf(opts.leaf, `SEV-SNP ${expectedCn}`));
  const chain = verifyChain(
    opts.leaf,
    { intermediates: opts.intermediates, anchors: opts.anchors, now: opts.now, maxDepth: 3 },
    `SEV-SNP ${expectedCn} chain`,
  );
  const vcek = parseVcekExtensions(opts.leaf);
  checkVcekMatchesReport(vcek, report);
  if (vcek.productName !== undefined) {
    const family = productFamily(vcek.productName);
    const ark = chain[chain.length - 1];
    if (ark !== undefined && commonName(ark) !== `ARK-${family}`) {
      throw new AttestationError(
        ATTESTATION_ERROR_CODES.TCB_MISMATCH,
        `SEV-SNP report: certificate product ${vcek.productName} chains to "${commonName(ark)}", expected ARK-${family}`,
      );
    }
    if (report.version >= 3 && report.cpuidFamily !== 0) {
      const fromReport = productFromFamilyModel(report.cpuidFamily, report.cpuidModel);
      if (fromReport !== 'Unknown' && fromReport !== family) {
        throw new AttestationError(
          ATTESTATION_ERROR_CODES.TCB_MISMATCH,
          `SEV-SNP report: CPUID says ${fromReport}, certificate product is ${vcek.productName}`,
        );
      }
    }
  }
  return { vcek, chain };
}
