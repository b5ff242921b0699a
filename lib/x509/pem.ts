/** PEM encoding and decoding (RFC 7468), strict about labels and base64. */
import { ContrastError } from '../errors.js';

export class PemError extends ContrastError {
  readonly code = 'ERR_PEM';
}

export interface PemBlock {
  readonly label: string;
  readonly der: Buffer;
}

/** One PEM block with 64-column base64 lines and a trailing newline. */
export function toPem(der: Uint8Array, label: string): string {
  const b64 = Buffer.from(der).toString('base64');
  const lines = b64.match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join('\n')}\n-----END ${label}-----\n`;
}

const BLOCK = /-----BEGIN ([A-Z0-9 ]+)-----\r?\n([A-Za-z0-9+/=\r\n]*?)-----END \1-----/g;

/** Every PEM block in `text`, in order. Throws when there is none. `what` names the input in errors. */
export function parsePem(text: string | Uint8Array, what: string): PemBlock[] {
  const s = typeof text === 'string' ? text : Buffer.from(text).toString('latin1');
  const out: PemBlock[] = [];
  for (const m of s.matchAll(BLOCK)) {
    const body = (m[2] ?? '').replace(/\s+/g, '');
    const der = Buffer.from(body, 'base64');
    if (der.length === 0 || der.toString('base64') !== body)
      throw new PemError(`${what}: PEM block ${m[1] ?? ''} has invalid base64`);
    out.push({ label: m[1] ?? '', der });
  }
  if (out.length === 0) throw new PemError(`${what}: expected PEM data, found none`);
  return out;
}

/** The DER of every block with `label` (e.g. CERTIFICATE). */
export function pemBlocks(text: string | Uint8Array, label: string, what: string): Buffer[] {
  const blocks = parsePem(text, what).filter((b) => b.label === label);
  if (blocks.length === 0) throw new PemError(`${what}: expected at least one ${label} PEM block`);
  return blocks.map((b) => b.der);
}
