/**
 * SEV-SNP ATTESTATION_REPORT (1184 bytes, versions 2 to 5): parse into a typed object.
 * Offsets: tee-abi.md §1.7. Reserved ranges must be zero, as go-sev-guest demands.
 */
import { AttestationError, ATTESTATION_ERROR_CODES, badField, truncated } from './errors.js';
import { copy, hex, isZero } from './bytes.js';

export const SNP_REPORT_SIZE = 0x4a0;
/** The signature covers bytes [0, SNP_SIGNED_END). */
export const SNP_SIGNED_END = 0x2a0;
export const SNP_REPORT_DATA_OFFSET = 0x50;
export const SNP_MIN_VERSION = 2;
export const SNP_MAX_VERSION = 5;

export type SnpSigningKey = 'vcek' | 'vlek' | 'none';

export interface SnpReport {
  readonly version: number;
  readonly guestSvn: number;
  /** Bits 63:26 are zero, so the value fits a number. */
  readonly policy: number;
  readonly familyId: Buffer;
  readonly imageId: Buffer;
  readonly vmpl: number;
  readonly signatureAlgo: number;
  readonly currentTcb: bigint;
  readonly platformInfo: bigint;
  readonly signerInfo: number;
  readonly signingKey: SnpSigningKey;
  readonly reportData: Buffer;
  readonly measurement: Buffer;
  readonly hostData: Buffer;
  readonly idKeyDigest: Buffer;
  readonly authorKeyDigest: Buffer;
  readonly reportId: Buffer;
  readonly reportIdMa: Buffer;
  readonly reportedTcb: bigint;
  /** CPUID family / model / stepping (report v3+; zero in v2). */
  readonly cpuidFamily: number;
  readonly cpuidModel: number;
  readonly cpuidStepping: number;
  readonly chipId: Buffer;
  readonly committedTcb: bigint;
  readonly currentBuild: number;
  readonly currentMinor: number;
  readonly currentMajor: number;
  readonly committedBuild: number;
  readonly committedMinor: number;
  readonly committedMajor: number;
  readonly launchTcb: bigint;
  /** v5+; zero before. */
  readonly launchMitVector: bigint;
  readonly currentMitVector: bigint;
  /** The 512-byte signature field as found (R and S little-endian, 72 bytes each). */
  readonly signature: Buffer;
  /** The whole 1184-byte report, for signature checks. */
  readonly raw: Buffer;
}

const WHAT = 'SEV-SNP report';

/** Ranges that must be zero in every version, plus per-version ones added below. */
const RESERVED_ALWAYS: ReadonlyArray<readonly [number, number]> = [
  [0x04c, 0x050],
  [0x1eb, 0x1ec],
  [0x1ef, 0x1f0],
  [0x2a0 + 48, 0x2a0 + 72],
  [0x2e8 + 48, 0x2e8 + 72],
  [0x330, 0x4a0],
];

