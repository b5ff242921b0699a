/**
 * The SEV-SNP attestation document: protobuf `sevsnp.Attestation` (report, optional certificate chain,
 * product) decoded back to the raw report bytes for verification, on lib/protobuf. The encoder and the
 * document types are in snp-document-encode.ts (no protobuf library, for the issuing path) and are
 * re-exported here; issuing code imports them from there.
 */
import { AttestationError, ATTESTATION_ERROR_CODES } from './errors.js';
import { fmsFromCpuid1Eax, parseSnpReport, SNP_REPORT_SIZE } from './snp-report.js';
import { SEV_PRODUCT_ENUM, type SnpProduct } from './snp-product.js';
import { decodeDocumentMessage, SNP_ATTESTATION, toBigint } from './proto.js';
import type { SnpCertificateChain, SnpDocument } from './snp-document-encode.js';

export {
  encodeSnpDocument,
  SNP_CRL_EXTRAS_KEY,
  type SnpCertificateChain,
  type SnpDocument,
} from './snp-document-encode.js';

function bytesField(m: Record<string, unknown>, name: string, size: number, what: string): Buffer {
  const v = m[name];
  const b = v instanceof Uint8Array ? Buffer.from(v) : Buffer.alloc(0);
  if (b.length === 0) return Buffer.alloc(size);
  if (b.length !== size)
    throw new AttestationError(
      ATTESTATION_ERROR_CODES.DOCUMENT,
      `${what}: ${name} is ${b.length} bytes, expected ${size}`,
    );
  return b;
}

function num(m: Record<string, unknown>, name: string): number {
  const v = m[name];
  return typeof v === 'number' ? v : 0;
}

/** Rebuilds the 1184 raw bytes from a `sevsnp.Report` message (the inverse of upstream ReportToProto). */
export function reportBytesFromMessage(m: Record<string, unknown>, what = 'sevsnp.Report'): Buffer {
  const raw = Buffer.alloc(SNP_REPORT_SIZE);
  const version = num(m, 'version');
  raw.writeUInt32LE(version >>> 0, 0x00);
  raw.writeUInt32LE(num(m, 'guest_svn') >>> 0, 0x04);
  raw.writeBigUInt64LE(toBigint(m['policy']), 0x08);
  bytesField(m, 'family_id', 16, what).copy(raw, 0x10);
  bytesField(m, 'image_id', 16, what).copy(raw, 0x20);
  raw.writeUInt32LE(num(m, 'vmpl') >>> 0, 0x30);
  raw.writeUInt32LE(num(m, 'signature_algo') >>> 0, 0x34);
  raw.writeBigUInt64LE(toBigint(m['current_tcb']), 0x38);
  raw.writeBigUInt64LE(toBigint(m['platform_info']), 0x40);
  raw.writeUInt32LE(num(m, 'signer_info') >>> 0, 0x48);
  bytesField(m, 'report_data', 64, what).copy(raw, 0x50);
  bytesField(m, 'measurement', 48, what).copy(raw, 0x90);
  bytesField(m, 'host_data', 32, what).copy(raw, 0xc0);
  bytesField(m, 'id_key_digest', 48, what).copy(raw, 0xe0);
  bytesField(m, 'author_key_digest', 48, what).copy(raw, 0x110);
  bytesField(m, 'report_id', 32, what).copy(raw, 0x140);
  bytesField(m, 'report_id_ma', 32, what).copy(raw, 0x160);
  raw.writeBigUInt64LE(toBigint(m['reported_tcb']), 0x180);
  if (version >= 3) {
    const fms = fmsFromCpuid1Eax(num(m, 'cpuid1eax_fms'));
    raw.writeUInt8(fms.family & 0xff, 0x188);
    raw.writeUInt8(fms.model & 0xff, 0x189);
    raw.writeUInt8(fms.stepping, 0x18a);
  }
  bytesField(m, 'chip_id', 64, what).copy(raw, 0x1a0);
  raw.writeBigUInt64LE(toBigint(m['committed_tcb']), 0x1e0);
  const u8 = (name: string, off: number): void => {
    const v = num(m, name);
    if (v > 0xff)
      throw new AttestationError(ATTESTATION_ERROR_CODES.DOCUMENT, `${what}: ${name} is ${v}, expected a byte`);
    raw.writeUInt8(v, off);
  };
  u8('current_build', 0x1e8);
  u8('current_minor', 0x1e9);
  u8('current_major', 0x1ea);
  u8('committed_build', 0x1ec);
  u8('committed_minor', 0x1ed);
  u8('committed_major', 0x1ee);
  raw.writeBigUInt64LE(toBigint(m['launch_tcb']), 0x1f0);
  if (version >= 5) {
    raw.writeBigUInt64LE(toBigint(m['launch_mit_vector']), 0x1f8);
    raw.writeBigUInt64LE(toBigint(m['current_mit_vector']), 0x200);
  }
  bytesField(m, 'signature', 512, what).copy(raw, 0x2a0);
  return raw;
}

function optBytes(m: Record<string, unknown> | undefined, name: string): Buffer | undefined {
  const v = m?.[name];
  return v instanceof Uint8Array && v.length > 0 ? Buffer.from(v) : undefined;
}

export function decodeSnpDocument(bytes: Uint8Array): SnpDocument {
  const what = 'SEV-SNP attestation document';
  const m = decodeDocumentMessage(SNP_ATTESTATION, bytes, what);
  const report = m['report'] as Record<string, unknown> | null | undefined;
  if (report === null || report === undefined)
    throw new AttestationError(ATTESTATION_ERROR_CODES.DOCUMENT, `${what}: no report (field 1)`);
  const parsed = parseSnpReport(reportBytesFromMessage(report, `${what} report`));
  const chainMsg = m['certificate_chain'] as Record<string, unknown> | null | undefined;
  const productMsg = m['product'] as Record<string, unknown> | null | undefined;
  const name = typeof productMsg?.['name'] === 'number' ? productMsg['name'] : 0;
  const product = (Object.entries(SEV_PRODUCT_ENUM).find(([, v]) => v === name)?.[0] ?? 'Unknown') as SnpProduct;
  const stepping = productMsg?.['machine_stepping'] as Record<string, unknown> | null | undefined;
  let chain: SnpCertificateChain | undefined;
  if (chainMsg !== null && chainMsg !== undefined) {
    const extrasMsg = chainMsg['extras'] as Record<string, Uint8Array> | undefined;
    const extras: Record<string, Buffer> = {};
    for (const [k, v] of Object.entries(extrasMsg ?? {})) extras[k] = Buffer.from(v);
    chain = {
      ...optional('vcek', optBytes(chainMsg, 'vcek_cert')),
      ...optional('vlek', optBytes(chainMsg, 'vlek_cert')),
      ...optional('ask', optBytes(chainMsg, 'ask_cert')),
      ...optional('ark', optBytes(chainMsg, 'ark_cert')),
      ...(Object.keys(extras).length > 0 ? { extras } : {}),
    };
  }
  return {
    report: parsed,
    product,
    ...(chain !== undefined ? { chain } : {}),
    ...(stepping !== null && stepping !== undefined ? { machineStepping: num(stepping, 'value') } : {}),
  };
}

function optional<K extends string, V>(key: K, v: V | undefined): { [P in K]?: V } {
  return (v === undefined ? {} : { [key]: v }) as { [P in K]?: V };
}
