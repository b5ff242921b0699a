/**
 * A real containerd under a temporary directory, and the CRI `RuntimeService/Status` call over its unix
 * socket (grpc-js + a small hand-written proto).
 */
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { promisify } from 'node:util';
import { existsSync } from 'node:fs';
import * as grpc from '@grpc/grpc-js';
import protobuf from 'protobufjs';

const run = promisify(execFile);

const PROTO = `
syntax = "proto3";
package runtime.v1;
message StatusRequest { bool verbose = 1; }
message RuntimeCondition { string type = 1; bool status = 2; string reason = 3; string message = 4; }
message RuntimeStatus { repeated RuntimeCondition conditions = 1; }
message StatusResponse { RuntimeStatus status = 1; map<string, string> info = 2; }
`;

const root = protobuf.parse(PROTO).root;
const StatusRequest = root.lookupType('runtime.v1.StatusRequest');
const StatusResponse = root.lookupType('runtime.v1.StatusResponse');

export interface CriStatus {
  readonly info: Record<string, string>;
}

/** Calls Status(verbose) on the CRI socket, retrying until containerd answers or the deadline passes. */
export async function criStatus(socket: string, deadlineMs = 30_000): Promise<CriStatus> {
  const end = Date.now() + deadlineMs;
  let last: unknown;
  while (Date.now() < end) {
    try {
      return await callStatus(socket);
    } catch (err) {
      last = err;
      await new Promise((r) => setTimeout(r, 200));
    }
  }
  throw new Error(`CRI Status on ${socket} failed: ${String(last)}`);
}

function callStatus(socket: string): Promise<CriStatus> {
  const client = new grpc.Client(`unix://${socket}`, grpc.credentials.createInsecure());
  return new Promise((resolve, reject) => {
    client.makeUnaryRequest(
      '/runtime.v1.RuntimeService/Status',
      (req: object) => Buffer.from(StatusRequest.encode(StatusRequest.create(req)).finish()),
      (buf: Buffer) => StatusResponse.toObject(StatusResponse.decode(buf), { defaults: true }) as CriStatus,
      { verbose: true },
      { deadline: Date.now() + 5000 },
      (err, res) => {
        client.close();
        if (err !== null || res === undefined) reject(err ?? new Error('no response'));
        else resolve(res);
      },
    );
  });
}

/** The runtimes map from the verbose `config` info (CRI plugin config as JSON). */
export function criRuntimes(status: CriStatus): Record<string, Record<string, unknown>> {
  const config = JSON.parse(status.info['config'] ?? '{}') as {
    containerd?: { runtimes?: Record<string, Record<string, unknown>> };
  };
  return config.containerd?.runtimes ?? {};
}

/** `containerd --config <file> config dump`: resolves with stdout, rejects with stderr on a bad config. */
export async function containerdConfigDump(config: string): Promise<string> {
  const { stdout } = await run('containerd', ['--config', config, 'config', 'dump'], { maxBuffer: 16 << 20 });
  return stdout;
}

export interface RunningContainerd {
  readonly child: ChildProcess;
  stop(): Promise<void>;
}

/** Starts containerd on `config`; the config must redirect root, state and sockets to temp dirs. */
export function startContainerd(config: string, logFile: (chunk: Buffer) => void): RunningContainerd {
  const child = spawn('containerd', ['--config', config], { stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout.on('data', logFile);
  child.stderr.on('data', logFile);
  return {
    child,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(t);
    },
  };
}

export function socketExists(path: string): boolean {
  return existsSync(path);
}
