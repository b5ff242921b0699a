/** Subresource-integrity strings: `sha256-<base64>`, `sha384-...`, `sha512-...`. */

export type SriAlgorithm = 'sha256' | 'sha384' | 'sha512';

export interface Sri {
  readonly algorithm: SriAlgorithm;
  /** The raw digest. */
  readonly digest: Buffer;
  /** The original text, e.g. for log lines. */
  readonly text: string;
}

const DIGEST_BYTES: Record<SriAlgorithm, number> = { sha256: 32, sha384: 48, sha512: 64 };
const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;

/** Parses an SRI string; returns a problem description instead of throwing. */
export function parseSri(text: string): Sri | string {
  const dash = text.indexOf('-');
  const algorithm = dash > 0 ? text.slice(0, dash) : '';
  if (algorithm !== 'sha256' && algorithm !== 'sha384' && algorithm !== 'sha512') {
    return `integrity ${JSON.stringify(text)}: expected sha256-, sha384- or sha512- followed by base64`;
  }
  const b64 = text.slice(dash + 1);
  const digest = Buffer.from(b64, 'base64');
  if (!BASE64.test(b64) || b64.length % 4 !== 0 || digest.length !== DIGEST_BYTES[algorithm]) {
    return `integrity ${JSON.stringify(text)}: expected standard base64 of a ${DIGEST_BYTES[algorithm]}-byte ${algorithm} digest`;
  }
  return Object.freeze({ algorithm, digest, text });
}
