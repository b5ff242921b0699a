/**
 * The MeshAPI NewMeshCert codec on the project's protobuf module (lib/protobuf), for both the client
 * (lib/meshapi/client.ts) and the server (service.ts, used by the development Coordinator): the request
 * is empty on the wire; the response is four `bytes` fields (1 MeshCACert, 2 CertChain, 3 RootCACert,
 * 4 WorkloadSecret), field numbers from meshapi.proto beside this file (the facts; test/protobuf checks
 * the description against it). Unknown fields are skipped, missing ones decode as empty, the last
 * occurrence of a field wins (proto3). test/meshapi checks the bytes against protoc and protobufjs.
 */
import { decodeMessage, describe, type MessageDescription } from '../protobuf/message.js';
import { ProtoWriter } from '../protobuf/writer.js';
import { errorMessage } from '../errors.js';
import { MeshApiError } from './errors.js';

export const NEW_MESH_CERT_PATH = '/meshapi.MeshAPI/NewMeshCert';

export interface NewMeshCertResponse {
  readonly meshCACert: Buffer;
  readonly certChain: Buffer;
  readonly rootCACert: Buffer;
  readonly workloadSecret: Buffer;
}

/** meshapi.NewMeshCertRequest: field 1 is reserved; nothing is known. */
export const NEW_MESH_CERT_REQUEST: MessageDescription = { name: 'meshapi.NewMeshCertRequest', fields: {} };

export const NEW_MESH_CERT_RESPONSE = describe(
  'meshapi.NewMeshCertResponse',
  'MeshCACert:bytes CertChain:bytes RootCACert:bytes WorkloadSecret:bytes',
);

function decode(desc: MessageDescription, bytes: Uint8Array): Record<string, unknown> {
  try {
    return decodeMessage(desc, bytes);
  } catch (err) {
    throw new MeshApiError('ERR_MESHAPI_MALFORMED', `${desc.name.slice('meshapi.'.length)}: ${errorMessage(err)}`, {
      cause: err,
    });
  }
}

/** The request is empty: zero bytes on the wire. */
export function encodeNewMeshCertRequest(): Buffer {
  return Buffer.alloc(0);
}

/** Checks that the request is a well-formed message (its content is ignored); MeshApiError otherwise. */
export function decodeNewMeshCertRequest(bytes: Uint8Array): Record<string, never> {
  decode(NEW_MESH_CERT_REQUEST, bytes);
  return {};
}

/** All four fields, also when empty (as protobufjs wrote them for the server before). */
export function encodeNewMeshCertResponse(r: NewMeshCertResponse): Buffer {
  return new ProtoWriter()
    .bytes(1, r.meshCACert)
    .bytes(2, r.certChain)
    .bytes(3, r.rootCACert)
    .bytes(4, r.workloadSecret)
    .finish();
}

/** Decodes the response; throws MeshApiError ERR_MESHAPI_MALFORMED on bytes that are not a protobuf message. */
export function decodeNewMeshCertResponse(bytes: Uint8Array): NewMeshCertResponse {
  const m = decode(NEW_MESH_CERT_RESPONSE, bytes);
  const buf = (v: unknown): Buffer =>
    v instanceof Uint8Array ? Buffer.from(v.buffer, v.byteOffset, v.byteLength) : Buffer.alloc(0);
  return {
    meshCACert: buf(m['MeshCACert']),
    certChain: buf(m['CertChain']),
    rootCACert: buf(m['RootCACert']),
    workloadSecret: buf(m['WorkloadSecret']),
  };
}
