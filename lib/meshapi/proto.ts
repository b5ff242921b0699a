/**
 * The MeshAPI contract: meshapi.proto (beside this file) embedded, so that the compiled program needs no
 * data file at run time (a test keeps both identical), and the server's encoders on protobufjs. The
 * client's codec (request encoder, response decoder) is wire.ts, hand-written; it is re-exported here.
 * Decoding ignores unknown fields.
 */
import protobuf from 'protobufjs';
import type { NewMeshCertResponse } from './wire.js';

export { decodeNewMeshCertResponse, encodeNewMeshCertRequest, NEW_MESH_CERT_PATH, type NewMeshCertResponse } from './wire.js';

export const MESHAPI_PROTO = `// The Contrast Coordinator's mesh API (upstream internal/meshapi/meshapi.proto), written from the field
// table of the spec. Decoders ignore unknown fields.
syntax = "proto3";

package meshapi;

service MeshAPI {
  rpc NewMeshCert(NewMeshCertRequest) returns (NewMeshCertResponse);
  rpc Recover(RecoverRequest) returns (RecoverResponse);
}

message NewMeshCertRequest {
  // Field 1 was PeerPublicKeyHash (E0); the request is empty on the wire.
  reserved 1;
}

message NewMeshCertResponse {
  // PEM of the mesh CA certificate.
  bytes MeshCACert = 1;
  // PEM: workload (leaf) certificate, then the intermediate certificate.
  bytes CertChain = 2;
  // PEM of the Coordinator root CA.
  bytes RootCACert = 3;
  // Raw secret bytes; empty when the policy has no WorkloadSecretID. Upstream marks it
  // [debug_redact = true]; left out here so that protoc 3.21 (Debian 12) reads this file.
  bytes WorkloadSecret = 4;
}

message RecoverRequest {}

message RecoverResponse {
  bytes Seed = 1;
  bytes Salt = 2;
  bytes MeshCAKey = 3;
  bytes LatestManifest = 4;
}
`;

interface Codec {
  readonly request: protobuf.Type;
  readonly response: protobuf.Type;
}

function load(): Codec {
  const root = protobuf.parse(MESHAPI_PROTO, { keepCase: true }).root;
  return { request: root.lookupType('meshapi.NewMeshCertRequest'), response: root.lookupType('meshapi.NewMeshCertResponse') };
}

const CODEC = load();

function get(): Codec {
  return CODEC;
}

export function decodeNewMeshCertRequest(bytes: Uint8Array): Record<string, never> {
  get().request.decode(bytes);
  return {};
}

export function encodeNewMeshCertResponse(r: NewMeshCertResponse): Buffer {
  return Buffer.from(get().response.encode({
    MeshCACert: r.meshCACert, CertChain: r.certChain, RootCACert: r.rootCACert, WorkloadSecret: r.workloadSecret,
  }).finish());
}

/** protobufjs's decoder, kept for tests that compare it with the hand-written one. */
export function decodeNewMeshCertResponseProtobufjs(bytes: Uint8Array): NewMeshCertResponse {
  const T = get().response;
  const o = T.toObject(T.decode(bytes), { bytes: Buffer, defaults: true }) as Record<string, Buffer | undefined>;
  const buf = (v: Buffer | undefined): Buffer => (v === undefined ? Buffer.alloc(0) : Buffer.from(v));
  return { meshCACert: buf(o['MeshCACert']), certChain: buf(o['CertChain']), rootCACert: buf(o['RootCACert']), workloadSecret: buf(o['WorkloadSecret']) };
}
