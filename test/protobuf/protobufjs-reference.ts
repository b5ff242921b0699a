/**
 * The tests' adapter to protobufjs, the reference our codec (lib/protobuf) is checked against: the
 * .proto files read from disk (they are the facts) into one resolved root, and u64 helpers.
 */
import protobuf from 'protobufjs';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const ROOT_DIR = fileURLToPath(new URL('../../', import.meta.url));

export const PROTO_FILES = {
  sevsnp: `${ROOT_DIR}lib/attestation/proto/sevsnp.proto`,
  tdx: `${ROOT_DIR}lib/attestation/proto/tdx.proto`,
  meshapi: `${ROOT_DIR}lib/meshapi/meshapi.proto`,
} as const;

function buildRoot(): protobuf.Root {
  const root = new protobuf.Root();
  const wrappers = protobuf.common.get('google/protobuf/wrappers.proto');
  if (wrappers?.nested !== undefined) root.addJSON(wrappers.nested);
  for (const file of Object.values(PROTO_FILES)) protobuf.parse(readFileSync(file, 'utf8'), root, { keepCase: true });
  root.resolveAll();
  return root;
}

export const REFERENCE_ROOT = buildRoot();
export const SnpAttestationType = REFERENCE_ROOT.lookupType('sevsnp.Attestation');
export const TdxQuoteV4Type = REFERENCE_ROOT.lookupType('tdx.QuoteV4');
export const NewMeshCertResponseType = REFERENCE_ROOT.lookupType('meshapi.NewMeshCertResponse');

/** A u64 for protobufjs' writer without precision loss. */
export function u64(v: bigint): protobuf.Long {
  return { low: Number(v & 0xffffffffn) | 0, high: Number((v >> 32n) & 0xffffffffn) | 0, unsigned: true };
}

/** A decoded u64 (number or Long) as bigint. */
export function longToBigint(v: unknown): bigint {
  if (typeof v === 'number') return BigInt(v);
  if (typeof v === 'object' && v !== null && 'low' in v && 'high' in v) {
    const { low, high } = v as { low: number; high: number };
    return (BigInt(high >>> 0) << 32n) | BigInt(low >>> 0);
  }
  return 0n;
}

/** Go's proto3 encoding omits zero scalars and empty bytes; so did the protobufjs encoders. */
export function omitZero<T>(v: T): T | undefined {
  if (v === 0 || v === 0n) return undefined;
  if (v instanceof Uint8Array && v.length === 0) return undefined;
  return v;
}

/** protobufjs's NewMeshCertResponse decoder, as the server used before. */
export function decodeNewMeshCertResponseProtobufjs(bytes: Uint8Array): {
  meshCACert: Buffer;
  certChain: Buffer;
  rootCACert: Buffer;
  workloadSecret: Buffer;
} {
  const T = NewMeshCertResponseType;
  const o = T.toObject(T.decode(bytes), { bytes: Buffer, defaults: true }) as Record<string, Buffer | undefined>;
  const buf = (v: Buffer | undefined): Buffer => (v === undefined ? Buffer.alloc(0) : Buffer.from(v));
  return {
    meshCACert: buf(o['MeshCACert']),
    certChain: buf(o['CertChain']),
    rootCACert: buf(o['RootCACert']),
    workloadSecret: buf(o['WorkloadSecret']),
  };
}
