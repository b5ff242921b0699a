/** The MeshAPI contract: embedded proto = meshapi.proto, wire bytes checked with protoc. */
import test from 'ava';
import { spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import { decodeNewMeshCertResponse, encodeNewMeshCertRequest, encodeNewMeshCertResponse, MESHAPI_PROTO } from '../../lib/meshapi/proto.js';

const protoDir = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'lib', 'meshapi');

function protoc(args: string[], input: Buffer): Promise<string> {
  return new Promise((resolve, reject) => {
    const p = spawn('protoc', args[0] === '--decode_raw' ? args : [`-I${protoDir}`, ...args, 'meshapi.proto']);
    let out = '';
    let err = '';
    p.stdout.on('data', (d: Buffer) => { out += d.toString(); });
    p.stderr.on('data', (d: Buffer) => { err += d.toString(); });
    p.on('close', (code) => { if (code === 0) resolve(out); else reject(new Error(`protoc: ${err}`)); });
    p.stdin.end(input);
  });
}

test('the embedded proto is meshapi.proto', async (t) => {
  t.is(MESHAPI_PROTO, await readFile(join(protoDir, 'meshapi.proto'), 'utf8'));
});

test('the request is zero bytes', (t) => {
  t.is(encodeNewMeshCertRequest().length, 0);
});

test('response fields 1..4 as protoc reads them', async (t) => {
  const bytes = encodeNewMeshCertResponse({
    meshCACert: Buffer.from('mesh'), certChain: Buffer.from('chain'), rootCACert: Buffer.from('root'), workloadSecret: Buffer.from([1, 2]),
  });
  t.is(await protoc(['--decode_raw'], bytes), '1: "mesh"\n2: "chain"\n3: "root"\n4: "\\001\\002"\n');
  t.regex(await protoc(['--decode=meshapi.NewMeshCertResponse'], bytes), /MeshCACert: "mesh"\nCertChain: "chain"\nRootCACert: "root"\n/);
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
    p.on('close', (code) => { if (code === 0) resolve(Buffer.concat(chunks)); else reject(new Error('protoc --encode failed')); });
    p.stdin.end(text);
  });
}
