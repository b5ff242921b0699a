/**
 * The demo's child processes: our programs started as a person would start them (from source through
 * tsx, or from dist/ after `npm run build`), their logs kept in files, and all of them stopped at the end.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, existsSync, readFileSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import { createServer, type AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { bundleEntry, programByName } from '../lib/programs.js';
import { ContrastError } from '../lib/errors.js';

export class DemoStepError extends ContrastError {
  readonly code = 'ERR_DEMO_STEP';
}

export type DemoProgram = 'initializer' | 'meshproxy';

/**
 * The command that runs one of our programs from this checkout: source and dist/ have
 * <program>/main.{ts,js}; from a bundle (npm run bundle), the sibling bundle's entry.
 */
export function programCommand(
  program: DemoProgram,
  here: string = import.meta.url,
): { command: string; args: string[] } {
  const fromSource = here.endsWith('.ts');
  const file = here.endsWith('.mjs')
    ? bundleEntry(programByName(program) ?? { layout: 'esm-split' })
    : `main.${fromSource ? 'ts' : 'js'}`;
  const entry = fileURLToPath(new URL(`../${program}/${file}`, here));
  return { command: process.execPath, args: fromSource ? ['--import', 'tsx', entry] : [entry] };
}

export interface Child {
  readonly name: string;
  readonly process: ChildProcess;
  readonly logFile: string;
  /** Resolves with the exit code (or 128 + signal number style -1 when killed by a signal). */
  readonly exited: Promise<number>;
}

export class ProcessGroup {
  private readonly children: Child[] = [];

  start(name: string, program: DemoProgram, env: Record<string, string>, logFile: string): Child {
    const { command, args } = programCommand(program);
    const log = createWriteStream(logFile);
    const child = spawn(command, args, {
      env: { PATH: process.env['PATH'] ?? '/usr/bin:/bin', CONTRAST_LOG_LEVEL: 'info', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout.pipe(log, { end: false });
    child.stderr.pipe(log, { end: false });
    const exited = new Promise<number>((resolve) => {
      child.once('close', (code) => {
        log.end();
        resolve(code ?? -1);
      });
    });
    const entry: Child = { name, process: child, logFile, exited };
    this.children.push(entry);
    return entry;
  }

  /** The children started so far. */
  running(): readonly Child[] {
    return this.children;
  }

  /** SIGTERM to every child still running, SIGKILL after `graceMs`; resolves when all have exited. */
  async stopAll(graceMs = 5000): Promise<void> {
    await Promise.all(
      this.children.map(async (c) => {
        if (c.process.exitCode !== null || c.process.signalCode !== null) return;
        c.process.kill('SIGTERM');
        const timer = setTimeout(() => {
          c.process.kill('SIGKILL');
        }, graceMs);
        await c.exited;
        clearTimeout(timer);
      }),
    );
  }
}

/** The last lines of a child's log, for error messages. */
export function logTail(file: string, lines = 8): string {
  if (!existsSync(file)) return '';
  return readFileSync(file, 'utf8').trim().split('\n').slice(-lines).join('\n');
}

/** Waits until `path` exists, or fails when `child` exits first or `timeoutMs` passes. */
export async function waitForFile(path: string, child: Child, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let exitCode: number | undefined;
  void child.exited.then((c) => {
    exitCode = c;
  });
  for (;;) {
    if (
      await stat(path).then(
        () => true,
        () => false,
      )
    )
      return;
    if (exitCode !== undefined)
      throw new DemoStepError(
        `${child.name} exited with ${exitCode} before writing ${path}:\n${logTail(child.logFile)}`,
      );
    if (Date.now() > deadline)
      throw new DemoStepError(`${child.name} did not write ${path} within ${timeoutMs} ms:\n${logTail(child.logFile)}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** A TCP port on 127.0.0.1 that was free a moment ago. */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => {
    server.close(() => {
      resolve();
    });
  });
  return port;
}
