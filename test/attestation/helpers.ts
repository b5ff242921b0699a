/** Fixture access for the attestation tests. */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { ExecutionContext } from 'ava';
import { AttestationError } from '../../lib/attestation/errors.js';

export const FIXTURES = fileURLToPath(new URL('../fixtures/attestation/', import.meta.url));

export function fixture(name: string): Buffer {
  return readFileSync(FIXTURES + name);
}

export function fixtureText(name: string): string {
  return readFileSync(FIXTURES + name, 'utf8');
}

export const milanReport = (): Buffer => fixture('snp/milan-report.bin');
export const milanVcek = (): Buffer => fixture('snp/milan-vcek.der');
export const milanAskArk = (): string => fixtureText('snp/ask-ark-milan.pem');
export const genoaAskArk = (): string => fixtureText('snp/ask-ark-genoa.pem');
export const tdxQuote = (): Buffer => fixture('tdx/spr-e4-quote-v4.dat');
export const intelRoot = (): string => fixtureText('tdx/intel-sgx-root-ca.pem');

/** Asserts that `fn` throws an AttestationError with `code`. */
export function throwsCode(t: ExecutionContext, fn: () => unknown, code: string): AttestationError {
  const err = t.throws(fn, { instanceOf: AttestationError });
  const got: string = err.code;
  t.is(got, code, err.message);
  return err;
}

export async function rejectsCode(t: ExecutionContext, p: Promise<unknown>, code: string): Promise<AttestationError> {
  const err = await t.throwsAsync(p, { instanceOf: AttestationError });
  const got: string = err.code;
  t.is(got, code, err.message);
  return err;
}

export function flipBit(buf: Buffer, byte: number, bit: number): Buffer {
  const out = Buffer.from(buf);
  out[byte] = (out[byte] ?? 0) ^ (1 << bit);
  return out;
}

export const PROTO_DIR = fileURLToPath(new URL('../../lib/attestation/proto/', import.meta.url));

/** `protoc --decode` with our .proto files (and the system's well-known types). */
export function protocDecode(type: string, file: string, bytes: Uint8Array): string {
  return execFileSync('protoc', [`-I${PROTO_DIR}`, '-I/usr/include', `--decode=${type}`, file], {
    input: bytes,
  }).toString();
}
