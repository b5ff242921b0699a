/**
 * The SEV-SNP attestation document: protobuf `sevsnp.Attestation` (report, optional certificate chain,
 * product) encoded as upstream does, and decoded back to the raw report bytes for verification.
 */
import { AttestationError, ATTESTATION_ERROR_CODES } from './errors.js';
import { cpuid1EaxFromFms, fmsFromCpuid1Eax, parseSnpReport, SNP_REPORT_SIZE, type SnpReport } from './snp-report.js';
import { SEV_PRODUCT_ENUM, type SnpProduct } from './snp-product.js';
import { decodeMessage, omitZero, SnpAttestationType, toBigint, u64 } from './proto.js';

/** `certificate_chain.extras` key of the AMD CRL (upstream SNPCertChainExtrasCRLKey). */
export const SNP_CRL_EXTRAS_KEY = '00569ee4-e480-4fba-bbf4-45b629901180';

export interface SnpCertificateChain {
  readonly vcek?: Buffer;
  readonly vlek?: Buffer;
  readonly ask?: Buffer;
  readonly ark?: Buffer;
  readonly extras?: Readonly<Record<string, Buffer>>;
}

export interface SnpDocument {
  readonly report: SnpReport;
  readonly chain?: SnpCertificateChain;
  readonly product: SnpProduct;
  /** Upstream always sends a present wrapper with value 0. */
  readonly machineStepping?: number;
}

/** Zero u64s are left out, as Go does. */
function u64z(v: bigint): ReturnType<typeof u64> | undefined {
  return v === 0n ? undefined : u64(v);
}

function reportMessage(r: SnpReport): Record<string, unknown> {
  const m: Record<string, unknown> = {
    version: r.version, guest_svn: r.guestSvn, policy: u64z(BigInt(r.policy)), family_id: r.familyId, image_id: r.imageId,
    vmpl: r.vmpl, signature_algo: r.signatureAlgo, current_tcb: u64z(r.currentTcb), platform_info: u64z(r.platformInfo),
    signer_info: r.signerInfo, report_data: r.reportData, measurement: r.measurement, host_data: r.hostData,
    id_key_digest: r.idKeyDigest, author_key_digest: r.authorKeyDigest, report_id: r.reportId, report_id_ma: r.reportIdMa,
    reported_tcb: u64z(r.reportedTcb), chip_id: r.chipId, committed_tcb: u64z(r.committedTcb),
    current_build: r.currentBuild, current_minor: r.currentMinor, current_major: r.currentMajor,
    committed_build: r.committedBuild, committed_minor: r.committedMinor, committed_major: r.committedMajor,
    launch_tcb: u64z(r.launchTcb), signature: r.signature,
    cpuid1eax_fms: r.version >= 3 ? cpuid1EaxFromFms(r.cpuidFamily, r.cpuidModel, r.cpuidStepping) : 0,
    launch_mit_vector: u64z(r.launchMitVector), current_mit_vector: u64z(r.currentMitVector),
  };
  for (const [k, v] of Object.entries(m)) {
    if (omitZero(v) === undefined) m[k] = undefined;
  }
  return m;
}

export function encodeSnpDocument(doc: SnpDocument): Buffer {
  const message: Record<string, unknown> = {
    report: reportMessage(doc.report),
    product: {
      name: omitZero(SEV_PRODUCT_ENUM[doc.product]),
      machine_stepping: { value: omitZero(doc.machineStepping ?? 0) },
    },
  };
  const c = doc.chain;
  if (c !== undefined && (c.vcek ?? c.vlek ?? c.ask ?? c.ark) !== undefined) {
    message['certificate_chain'] = { vcek_cert: c.vcek, ask_cert: c.ask, ark_cert: c.ark, vlek_cert: c.vlek, extras: c.extras };
  }
  const err = SnpAttestationType.verify(message);
  if (err !== null) throw new AttestationError(ATTESTATION_ERROR_CODES.DOCUMENT, `encoding sevsnp.Attestation: ${err}`);
  return Buffer.from(SnpAttestationType.encode(SnpAttestationType.fromObject(message)).finish());
}

function bytesField(m: Record<string, unknown>, name: string, size: number, what: string): Buffer {
  const v = m[name];
  const b = v instanceof Uint8Array ? Buffer.from(v) : Buffer.alloc(0);
  if (b.length === 0) return Buffer.alloc(size);
  if (b.length !== size) throw new AttestationError(ATTESTATION_ERROR_CODES.DOCUMENT, `${what}: ${name} is ${b.length} bytes, expected ${size}`);
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
    if (v > 0xff) throw new AttestationError(ATTESTATION_ERROR_CODES.DOCUMENT, `${what}: ${name} is ${v}, expected a byte`);
    raw.writeUInt8(v, off);
  };
  u8('current_build', 0x1e8); u8('current_minor', 0x1e9); u8('current_major', 0x1ea);
  u8('committed_build', 0x1ec); u8('committed_minor', 0x1ed); u8('committed_major', 0x1ee);
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
  const m = decodeMessage(SnpAttestationType, bytes, what);
  const report = m['report'] as Record<string, unknown> | null | undefined;
  if (report === null || report === undefined) throw new AttestationError(ATTESTATION_ERROR_CODES.DOCUMENT, `${what}: no report (field 1)`);
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
      ...optional('vcek', optBytes(chainMsg, 'vcek_cert')), ...optional('vlek', optBytes(chainMsg, 'vlek_cert')),
      ...optional('ask', optBytes(chainMsg, 'ask_cert')), ...optional('ark', optBytes(chainMsg, 'ark_cert')),
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
