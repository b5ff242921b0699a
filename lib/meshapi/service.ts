/**
 * Server side of the MeshAPI for grpc-js (`Server.addService`): the service definition and an adapter
 * from an async handler to grpc-js's callback style. A handler throws MeshApiStatus to answer with a
 * specific gRPC status (e.g. PERMISSION_DENIED); anything else becomes INTERNAL.
 */
import {
  status as GrpcStatus,
  type ServiceDefinition,
  type ServerUnaryCall,
  type sendUnaryData,
  type UntypedServiceImplementation,
} from '@grpc/grpc-js';
import { ContrastError, errorMessage } from '../errors.js';
import {
  decodeNewMeshCertRequest,
  decodeNewMeshCertResponse,
  encodeNewMeshCertRequest,
  encodeNewMeshCertResponse,
  NEW_MESH_CERT_PATH,
  type NewMeshCertResponse,
} from './wire.js';

export class MeshApiStatus extends ContrastError {
  readonly code = 'ERR_MESHAPI_STATUS';
  constructor(
    readonly grpcCode: GrpcStatus,
    message: string,
  ) {
    super(message);
  }
}

/** `peer` is grpc-js's "address:port" of the connection the call arrived on. */
/** Answers for one peer; may answer at once or later, and a throw is the call's error either way. */
export type NewMeshCertHandler = (peer: string) => NewMeshCertResponse | Promise<NewMeshCertResponse>;

export const meshApiDefinition: ServiceDefinition = {
  NewMeshCert: {
    path: NEW_MESH_CERT_PATH,
    requestStream: false,
    responseStream: false,
    requestSerialize: () => encodeNewMeshCertRequest(),
    requestDeserialize: (b: Buffer) => decodeNewMeshCertRequest(b),
    responseSerialize: (r: NewMeshCertResponse) => encodeNewMeshCertResponse(r),
    responseDeserialize: (b: Buffer) => decodeNewMeshCertResponse(b),
    originalName: 'NewMeshCert',
  },
};

export function meshApiImplementation(handler: NewMeshCertHandler): UntypedServiceImplementation {
  return {
    NewMeshCert: (
      call: ServerUnaryCall<unknown, NewMeshCertResponse>,
      callback: sendUnaryData<NewMeshCertResponse>,
    ) => {
      Promise.resolve()
        .then(() => handler(call.getPeer()))
        .then(
          (r) => {
            callback(null, r);
          },
          (err: unknown) => {
            if (err instanceof MeshApiStatus) callback({ code: err.grpcCode, details: err.message });
            else callback({ code: GrpcStatus.INTERNAL, details: errorMessage(err) });
          },
        );
    },
  };
}
