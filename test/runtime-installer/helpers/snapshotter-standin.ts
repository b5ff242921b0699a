/**
 * A small snapshotter on a unix socket speaking containerd's snapshots gRPC API
 * (containerd.services.snapshots.v1.Snapshots), as containerd's proxy plugin calls it: Prepare and
 * Mounts answer one bind mount of a fixed source, List streams one committed snapshot; every call is
 * recorded with its key. Other methods answer UNIMPLEMENTED.
 */
import * as grpc from '@grpc/grpc-js';
import protobuf from 'protobufjs';

const PROTO = `
syntax = "proto3";
package containerd.services.snapshots.v1;
message ListSnapshotsRequest { string snapshotter = 1; repeated string filters = 2; }
enum Kind { UNKNOWN = 0; VIEW = 1; ACTIVE = 2; COMMITTED = 3; }
message Timestamp { int64 seconds = 1; int32 nanos = 2; }
message Info { string name = 1; string parent = 2; Kind kind = 3; Timestamp created_at = 4; Timestamp updated_at = 5; map<string, string> labels = 6; }
message ListSnapshotsResponse { repeated Info info = 1; }
message PrepareSnapshotRequest { string snapshotter = 1; string key = 2; string parent = 3; map<string, string> labels = 4; }
message Mount { string type = 1; string source = 2; string target = 3; repeated string options = 4; }
message PrepareSnapshotResponse { repeated Mount mounts = 1; }
message MountsRequest { string snapshotter = 1; string key = 2; }
message MountsResponse { repeated Mount mounts = 1; }
`;

const root = protobuf.parse(PROTO).root;
const ListRequest = root.lookupType('containerd.services.snapshots.v1.ListSnapshotsRequest');
const ListResponse = root.lookupType('containerd.services.snapshots.v1.ListSnapshotsResponse');

/** A method definition for grpc-js from two message types of the proto above. */
function method(name: string, req: string, res: string, responseStream: boolean) {
  const Req = root.lookupType(`containerd.services.snapshots.v1.${req}`);
  const Res = root.lookupType(`containerd.services.snapshots.v1.${res}`);
  return {
    path: `/containerd.services.snapshots.v1.Snapshots/${name}`,
    requestStream: false,
    responseStream,
    requestSerialize: (v: object) => Buffer.from(Req.encode(Req.create(v)).finish()),
    requestDeserialize: (b: Buffer) => Req.toObject(Req.decode(b)),
    responseSerialize: (v: object) => Buffer.from(Res.encode(Res.create(v)).finish()),
    responseDeserialize: (b: Buffer) => Res.toObject(Res.decode(b)),
  };
}

/** The bind mount every snapshot of the stand-in consists of. */
export const STAND_IN_MOUNT = { type: 'bind', source: '/stand-in/snapshot-source', options: ['ro', 'rbind'] };

export interface SnapshotterStandIn {
  readonly calls: { method: string; snapshotter: string; key?: string }[];
  close(): Promise<void>;
}

export async function startSnapshotterStandIn(socket: string, snapshotName: string): Promise<SnapshotterStandIn> {
  const calls: { method: string; snapshotter: string; key?: string }[] = [];
  const server = new grpc.Server();
  server.addService(
    {
      List: {
        path: '/containerd.services.snapshots.v1.Snapshots/List',
        requestStream: false,
        responseStream: true,
        requestSerialize: (v: object) => Buffer.from(ListRequest.encode(ListRequest.create(v)).finish()),
        requestDeserialize: (b: Buffer) => ListRequest.toObject(ListRequest.decode(b)),
        responseSerialize: (v: object) => Buffer.from(ListResponse.encode(ListResponse.create(v)).finish()),
        responseDeserialize: (b: Buffer) => ListResponse.toObject(ListResponse.decode(b)),
      },
      Prepare: method('Prepare', 'PrepareSnapshotRequest', 'PrepareSnapshotResponse', false),
      Mounts: method('Mounts', 'MountsRequest', 'MountsResponse', false),
    },
    {
      Prepare: (
        call: grpc.ServerUnaryCall<{ snapshotter?: string; key?: string }, object>,
        cb: grpc.sendUnaryData<object>,
      ) => {
        calls.push({ method: 'Prepare', snapshotter: call.request.snapshotter ?? '', key: call.request.key ?? '' });
        cb(null, { mounts: [STAND_IN_MOUNT] });
      },
      Mounts: (
        call: grpc.ServerUnaryCall<{ snapshotter?: string; key?: string }, object>,
        cb: grpc.sendUnaryData<object>,
      ) => {
        calls.push({ method: 'Mounts', snapshotter: call.request.snapshotter ?? '', key: call.request.key ?? '' });
        cb(null, { mounts: [STAND_IN_MOUNT] });
      },
      List: (call: grpc.ServerWritableStream<{ snapshotter?: string }, object>) => {
        calls.push({ method: 'List', snapshotter: call.request.snapshotter ?? '' });
        call.write({
          info: [
            {
              name: snapshotName,
              kind: 3,
              createdAt: { seconds: 1_700_000_000 },
              updatedAt: { seconds: 1_700_000_000 },
              labels: { 'stand-in': 'true' },
            },
          ],
        });
        call.end();
      },
    },
  );
  await new Promise<void>((resolve, reject) => {
    server.bindAsync(`unix://${socket}`, grpc.ServerCredentials.createInsecure(), (err) => {
      if (err === null) resolve();
      else reject(err);
    });
  });
  return {
    calls,
    close: () =>
      new Promise<void>((r) => {
        server.tryShutdown(() => {
          r();
        });
      }),
  };
}
