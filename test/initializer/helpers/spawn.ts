/** Spawning the initializer fixture as a real process. */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const FIXTURE = fileURLToPath(new URL('../fixtures/instant-initializer.ts', import.meta.url));

export interface Spawned {
  readonly child: ChildProcess;
  stderr(): string;
  stdout(): string;
  /** Resolves on exit with the code (or null) and signal. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Resolves when a log line with this msg appears on stderr. */
  waitForMsg(msg: string): Promise<void>;
}

/** `prefix` runs the program through another command, e.g. `ip netns exec <ns>`. */
export function spawnFixture(
  env: Record<string, string>,
  args: string[] = [],
  script = FIXTURE,
  prefix: string[] = [],
): Spawned {
  const argv = [...prefix, process.execPath, '--import=tsx', script, ...args];
  const child = spawn(argv[0]!, argv.slice(1), {
    env: { PATH: process.env['PATH'] ?? '', CONTRAST_LOG_FORMAT: 'json', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let err = '';
  const waiters: { msg: string; resolve: () => void }[] = [];
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (chunk: string) => {
    err += chunk;
    for (const w of [...waiters]) {
      if (err.includes(`"msg":"${w.msg}"`)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve();
      }
    }
  });
  let out = '';
  child.stdout.setEncoding('utf8');
  child.stdout.on('data', (chunk: string) => {
    out += chunk;
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.on('close', (code, signal) => {
      resolve({ code, signal });
    });
  });
  return {
    child,
    stderr: () => err,
    stdout: () => out,
    exited,
    waitForMsg: (msg) =>
      err.includes(`"msg":"${msg}"`)
        ? Promise.resolve()
        : new Promise<void>((resolve, reject) => {
            waiters.push({ msg, resolve });
            void exited.then(() => {
              reject(new Error(`exited before "${msg}":\n${err}`));
            });
          }),
  };
}
