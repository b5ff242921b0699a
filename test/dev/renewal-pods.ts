/**
 * Pods for the renewal tests, on loopback without root: the real initializer (insecure attestation,
 * renewal mode) and the real meshproxy (explicit mode) as processes, an app in the test process that
 * greets and echoes, and a development Coordinator that can rotate its mesh CA.
 */
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readFile, readlink, rm } from 'node:fs/promises';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ExecutionContext } from 'ava';
import { InsecureValidator } from '../../lib/attestation/insecure.js';
import { silentLogger } from '../../lib/log.js';
import { startCoordinator, type RunningCoordinator } from '../../lib/coordinator/coordinator.js';
import type { DevManifest } from '../../lib/coordinator/manifest.js';
import { ProcessGroup, freePort, waitForFile, type Child } from '../../dev/demo-processes.js';

export const hostData = (name: string): string => createHash('sha256').update(`renewal test pod ${name}`).digest('hex');

export async function workDir(t: ExecutionContext, label: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), `renewal-${label}-${process.pid}-`));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

export async function coordinatorFor(
  t: ExecutionContext,
  names: readonly string[],
  stateDir: string,
  listen = '127.0.0.1:0',
): Promise<RunningCoordinator> {
  const manifest: DevManifest = {
    policies: new Map(names.map((n) => [hostData(n), { sans: [n], workloadSecretID: `test/${n}` }])),
    referenceValues: { allowInsecure: true },
  };
  const c = await startCoordinator({
    listen,
    manifest,
    stateDir,
    validators: [new InsecureValidator()],
    logger: silentLogger(),
  });
  t.teardown(() => c.close());
  return c;
}

export interface TestPod {
  readonly name: string;
  readonly dir: string;
  readonly tlsDir: string;
  readonly ingressPort: number;
  /** Egress listener port on 127.0.0.1 per peer name. */
  readonly egress: Map<string, number>;
  initializer?: Child;
  meshproxy?: Child;
}

/** Allocates ports for every pod up front, so that each pod's egress can name every other pod. */
export async function planPods(work: string, names: readonly string[]): Promise<TestPod[]> {
  const pods: TestPod[] = [];
  for (const name of names) {
    const dir = join(work, name);
    await mkdir(dir, { recursive: true });
    const egress = new Map<string, number>();
    for (const peer of names) if (peer !== name) egress.set(peer, await freePort());
    pods.push({ name, dir, tlsDir: join(dir, 'contrast', 'tls-config'), ingressPort: await freePort(), egress });
  }
  return pods;
}

/** The pod's app: greets with its name, then echoes. */
export async function startApp(t: ExecutionContext, name: string): Promise<number> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => undefined);
    s.write(`hello from ${name}\n`);
    s.pipe(s);
  });
  await new Promise<void>((resolve) => {
    server.listen(0, '127.0.0.1', resolve);
  });
  t.teardown(
    () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => {
          resolve();
        });
      }),
  );
  return (server.address() as { port: number }).port;
}

export interface StartPodOptions {
  readonly coordinatorPort: number;
  readonly renewalInterval: string;
  readonly appPort: number;
  readonly pods: readonly TestPod[];
  readonly graceWindow?: string;
  readonly timeoutMs: number;
}

