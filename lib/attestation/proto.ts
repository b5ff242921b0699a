/**
 * The one adapter to protobufjs: the document schemas as a resolved root and u64 conversions, for the
 * DECODERS (validators, `report inspect`). The issuing path must not import this module: the documents
 * are encoded by pb-writer.ts (test/attestation/issuing-imports.test.ts checks it); `u64` and `omitZero`
 * remain for the protobufjs reference encoders the tests compare against.
 */
import protobuf from 'protobufjs';
import { SEVSNP_PROTO, TDX_PROTO } from './proto-text.js';
import { AttestationError, ATTESTATION_ERROR_CODES } from './errors.js';
import { errorMessage } from '../errors.js';

function buildRoot(): protobuf.Root {
  const root = new protobuf.Root();
  const wrappers = protobuf.common.get('google/protobuf/wrappers.proto');
  if (wrappers?.nested !== undefined) root.addJSON(wrappers.nested);
  protobuf.parse(SEVSNP_PROTO, root, { keepCase: true });
  protobuf.parse(TDX_PROTO, root, { keepCase: true });
  root.resolveAll();
  return root;
}

const ROOT = buildRoot();

export const SnpAttestationType = ROOT.lookupType('sevsnp.Attestation');
export const TdxQuoteV4Type = ROOT.lookupType('tdx.QuoteV4');

/** A u64 for protobufjs' writer without precision loss. */
export function u64(v: bigint): protobuf.Long {
  return { low: Number(v & 0xffffffffn) | 0, high: Number((v >> 32n) & 0xffffffffn) | 0, unsigned: true };
}

/** A decoded u64 (number or Long) as bigint. */
export function toBigint(v: unknown): bigint {
  if (typeof v === 'number') return BigInt(v);
  if (typeof v === 'object' && v !== null && 'low' in v && 'high' in v) {
    const { low, high } = v as { low: number; high: number };
    return (BigInt(high >>> 0) << 32n) | BigInt(low >>> 0);
  }
  return 0n;
}

/** Decodes `bytes` as `type`; any protobufjs failure becomes a DOCUMENT error naming `what`. */
export function decodeMessage(type: protobuf.Type, bytes: Uint8Array, what: string): Record<string, unknown> {
  try {
    return type.decode(bytes) as unknown as Record<string, unknown>;
  } catch (err) {
    throw new AttestationError(ATTESTATION_ERROR_CODES.DOCUMENT, `${what}: not a ${type.fullName.slice(1)} protobuf message: ${errorMessage(err)}`, { cause: err });
  }
}

/** Go's proto3 encoding omits zero scalars and empty bytes; so do we. */
export function omitZero<T>(v: T): T | undefined {
  if (v === 0 || v === 0n) return undefined;
  if (v instanceof Uint8Array && v.length === 0) return undefined;
  return v;
}
