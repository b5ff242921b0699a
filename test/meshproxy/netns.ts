/**
 * Two network namespaces joined by a veth pair ("client" pod and "server" pod), with addresses that
 * exist only inside them: 10.200.1.1/.2 and fd00:200::1/::2. Names include process.pid and a counter
 * so that parallel test files and other helpers never collide. `destroy()` deletes both namespaces
 * (and with them every interface, rule and listener socket inside).
 */
import { execFile, spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);

export const CLIENT_V4 = '10.200.1.1';
export const SERVER_V4 = '10.200.1.2';
export const CLIENT_V6 = 'fd00:200::1';
export const SERVER_V6 = 'fd00:200::2';

let counter = 0;

export interface NetnsPair {
  readonly client: string;
  readonly server: string;
  /** Runs a command inside a namespace; rejects on a non-zero exit. */
  exec(
    ns: string,
    cmd: string,
    args: readonly string[],
    env?: NodeJS.ProcessEnv,
  ): Promise<{ stdout: string; stderr: string }>;
  /** Starts a long-running process inside a namespace. */
  spawn(ns: string, cmd: string, args: readonly string[], options?: SpawnOptions): ChildProcess;
  destroy(): Promise<void>;
}

export async function createNetnsPair(tag: string): Promise<NetnsPair> {
  counter += 1;
  const base = `ct${tag}${process.pid}x${counter}`;
  const client = `${base}c`;
  const server = `${base}s`;
  const created: string[] = [];
  const destroy = async (): Promise<void> => {
    for (const ns of created.splice(0)) await run('ip', ['netns', 'del', ns]).catch(() => undefined);
  };
  try {
    for (const ns of [client, server]) {
      await run('ip', ['netns', 'add', ns]);
      created.push(ns);
    }
    await run('ip', ['-n', client, 'link', 'add', 'eth0', 'type', 'veth', 'peer', 'name', 'eth0', 'netns', server]);
    for (const [ns, v4, v6] of [
      [client, CLIENT_V4, CLIENT_V6],
      [server, SERVER_V4, SERVER_V6],
    ] as const) {
      await run('ip', ['-n', ns, 'addr', 'add', `${v4}/24`, 'dev', 'eth0']);
      await run('ip', ['-n', ns, 'addr', 'add', `${v6}/64`, 'dev', 'eth0', 'nodad']);
      await run('ip', ['-n', ns, 'link', 'set', 'eth0', 'up']);
      await run('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
    }
  } catch (err) {
    await destroy();
    throw err;
  }
  return {
    client,
    server,
    exec: (ns, cmd, args, env) =>
      run('ip', ['netns', 'exec', ns, cmd, ...args], { env: env ?? process.env, maxBuffer: 16 << 20 }),
    spawn: (ns, cmd, args, options = {}) =>
      spawn('ip', ['netns', 'exec', ns, cmd, ...args], { stdio: ['ignore', 'pipe', 'pipe'], ...options }),
    destroy,
  };
}

/** Resolves with the first line a child prints on stdout that matches, or rejects when it exits first. */
export function waitForLine(
  child: ChildProcess,
  match: (line: string) => boolean,
  timeoutMs = 20_000,
): Promise<string> {
  return new Promise((resolve, reject) => {
    let buf = '';
    let err = '';
    const timer = setTimeout(() => {
      finish();
      reject(new Error(`timed out waiting for a line; stderr: ${err}`));
    }, timeoutMs);
    const onData = (d: Buffer): void => {
      buf += d.toString();
      const lines = buf.split('\n');
      buf = lines.pop() ?? '';
      for (const l of lines)
        if (match(l)) {
          finish();
          resolve(l);
          return;
        }
    };
    const onErr = (d: Buffer): void => {
      err += d.toString();
    };
    const onExit = (code: number | null): void => {
      finish();
      reject(new Error(`process exited (${code}) before the line; stderr: ${err}`));
    };
    const finish = (): void => {
      clearTimeout(timer);
      child.stdout?.off('data', onData);
      child.stderr?.off('data', onErr);
      child.off('exit', onExit);
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onErr);
    child.on('exit', onExit);
  });
}

/** Kills a child (SIGKILL by default) and waits for its exit. */
export async function stopChild(child: ChildProcess, signal: NodeJS.Signals = 'SIGKILL'): Promise<number | null> {
  if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
  return new Promise((resolve) => {
    child.once('exit', (code) => {
      resolve(code);
    });
    child.kill(signal);
  });
}
