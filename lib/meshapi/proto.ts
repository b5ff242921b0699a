/**
 * The MeshAPI contract: meshapi.proto (beside this file) embedded, so that the compiled program needs no
 * data file at run time (a test keeps both identical), and typed encoders/decoders on protobufjs.
 * Decoding ignores unknown fields.
 */
import protobuf from 'protobufjs';

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

export const NEW_MESH_CERT_PATH = '/meshapi.MeshAPI/NewMeshCert';

export interface NewMeshCertResponse {
  readonly meshCACert: Buffer;
  readonly certChain: Buffer;
  readonly rootCACert: Buffer;
  readonly workloadSecret: Buffer;
}

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

/** The request is empty: zero bytes on the wire. */
export function encodeNewMeshCertRequest(): Buffer {
  return Buffer.from(get().request.encode({}).finish());
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

/** Throws protobufjs errors on malformed input; missing fields decode as empty. */
export function decodeNewMeshCertResponse(bytes: Uint8Array): NewMeshCertResponse {
  const T = get().response;
  const o = T.toObject(T.decode(bytes), { bytes: Buffer, defaults: true }) as Record<string, Buffer | undefined>;
  const buf = (v: Buffer | undefined): Buffer => (v === undefined ? Buffer.alloc(0) : Buffer.from(v));
  return { meshCACert: buf(o['MeshCACert']), certChain: buf(o['CertChain']), rootCACert: buf(o['RootCACert']), workloadSecret: buf(o['WorkloadSecret']) };
}