/** Starts the initializer (renewal mode) and, once it wrote the done file, the meshproxy. */
export async function startPod(group: ProcessGroup, pod: TestPod, opts: StartPodOptions): Promise<void> {
  const done = join(pod.dir, 'done');
  pod.initializer = group.start(
    `initializer ${pod.name}`,
    'initializer',
    {
      COORDINATOR_HOST: `127.0.0.1:${opts.coordinatorPort}`,
      CONTRAST_TLS_DIR: pod.tlsDir,
      CONTRAST_SECRETS_DIR: join(pod.dir, 'contrast', 'secrets'),
      CONTRAST_DONE_FILE: done,
      CONTRAST_ATTESTATION: 'insecure',
      CONTRAST_ALLOW_INSECURE_ATTESTATION: 'true',
      CONTRAST_INSECURE_HOST_DATA: hostData(pod.name),
      CONTRAST_RETRY_INTERVAL: '200ms',
      CONTRAST_RENEWAL_INTERVAL: opts.renewalInterval,
      CONTRAST_LOG_LEVEL: 'debug',
      CONTRAST_LOG_FORMAT: 'json',
    },
    join(pod.dir, 'initializer.log'),
  );
  await waitForFile(done, pod.initializer, opts.timeoutMs);
  const egress = [...pod.egress]
    .map(([peer, port]) => {
      const target = opts.pods.find((p) => p.name === peer);
      return `${peer}#127.0.0.1:${port}#127.0.0.1:${target?.ingressPort ?? 0}`;
    })
    .join('##');
  pod.meshproxy = group.start(
    `meshproxy ${pod.name}`,
    'meshproxy',
    {
      CONTRAST_MESHPROXY_MODE: 'explicit',
      CONTRAST_MESHPROXY_INGRESS_LISTEN: `127.0.0.1:${pod.ingressPort}=${opts.appPort}`,
      CONTRAST_EGRESS_PROXY_CONFIG: egress,
      CONTRAST_TLS_DIR: pod.tlsDir,
      CONTRAST_READY_FILE: join(pod.dir, 'ready'),
      CONTRAST_MESHPROXY_CA_GRACE: opts.graceWindow ?? '2m',
      CONTRAST_LOG_LEVEL: 'info',
      CONTRAST_LOG_FORMAT: 'json',
    },
    join(pod.dir, 'meshproxy.log'),
  );
  await waitForFile(join(pod.dir, 'ready'), pod.meshproxy, opts.timeoutMs);
}

/** A connection through `from`'s egress listener to `to`: resolves with the app's greeting line. */
export function openThrough(
  from: TestPod,
  to: string,
  timeoutMs = 5000,
): Promise<{ socket: Socket; greeting: string }> {
  const port = from.egress.get(to);
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port: port ?? 0 });
    let text = '';
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`${from.name} -> ${to}: no greeting within ${timeoutMs} ms`));
    }, timeoutMs);
    socket.setEncoding('utf8');
    const onData = (d: string): void => {
      text += d;
      if (!text.includes('\n')) return;
      clearTimeout(timer);
      socket.off('data', onData);
      resolve({ socket, greeting: text.trim() });
    };
    socket.on('data', onData);
    socket.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    socket.on('close', () => {
      clearTimeout(timer);
      reject(new Error(`${from.name} -> ${to}: closed before a greeting`));
    });
  });
}

/** One greeting through `from` to `to`; true when the app of `to` answered. */
export async function talks(from: TestPod, to: string): Promise<boolean> {
  try {
    const { socket, greeting } = await openThrough(from, to, 3000);
    socket.destroy();
    return greeting === `hello from ${to}`;
  } catch {
    return false;
  }
}

/** Writes `line` on an open connection and resolves with what comes back (the app echoes). */
export function echo(socket: Socket, line: string, timeoutMs = 5000): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = '';
    const timer = setTimeout(() => {
      reject(new Error(`no echo within ${timeoutMs} ms`));
    }, timeoutMs);
    const onData = (d: string): void => {
      text += d;
      if (text.includes('\n')) {
        clearTimeout(timer);
        socket.off('data', onData);
        resolve(text.trim());
      }
    };
    socket.on('data', onData);
    socket.write(`${line}\n`);
  });
}

/** Polls `check` until it holds or `timeoutMs` passes; resolves with the last result. */
export async function eventually(check: () => Promise<boolean>, timeoutMs: number, everyMs = 200): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return true;
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** The pod's TLS set as an app reading it sees it: generation, what `..data` points to, the file bytes. */
export async function tlsSnapshot(
  tlsDir: string,
): Promise<{ generation: string; data: string; files: Record<string, string> }> {
  const files: Record<string, string> = {};
  for (const f of ['mesh-ca.pem', 'certChain.pem', 'key.pem', 'coordinator-root-ca.pem'])
    files[f] = await readFile(join(tlsDir, f), 'utf8');
  return {
    generation: await readFile(join(tlsDir, 'generation'), 'utf8'),
    data: await readlink(join(tlsDir, '..data')),
    files,
  };
}

/** Lines of a JSON log file whose msg is `msg`. */
export async function logLines(file: string, msg: string): Promise<Record<string, unknown>[]> {
  const text = await readFile(file, 'utf8').catch(() => '');
  return text
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, unknown>)
    .filter((o) => o['msg'] === msg);
}
