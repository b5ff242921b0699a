/**
 * The SEV-SNP certificate table (GHCB spec §4.1.8.1), as returned by SNP_GET_EXT_REPORT in the
 * certificate buffer and by configfs-tsm in `auxblob`.
 *
 * Layout: 24-byte entries { GUID (16 bytes, RFC 4122 byte order: the string's hex digits in order),
 * offset u32 LE, length u32 LE }, terminated by an all-zero entry; the certificates (DER) follow.
 * Offsets count from the start of the table.
 */
import { SnpCertTableError } from './tee-errors.js';

export type SnpCertName = 'vcek' | 'vlek' | 'ask' | 'ark' | 'asvk' | 'crl' | 'unknown';

export interface SnpCertEntry {
  guid: string;
  name: SnpCertName;
  der: Buffer;
}

/** GUIDs assigned by AMD (ASK and ASVK share one). */
export const SNP_CERT_GUIDS = {
  vcek: '63da758d-e664-4564-adc5-f4b93be8accd',
  vlek: 'a8074bc2-a25a-483e-aae6-39c045a0b8a1',
  ask: '4ab7b379-bbac-4fe4-a02f-05aef327c782',
  ark: 'c0b406a4-a803-4952-9743-3fb6014cd0ae',
  crl: '92f81bc3-5811-4d3d-97ff-d19f88dc67ea',
} as const;

const ENTRY = 24;

function nameOf(guid: string, hasVlek: boolean): SnpCertName {
  switch (guid) {
    case SNP_CERT_GUIDS.vcek:
      return 'vcek';
    case SNP_CERT_GUIDS.vlek:
      return 'vlek';
    // The ASK GUID carries the ASVK when the report is VLEK-signed.
    case SNP_CERT_GUIDS.ask:
      return hasVlek ? 'asvk' : 'ask';
    case SNP_CERT_GUIDS.ark:
      return 'ark';
    case SNP_CERT_GUIDS.crl:
      return 'crl';
    default:
      return 'unknown';
  }
}

function guidToString(b: Buffer): string {
  const h = b.toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
}

function guidToBytes(guid: string): Buffer {
  if (!/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(guid)) {
    throw new SnpCertTableError(`certificate GUID ${JSON.stringify(guid)}: expected 8-4-4-4-12 hex digits`);
  }
  return Buffer.from(guid.replaceAll('-', ''), 'hex');
}

interface RawEntry {
  guid: string;
  offset: number;
  length: number;
}

function readEntries(buf: Buffer): { entries: RawEntry[]; tableEnd: number } {
  const entries: RawEntry[] = [];
  for (let at = 0; ; at += ENTRY) {
    if (at + ENTRY > buf.length) {
      throw new SnpCertTableError(
        `certificate table of ${buf.length} bytes: expected an all-zero terminator entry, found none`,
      );
    }
    const guid = buf.subarray(at, at + 16);
    const offset = buf.readUInt32LE(at + 16);
    const length = buf.readUInt32LE(at + 20);
    if (guid.every((x) => x === 0) && offset === 0 && length === 0) return { entries, tableEnd: at + ENTRY };
    entries.push({ guid: guidToString(guid), offset, length });
  }
}

/**
 * Parses a certificate table. An empty buffer or one that starts with the terminator (no host
 * certificates) gives []. Throws SnpCertTableError for entries pointing into the entry array or
 * beyond the buffer.
 */
export function parseSnpCertTable(buf: Buffer): SnpCertEntry[] {
  if (buf.length === 0) return [];
  const { entries, tableEnd } = readEntries(buf);
  const hasVlek = entries.some((e) => e.guid === SNP_CERT_GUIDS.vlek);
  return entries.map((e) => {
    if (e.offset < tableEnd || e.offset + e.length > buf.length) {
      throw new SnpCertTableError(
        `certificate ${e.guid} at offset ${e.offset} length ${e.length}: expected within [${tableEnd}, ${buf.length}) after the entry array`,
      );
    }
    return {
      guid: e.guid,
      name: nameOf(e.guid, hasVlek),
      der: Buffer.from(buf.subarray(e.offset, e.offset + e.length)),
    };
  });
}

/**
 * The meaningful prefix of a certificate buffer: up to the end of the last certificate (what the
 * kernel keeps for configfs `auxblob`). An all-zero buffer (no certificates) gives an empty Buffer.
 */
export function trimSnpCertTable(buf: Buffer): Buffer {
  if (buf.length < ENTRY) return Buffer.alloc(0);
  const { entries, tableEnd } = readEntries(buf);
  if (entries.length === 0) return Buffer.alloc(0);
  let end = tableEnd;
  for (const e of entries) end = Math.max(end, e.offset + e.length);
  return Buffer.from(buf.subarray(0, Math.min(end, buf.length)));
}

/** Builds a certificate table (entries, terminator, then the certificates in order). */
export function encodeSnpCertTable(certs: readonly { guid: string; der: Uint8Array }[]): Buffer {
  const head = Buffer.alloc((certs.length + 1) * ENTRY);
  const bodies: Buffer[] = [];
  let offset = head.length;
  certs.forEach((c, i) => {
    guidToBytes(c.guid).copy(head, i * ENTRY);
    head.writeUInt32LE(offset, i * ENTRY + 16);
    head.writeUInt32LE(c.der.length, i * ENTRY + 20);
    bodies.push(Buffer.from(c.der));
    offset += c.der.length;
  });
  return Buffer.concat([head, ...bodies]);
}
