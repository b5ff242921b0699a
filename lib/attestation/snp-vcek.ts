/**
 * AMD VCEK / VLEK certificate extensions (OID prefix 1.3.6.1.4.1.3704.1.): product, SPLs, hardware id.
 * Checks against a report's REPORTED_TCB and CHIP_ID (tee-abi.md §6).
 */
import 'reflect-metadata';
import { X509Certificate as PeculiarCertificate } from '@peculiar/x509';
import type { X509Certificate } from 'node:crypto';
import { AttestationError, ATTESTATION_ERROR_CODES } from './errors.js';
import { DerError, readWhole, TAG } from '../x509/der.js';
import { sameBytes, hex } from './bytes.js';
import { tcbParts, type SnpReport } from './snp-report.js';
import { errorMessage } from '../errors.js';

const PREFIX = '1.3.6.1.4.1.3704.1.';

/** The content of the one DER value of `tag` that is all of `buf` (the shared reader, lib/x509/der.ts). */
function derContent(buf: Uint8Array, tag: number, what: string): Buffer {
  try {
    return readWhole(Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength), tag, what).content;
  } catch (err) {
    if (err instanceof DerError)
      throw new AttestationError(ATTESTATION_ERROR_CODES.CERTIFICATE, err.message, { cause: err });
    throw err;
  }
}

/** A non-negative DER INTEGER of up to 6 bytes (AMD SPLs may be 2 bytes: 00 D9). */
function derUnsignedInteger(buf: Uint8Array, what: string): number {
  const content = derContent(buf, TAG.INTEGER, what);
  if (content.length === 0 || content.length > 7 || ((content[0] ?? 0) & 0x80) !== 0) {
    throw new AttestationError(ATTESTATION_ERROR_CODES.CERTIFICATE, `${what}: expected a small non-negative INTEGER`);
  }
  let v = 0;
  for (const b of content) v = v * 256 + b;
  return v;
}

function derIa5String(buf: Uint8Array, what: string): string {
  return derContent(buf, TAG.IA5_STRING, what).toString('latin1');
}

export interface VcekInfo {
  readonly structVersion?: number;
  /** e.g. `Milan-B0`, `Genoa-B1`, `Turin`, `Milan` (VLEK). */
  readonly productName?: string;
  readonly blSpl?: number;
  readonly teeSpl?: number;
  readonly snpSpl?: number;
  readonly ucodeSpl?: number;
  readonly fmcSpl?: number;
  readonly hwId?: Buffer;
  readonly cspId?: string;
}

export function parseVcekExtensions(cert: X509Certificate): VcekInfo {
  let parsed: PeculiarCertificate;
  try {
    parsed = new PeculiarCertificate(cert.raw);
  } catch (err) {
    throw new AttestationError(ATTESTATION_ERROR_CODES.CERTIFICATE, `VCEK: does not parse: ${errorMessage(err)}`, {
      cause: err,
    });
  }
  const info: Record<string, unknown> = {};
  for (const ext of parsed.extensions) {
    if (!ext.type.startsWith(PREFIX)) continue;
    const value = new Uint8Array(ext.value);
    const what = `VCEK extension ${ext.type}`;
    switch (ext.type.slice(PREFIX.length)) {
      case '1':
        info['structVersion'] = derUnsignedInteger(value, what);
        break;
      case '2':
        info['productName'] = derIa5String(value, what);
        break;
      case '3.1':
        info['blSpl'] = derUnsignedInteger(value, what);
        break;
      case '3.2':
        info['teeSpl'] = derUnsignedInteger(value, what);
        break;
      case '3.3':
        info['snpSpl'] = derUnsignedInteger(value, what);
        break;
      case '3.8':
        info['ucodeSpl'] = derUnsignedInteger(value, what);
        break;
      case '3.9':
        info['fmcSpl'] = derUnsignedInteger(value, what);
        break;
      // KDS puts the raw bytes without an OCTET STRING tag.
      case '4':
        info['hwId'] = Buffer.from(value);
        break;
      case '5':
        info['cspId'] = derIa5String(value, what);
        break;
      default:
        break;
    }
  }
  return info;
}

/** `Milan-B0` → `Milan`. */
export function productFamily(productName: string): string {
  return productName.split('-')[0] ?? productName;
}

/** Certificate SPLs equal REPORTED_TCB; hwID equals CHIP_ID (prefix of 8 bytes on Turin); VLEKs have no hwID. */
export function checkVcekMatchesReport(info: VcekInfo, report: SnpReport): void {
  const turin = info.productName !== undefined && productFamily(info.productName) === 'Turin';
  const tcb = tcbParts(report.reportedTcb, turin);
  const pairs: Array<[string, number | undefined, number | undefined]> = [
    ['blSPL', info.blSpl, tcb.bootloader],
    ['teeSPL', info.teeSpl, tcb.tee],
    ['snpSPL', info.snpSpl, tcb.snp],
    ['ucodeSPL', info.ucodeSpl, tcb.microcode],
  ];
  if (turin) pairs.push(['fmcSPL', info.fmcSpl, tcb.fmc]);
  for (const [name, cert, reported] of pairs) {
    if (cert !== reported) {
      throw new AttestationError(
        ATTESTATION_ERROR_CODES.TCB_MISMATCH,
        `SEV-SNP report: REPORTED_TCB ${name} is ${reported ?? 'absent'}, but the ${report.signingKey.toUpperCase()} certificate says ${cert ?? 'nothing'}`,
      );
    }
  }
  if (report.signingKey === 'vcek') {
    if (info.hwId === undefined)
      throw new AttestationError(
        ATTESTATION_ERROR_CODES.TCB_MISMATCH,
        'VCEK: no hwID extension (1.3.6.1.4.1.3704.1.4)',
      );
    const chip = turin ? report.chipId.subarray(0, 8) : report.chipId;
    const hw = turin ? info.hwId.subarray(0, 8) : info.hwId;
    if (!sameBytes(chip, hw)) {
      throw new AttestationError(
        ATTESTATION_ERROR_CODES.TCB_MISMATCH,
        `SEV-SNP report: CHIP_ID ${hex(chip)} differs from the VCEK hwID ${hex(hw)}`,
      );
    }
  }
}
