/**
 * Fuzzing the attestation parsers: targets (every parser and verifier reachable from untrusted
 * bytes), seeds (the real samples and documents built from them) and a seeded mutator. Shared by
 * the bounded CI test (fuzz.test.ts) and the long run (bench/attestation-fuzz.ts).
 */
import { AttestationError } from '../../lib/attestation/errors.js';
import { parseSnpReport } from '../../lib/attestation/snp-report.js';
import { decodeSnpDocument, encodeSnpDocument } from '../../lib/attestation/snp-document.js';
import { parseTdxQuote } from '../../lib/attestation/tdx-quote.js';
import { decodeTdxDocument, encodeTdxDocument } from '../../lib/attestation/tdx-document.js';
import { decodeInsecureDocument, encodeInsecureDocument } from '../../lib/attestation/insecure.js';
import { inspect } from '../../lib/attestation/inspect.js';
import { SnpValidator, TdxValidator } from '../../lib/attestation/validators.js';
import { milanAskArk, milanReport, milanVcek, tdxQuote, intelRoot } from './helpers.js';

export type Seeds = Readonly<
  Record<'snpReport' | 'tdxQuote' | 'snpDocument' | 'tdxDocument' | 'insecureDocument', Buffer>
>;

export function seeds(): Seeds {
  const snp = milanReport();
  const tdx = tdxQuote();
  return {
    snpReport: snp,
    tdxQuote: tdx,
    snpDocument: encodeSnpDocument({
      report: parseSnpReport(snp),
      product: 'Milan',
      machineStepping: 0,
      chain: { vcek: milanVcek() },
    }),
    tdxDocument: encodeTdxDocument(parseTdxQuote(tdx)),
    insecureDocument: encodeInsecureDocument({ reportData: Buffer.alloc(64, 1), hostData: Buffer.alloc(32, 2) }),
  };
}

export type Target = (input: Buffer) => unknown;

/** Synchronous parsers; each must return or throw an AttestationError. */
export const PARSERS: Readonly<Record<string, Target>> = {
  parseSnpReport,
  parseTdxQuote,
  decodeSnpDocument,
  decodeTdxDocument,
  decodeInsecureDocument,
  inspect: (b) => inspect(b, 'fuzz input', { now: new Date('2026-01-01T00:00:00Z') }),
};

/** Validators over documents (signature and chain paths too). */
export function validators(): { snp: SnpValidator; tdx: TdxValidator } {
  const now = (): Date => new Date('2026-01-01T00:00:00Z');
  return {
    snp: new SnpValidator({ trustedArkPems: [milanAskArk()], now }),
    tdx: new TdxValidator({ trustedRootPems: [intelRoot()], now }),
  };
}

/** xorshift32: reproducible from its seed. */
export function rng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x / 0x100000000;
  };
}

/** A mutated copy: bit flips, byte overwrites, insertions, deletions, truncation or random bytes. */
export function mutate(input: Buffer, r: () => number): Buffer {
  const pick = (n: number): number => Math.floor(r() * n);
  let b = Buffer.from(input);
  const rounds = 1 + pick(4);
  for (let i = 0; i < rounds; i++) {
    const op = pick(7);
    const at = pick(Math.max(b.length, 1));
    if (op === 0 && b.length > 0) b[at] = (b[at] ?? 0) ^ (1 << pick(8));
    else if (op === 1 && b.length > 0) b[at] = pick(256);
    else if (op === 2)
      b = Buffer.concat([
        b.subarray(0, at),
        Buffer.from(Array.from({ length: 1 + pick(8) }, () => pick(256))),
        b.subarray(at),
      ]);
    else if (op === 3) b = Buffer.concat([b.subarray(0, at), b.subarray(at + 1 + pick(16))]);
    else if (op === 4) b = b.subarray(0, at);
    else if (op === 5 && b.length >= 4)
      b.writeUInt32LE([0, 0xffffffff, 0x7fffffff, 1, b.length][pick(5)] ?? 0, Math.min(at, b.length - 4));
    else b = Buffer.from(Array.from({ length: pick(64) }, () => pick(256)));
  }
  return b;
}

export interface Untyped {
  readonly target: string;
  readonly input: Buffer;
  readonly error: unknown;
}

/** Runs a target; returns undefined when it returned or threw an AttestationError. */
export function runTarget(name: string, target: Target, input: Buffer): Untyped | undefined {
  try {
    target(input);
    return undefined;
  } catch (error) {
    return error instanceof AttestationError ? undefined : { target: name, input, error };
  }
}

export async function runValidator(
  name: string,
  validate: (d: Buffer) => Promise<unknown>,
  input: Buffer,
): Promise<Untyped | undefined> {
  try {
    await validate(input);
    return undefined;
  } catch (error) {
    return error instanceof AttestationError ? undefined : { target: name, input, error };
  }
}
