/**
 * The client's NewMeshCert codec, written by hand so that the client path loads no protobuf library:
 * the request is empty on the wire; the response is four `bytes` fields (1 MeshCACert, 2 CertChain,
 * 3 RootCACert, 4 WorkloadSecret). Unknown fields are skipped, missing ones decode as empty, the last
 * occurrence of a field wins (proto3). proto.ts holds the .proto and protobufjs for the server side;
 * test/meshapi checks this codec against both and against protoc.
 */
import { MeshApiError } from './errors.js';

export const NEW_MESH_CERT_PATH = '/meshapi.MeshAPI/NewMeshCert';

export interface NewMeshCertResponse {
  readonly meshCACert: Buffer;
  readonly certChain: Buffer;
  readonly rootCACert: Buffer;
  readonly workloadSecret: Buffer;
}

/** The request is empty: zero bytes on the wire. */
export function encodeNewMeshCertRequest(): Buffer {
  return Buffer.alloc(0);
}

function malformed(why: string): MeshApiError {
  return new MeshApiError('ERR_MESHAPI_MALFORMED', `NewMeshCertResponse: ${why}`);
}

/** Reads a base-128 varint at `pos`; returns the value (up to 2^53) and the next position. */
function varint(buf: Uint8Array, pos: number): [number, number] {
  let value = 0;
  let scale = 1;
  for (let i = 0; i < 10; i++) {
    const b = buf[pos + i];
    if (b === undefined) throw malformed(`truncated varint at offset ${pos}`);
    value += (b & 0x7f) * scale;
    scale *= 128;
    if ((b & 0x80) === 0) return [value, pos + i + 1];
  }
  throw malformed(`varint longer than 10 bytes at offset ${pos}`);
}

/** Skips one field of `wireType` starting at `pos` (after its key). */
function skip(buf: Uint8Array, pos: number, wireType: number, field: number): number {
  switch (wireType) {
    case 0:
      return varint(buf, pos)[1];
    case 1:
      if (pos + 8 > buf.length) throw malformed(`truncated 64-bit field ${field}`);
      return pos + 8;
    case 2: {
      const [len, start] = varint(buf, pos);
      if (start + len > buf.length) throw malformed(`field ${field}: length ${len} runs past the end`);
      return start + len;
    }
    case 3: {
      // A group: skip nested fields until the matching end-group key.
      let p = pos;
      for (;;) {
        if (p >= buf.length) throw malformed(`group ${field} not closed`);
        const [key, next] = varint(buf, p);
        if ((key & 7) === 4) {
          if (Math.floor(key / 8) !== field) throw malformed(`group ${field} closed by end of ${Math.floor(key / 8)}`);
          return next;
        }
        p = skip(buf, next, key & 7, Math.floor(key / 8));
      }
    }
    case 5:
      if (pos + 4 > buf.length) throw malformed(`truncated 32-bit field ${field}`);
      return pos + 4;
    default:
      throw malformed(`field ${field}: invalid wire type ${wireType}`);
  }
}

/** Decodes the response; throws MeshApiError ERR_MESHAPI_MALFORMED on bytes that are not a protobuf message. */
export function decodeNewMeshCertResponse(bytes: Uint8Array): NewMeshCertResponse {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const fields: Buffer[] = [Buffer.alloc(0), Buffer.alloc(0), Buffer.alloc(0), Buffer.alloc(0)];
  for (let pos = 0; pos < buf.length;) {
    const [key, next] = varint(buf, pos);
    const field = Math.floor(key / 8);
    const wireType = key & 7;
    if (field === 0) throw malformed(`field number 0 at offset ${pos}`);
    if (field >= 1 && field <= 4) {
      if (wireType !== 2) throw malformed(`field ${field}: wire type ${wireType}, expected 2 (bytes)`);
      const [len, start] = varint(buf, next);
      if (start + len > buf.length) throw malformed(`field ${field}: length ${len} runs past the end`);
      fields[field - 1] = Buffer.from(buf.subarray(start, start + len));
      pos = start + len;
    } else {
      pos = skip(buf, next, wireType, field);
    }
  }
  const [meshCACert, certChain, rootCACert, workloadSecret] = fields as [Buffer, Buffer, Buffer, Buffer];
  return { meshCACert, certChain, rootCACert, workloadSecret };
}
