/**
 * SEV-SNP report claims for mesh certificates (spec §7.3): non-critical extensions under
 * 1.3.9901.2.1.N, numbers as DER INTEGER, flags as DER BOOLEAN, byte fields as DER OCTET STRING.
 * TCB values are split per the Milan/Genoa layout (bootloader, TEE, SNP, microcode).
 */
import type { SnpReport } from '../attestation/snp-report.js';

const BASE = '1.3.9901.2.1.';

function len(n: number): Buffer {
  if (n < 0x80) return Buffer.from([n]);
  const bytes: number[] = [];
  for (let v = n; v > 0; v = Math.floor(v / 256)) bytes.unshift(v & 0xff);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}

function tlv(tag: number, body: Buffer): Buffer {
  return Buffer.concat([Buffer.from([tag]), len(body.length), body]);
}

/** DER INTEGER of a non-negative value (minimal, with a 0x00 pad when the high bit is set). */
export function derInteger(value: bigint | number): Buffer {
  let v = BigInt(value);
  if (v < 0n) throw new RangeError('derInteger: expected a non-negative value');
  const bytes: number[] = [];
  do {
    bytes.unshift(Number(v & 0xffn));
    v >>= 8n;
  } while (v > 0n);
  if ((bytes[0] ?? 0) & 0x80) bytes.unshift(0);
  return tlv(0x02, Buffer.from(bytes));
}

export function derBoolean(value: boolean): Buffer {
  return tlv(0x01, Buffer.from([value ? 0xff : 0x00]));
}

export function derOctets(value: Uint8Array): Buffer {
  return tlv(0x04, Buffer.from(value));
}

const byte = (tcb: bigint, i: number): number => Number((tcb >> BigInt(8 * i)) & 0xffn);
const bit = (v: bigint | number, i: number): boolean => ((BigInt(v) >> BigInt(i)) & 1n) === 1n;

/** Bootloader, SNP, TEE, microcode of a TCB_VERSION (Milan/Genoa byte order). */
function tcb(v: bigint): number[] {
  return [byte(v, 0), byte(v, 6), byte(v, 1), byte(v, 7)];
}

/** The claims of one SNP report, in OID order. */
export function snpClaims(r: SnpReport): Array<{ oid: string; value: Buffer }> {
  const values: Array<[number, Buffer]> = [
    [1, derInteger(r.version)],
    [2, derInteger(r.guestSvn)],
    [3, derInteger((r.policy >>> 8) & 0xff)],
    [4, derInteger(r.policy & 0xff)],
    [5, derBoolean(bit(r.policy, 19))],
    [6, derBoolean(bit(r.policy, 18))],
    [7, derBoolean(bit(r.policy, 16))],
    [8, derBoolean(bit(r.policy, 20))],
    [9, derOctets(r.familyId)],
    [10, derOctets(r.imageId)],
    [11, derInteger(r.vmpl)],
    ...tcb(r.currentTcb).map((v, i): [number, Buffer] => [12 + i, derInteger(v)]),
    [16, derBoolean(bit(r.platformInfo, 0))],
    [17, derBoolean(bit(r.platformInfo, 1))],
    [18, derBoolean(bit(r.signerInfo, 0))], // AUTHOR_KEY_EN
    [19, derBoolean(bit(r.signerInfo, 1))], // MASK_CHIP_KEY
    [20, derInteger((r.signerInfo >>> 2) & 0x7)], // SIGNING_KEY: 0 VCEK, 1 VLEK
    [21, derOctets(r.reportData)],
    [22, derOctets(r.measurement)],
    [23, derOctets(r.hostData)],
    [24, derOctets(r.idKeyDigest)],
    [25, derOctets(r.authorKeyDigest)],
    [26, derOctets(r.reportId)],
    [27, derOctets(r.reportIdMa)],
    ...tcb(r.reportedTcb).map((v, i): [number, Buffer] => [28 + i, derInteger(v)]),
    [32, derOctets(r.chipId)],
    ...tcb(r.committedTcb).map((v, i): [number, Buffer] => [33 + i, derInteger(v)]),
    [37, derInteger(r.currentBuild)],
    [38, derInteger(r.currentMinor)],
    [39, derInteger(r.currentMajor)],
    [40, derInteger(r.committedBuild)],
    [41, derInteger(r.committedMinor)],
    [42, derInteger(r.committedMajor)],
    ...tcb(r.launchTcb).map((v, i): [number, Buffer] => [43 + i, derInteger(v)]),
  ];
  return values.map(([n, value]) => ({ oid: `${BASE}${n}`, value }));
}
