/** The MeshAPI contract: wire bytes checked with protoc and protobufjs. */
import test from 'ava';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import { randomBytes } from 'node:crypto';
import {
  decodeNewMeshCertResponse,
  encodeNewMeshCertRequest,
  encodeNewMeshCertResponse,
} from '../../lib/meshapi/wire.js';
import { decodeNewMeshCertResponseProtobufjs } from '../protobuf/protobufjs-reference.js';
import { MeshApiError } from '../../lib/meshapi/errors.js';

const protoDir = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'lib', 'meshapi');

function protoc(args: string[], input: Buffer): Promise<string> {
  return new Promise((resolve, reject) => {
    const p = spawn('protoc', args[0] === '--decode_raw' ? args : [`-I${protoDir}`, ...args, 'meshapi.proto']);
    let out = '';
    let err = '';
    p.stdout.on('data', (d: Buffer) => {
      out += d.toString();
    });
    p.stderr.on('data', (d: Buffer) => {
      err += d.toString();
    });
    p.on('close', (code) => {
      if (code === 0) resolve(out);
      else reject(new Error(`protoc: ${err}`));
    });
    p.stdin.end(input);
  });
}

// meshapi.proto is no longer embedded (no protobuf library reads it at run time); the codec's message
// description is checked against it in test/protobuf/descriptions.test.ts.

test('the request is zero bytes', (t) => {
  t.is(encodeNewMeshCertRequest().length, 0);
});

test('response fields 1..4 as protoc reads them', async (t) => {
  const bytes = encodeNewMeshCertResponse({
    meshCACert: Buffer.from('mesh'),
    certChain: Buffer.from('chain'),
    rootCACert: Buffer.from('root'),
    workloadSecret: Buffer.from([1, 2]),
  });
  t.is(await protoc(['--decode_raw'], bytes), '1: "mesh"\n2: "chain"\n3: "root"\n4: "\\001\\002"\n');
  t.regex(
    await protoc(['--decode=meshapi.NewMeshCertResponse'], bytes),
    /MeshCACert: "mesh"\nCertChain: "chain"\nRootCACert: "root"\n/,
  );
});

test('decoding ignores unknown fields and tolerates missing ones', async (t) => {
  const encoded = Buffer.from(await protocEncode('MeshCACert: "m" RootCACert: "r"'));
  const withUnknown = Buffer.concat([encoded, Buffer.from([0x2a, 0x01, 0x41, 0x30, 0x07])]);
  const r = decodeNewMeshCertResponse(withUnknown);
  t.deepEqual(r.meshCACert, Buffer.from('m'));
  t.deepEqual(r.rootCACert, Buffer.from('r'));
  t.is(r.certChain.length, 0);
  t.is(r.workloadSecret.length, 0);
  t.throws(() => decodeNewMeshCertResponse(Buffer.from([0x0a, 0x10, 0x41])));
});

function protocEncode(text: string): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const p = spawn('protoc', [`-I${protoDir}`, '--encode=meshapi.NewMeshCertResponse', 'meshapi.proto']);
    const chunks: Buffer[] = [];
    p.stdout.on('data', (d: Buffer) => chunks.push(d));
    p.on('close', (code) => {
      if (code === 0) resolve(Buffer.concat(chunks));
      else reject(new Error('protoc --encode failed'));
    });
    p.stdin.end(text);
  });
}

test('the hand-written decoder agrees with protobufjs on random responses', (t) => {
  for (let i = 0; i < 200; i++) {
    const size = (): number => [0, 1, 127, 128, 300, 20_000][i % 6] ?? 0;
    const r = {
      meshCACert: randomBytes(size()),
      certChain: randomBytes((i * 7) % 500),
      rootCACert: randomBytes(i % 3 === 0 ? 0 : 40),
      workloadSecret: randomBytes(i % 2 === 0 ? 32 : 0),
    };
    const bytes = encodeNewMeshCertResponse(r);
    t.deepEqual(decodeNewMeshCertResponse(bytes), decodeNewMeshCertResponseProtobufjs(bytes));
    t.deepEqual(decodeNewMeshCertResponse(bytes), r);
  }
});

test('the hand-written decoder skips unknown fields of every wire type, like protobufjs', async (t) => {
  const encoded = Buffer.from(await protocEncode('MeshCACert: "m" CertChain: "c" RootCACert: "r" WorkloadSecret: "s"'));
  const unknown = Buffer.from([
    0x28,
    0xff,
    0xff,
    0xff,
    0xff,
    0x0f, // field 5 varint
    0x31,
    1,
    2,
    3,
    4,
    5,
    6,
    7,
    8, // field 6 fixed64
    0x3d,
    1,
    2,
    3,
    4, // field 7 fixed32
    0xc2,
    0x3e,
    0x02,
    0x41,
    0x42, // field 1000 bytes
    0x43,
    0x48,
    0x01,
    0x44, // field 8 group holding field 9 varint
  ]);
  const mixed = Buffer.concat([unknown.subarray(0, 6), encoded, unknown.subarray(6)]);
  const expected = {
    meshCACert: Buffer.from('m'),
    certChain: Buffer.from('c'),
    rootCACert: Buffer.from('r'),
    workloadSecret: Buffer.from('s'),
  };
  t.deepEqual(decodeNewMeshCertResponse(mixed), expected);
  t.deepEqual(decodeNewMeshCertResponseProtobufjs(mixed), expected);
  // The last occurrence of a field wins.
  t.deepEqual(
    decodeNewMeshCertResponse(Buffer.concat([encoded, Buffer.from([0x0a, 0x01, 0x5a])])).meshCACert,
    Buffer.from('Z'),
  );
});

const malformed: Array<[string, number[]]> = [
  ['length past the end', [0x0a, 0x10, 0x41]],
  ['truncated varint key', [0x80]],
  ['field 1 as a varint', [0x08, 0x01]],
  ['truncated fixed64', [0x31, 1, 2]],
  ['unclosed group', [0x43, 0x48, 0x01]],
  ['invalid wire type 7', [0x2f]],
];
for (const [name, bytes] of malformed) {
  test(`the hand-written decoder rejects malformed bytes: ${name}`, (t) => {
    const err = t.throws(() => decodeNewMeshCertResponse(Buffer.from(bytes)), { instanceOf: MeshApiError });
    t.is(err.code, 'ERR_MESHAPI_MALFORMED');
    t.throws(() => decodeNewMeshCertResponseProtobufjs(Buffer.from(bytes)));
  });
}

test('the hand-written decoder rejects field number 0 (as Go does; protobufjs is lenient)', (t) => {
  const err = t.throws(() => decodeNewMeshCertResponse(Buffer.from([0x02, 0x00])), { instanceOf: MeshApiError });
  t.is(err.code, 'ERR_MESHAPI_MALFORMED');
});