export function parseSnpReport(input: Uint8Array): SnpReport {
  const buf = Buffer.from(input);
  if (buf.length < SNP_REPORT_SIZE) throw truncated(WHAT, buf.length, SNP_REPORT_SIZE);
  if (buf.length !== SNP_REPORT_SIZE) {
    throw new AttestationError(
      ATTESTATION_ERROR_CODES.FORMAT,
      `${WHAT}: ${buf.length} bytes, expected exactly ${SNP_REPORT_SIZE}`,
    );
  }
  const version = buf.readUInt32LE(0x00);
  if (version < SNP_MIN_VERSION || version > SNP_MAX_VERSION) {
    throw new AttestationError(
      ATTESTATION_ERROR_CODES.UNSUPPORTED_VERSION,
      `${WHAT}: VERSION at offset 0x0 is ${version}, expected ${SNP_MIN_VERSION} to ${SNP_MAX_VERSION}`,
    );
  }
  const signatureAlgo = buf.readUInt32LE(0x34);
  if (signatureAlgo !== 1)
    throw badField(WHAT, 'SIGNATURE_ALGO', 0x34, String(signatureAlgo), '1 (ECDSA P-384 with SHA-384)');
  const policy = buf.readBigUInt64LE(0x08);
  if ((policy & (1n << 17n)) === 0n) throw badField(WHAT, 'POLICY bit 17', 0x08, '0', '1 (reserved, must be one)');
  if (policy >> 26n !== 0n) throw badField(WHAT, 'POLICY bits 63:26', 0x08, `0x${policy.toString(16)}`, 'zero');
  const signerInfo = buf.readUInt32LE(0x48);
  if (signerInfo >>> 5 !== 0)
    throw badField(WHAT, 'signer info bits 31:5', 0x48, `0x${signerInfo.toString(16)}`, 'zero');
  const keySel = (signerInfo >>> 2) & 7;
  const signingKey: SnpSigningKey | undefined =
    keySel === 0 ? 'vcek' : keySel === 1 ? 'vlek' : keySel === 7 ? 'none' : undefined;
  if (signingKey === undefined)
    throw badField(WHAT, 'SIGNING_KEY', 0x48, String(keySel), '0 (VCEK), 1 (VLEK) or 7 (none)');

  const reserved: Array<readonly [number, number]> = [...RESERVED_ALWAYS];
  reserved.push(version >= 3 ? [0x18b, 0x1a0] : [0x188, 0x1a0]);
  reserved.push(version >= 5 ? [0x208, 0x2a0] : [0x1f8, 0x2a0]);
  for (const [start, end] of reserved) {
    const range = buf.subarray(start, end);
    if (!isZero(range))
      throw badField(
        WHAT,
        `reserved bytes [0x${start.toString(16)}, 0x${end.toString(16)})`,
        start,
        hex(range),
        'all zero',
      );
  }

  return {
    version,
    guestSvn: buf.readUInt32LE(0x04),
    policy: Number(policy),
    familyId: copy(buf, 0x10, 16),
    imageId: copy(buf, 0x20, 16),
    vmpl: buf.readUInt32LE(0x30),
    signatureAlgo,
    currentTcb: buf.readBigUInt64LE(0x38),
    platformInfo: buf.readBigUInt64LE(0x40),
    signerInfo,
    signingKey,
    reportData: copy(buf, 0x50, 64),
    measurement: copy(buf, 0x90, 48),
    hostData: copy(buf, 0xc0, 32),
    idKeyDigest: copy(buf, 0xe0, 48),
    authorKeyDigest: copy(buf, 0x110, 48),
    reportId: copy(buf, 0x140, 32),
    reportIdMa: copy(buf, 0x160, 32),
    reportedTcb: buf.readBigUInt64LE(0x180),
    cpuidFamily: version >= 3 ? buf.readUInt8(0x188) : 0,
    cpuidModel: version >= 3 ? buf.readUInt8(0x189) : 0,
    cpuidStepping: version >= 3 ? buf.readUInt8(0x18a) : 0,
    chipId: copy(buf, 0x1a0, 64),
    committedTcb: buf.readBigUInt64LE(0x1e0),
    currentBuild: buf.readUInt8(0x1e8),
    currentMinor: buf.readUInt8(0x1e9),
    currentMajor: buf.readUInt8(0x1ea),
    committedBuild: buf.readUInt8(0x1ec),
    committedMinor: buf.readUInt8(0x1ed),
    committedMajor: buf.readUInt8(0x1ee),
    launchTcb: buf.readBigUInt64LE(0x1f0),
    launchMitVector: version >= 5 ? buf.readBigUInt64LE(0x1f8) : 0n,
    currentMitVector: version >= 5 ? buf.readBigUInt64LE(0x200) : 0n,
    signature: copy(buf, 0x2a0, 512),
    raw: buf,
  };
}

/** CPUID(1).EAX from family / model / stepping, as go-sev-guest's FmsToCpuid1Eax computes it. */
export function cpuid1EaxFromFms(family: number, model: number, stepping: number): number {
  const extendedFamily = family >= 0xf ? family - 0xf : 0;
  const familyId = family >= 0xf ? 0xf : family;
  return (
    (((extendedFamily & 0xff) << 20) |
      (((model >> 4) & 0xf) << 16) |
      ((familyId & 0xf) << 8) |
      ((model & 0xf) << 4) |
      (stepping & 0xf)) >>>
    0
  );
}

/** Family and model from CPUID(1).EAX. */
export function fmsFromCpuid1Eax(eax: number): { family: number; model: number; stepping: number } {
  const baseFamily = (eax >>> 8) & 0xf;
  const family = baseFamily === 0xf ? baseFamily + ((eax >>> 20) & 0xff) : baseFamily;
  const model = (((eax >>> 16) & 0xf) << 4) | ((eax >>> 4) & 0xf);
  return { family, model, stepping: eax & 0xf };
}

export interface TcbParts {
  readonly bootloader: number;
  readonly tee: number;
  readonly snp: number;
  readonly microcode: number;
  /** Turin and later only. */
  readonly fmc?: number;
}

/** TCB_VERSION components; Turin moves FMC to byte 0 (tee-abi.md §1.7). */
export function tcbParts(tcb: bigint, turin: boolean): TcbParts {
  const byte = (i: number): number => Number((tcb >> BigInt(8 * i)) & 0xffn);
  return turin
    ? { fmc: byte(0), bootloader: byte(1), tee: byte(2), snp: byte(3), microcode: byte(7) }
    : { bootloader: byte(0), tee: byte(1), snp: byte(6), microcode: byte(7) };
}
