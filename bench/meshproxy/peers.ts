/**
 * The three peers doing the same mesh hop (egress proxy -> mutual TLS -> ingress proxy -> app), one
 * process per side, and the app (nginx serving HTTP) that all of them share.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { access, rm, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * Ports and the egress address differ per run (other sessions on a shared machine run benchmarks too):
 * a random base in 20000-32000, below Linux's ephemeral range (32768-60999), where the local port of
 * any outgoing connection could hold it (bind fails with EADDRINUSE), the egress on a random 127/8
 * address.
 */
const BASE = 20_000 + Math.floor(Math.random() * 1200) * 10;
export const APP_PORT = BASE;
export const EGRESS = {
  host: `127.${2 + Math.floor(Math.random() * 250)}.${Math.floor(Math.random() * 250)}.${1 + Math.floor(Math.random() * 250)}`,
  port: BASE + 1,
};
export const INGRESS = { host: '127.0.0.1', port: BASE + 2 };
/** Upload workload: the body each POST carries (bench/meshproxy/upload.lua builds the same). */
export const UPLOAD_BYTES = 4 << 20;
export const SMALL_BODY = 'x'.repeat(1024);

export interface Dirs {
  readonly root: string;
  /** PEM files: ca.pem, client-chain.pem, client-key.pem, server-chain.pem, server-key.pem. */
  readonly pem: string;
  /** TLS directories in the initializer's layout for the meshproxy. */
  readonly clientTls: string;
  readonly serverTls: string;
  /** Whether the egress side of every peer resumes TLS sessions (default true); false: full handshakes. */
  readonly resumption?: boolean;
}

export interface Running {
  readonly name: string;
  readonly pids: number[];
  stop(): Promise<void>;
}

/** BENCH_MESHPROXY_MAIN: another build to compare (e.g. a copy of dist/ from an earlier commit). */
const MAIN =
  process.env['BENCH_MESHPROXY_MAIN'] ?? fileURLToPath(new URL('../../dist/meshproxy/main.js', import.meta.url));

function start(cmd: string, args: string[], env: NodeJS.ProcessEnv = process.env): ChildProcess {
  const child = spawn(cmd, args, {
    env,
    stdio: ['ignore', process.env['BENCH_DEBUG'] !== undefined ? 2 : 'ignore', 'pipe'],
  });
  child.stderr?.on('data', (d: Buffer) => {
    if (process.env['BENCH_DEBUG'] !== undefined) process.stderr.write(d);
  });
  return child;
}

async function stopAll(children: ChildProcess[]): Promise<void> {
  await Promise.all(
    children.map(
      (c) =>
        new Promise<void>((resolve) => {
          if (c.exitCode !== null || c.signalCode !== null) {
            resolve();
            return;
          }
          const timer = setTimeout(() => c.kill('SIGKILL'), 5_000);
          c.once('exit', () => {
            clearTimeout(timer);
            resolve();
          });
          c.kill('SIGTERM');
        }),
    ),
  );
}

/** The peer once `wait` says it is ready; if it never is, its processes are stopped (none is left behind). */
async function ready(name: string, children: ChildProcess[], wait: () => Promise<void>): Promise<Running> {
  try {
    await wait();
  } catch (err) {
    await stopAll(children);
    throw err;
  }
  return { name, pids: pidsOf(children), stop: () => stopAll(children) };
}

export async function waitPort(host: string, port: number, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = connect({ host, port });
      s.once('connect', () => {
        s.destroy();
        resolve(true);
      });
      s.once('error', () => {
        resolve(false);
      });
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`${host}:${port} did not start listening`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function waitFile(path: string, child: ChildProcess): Promise<void> {
  for (let i = 0; i < 300; i++) {
    try {
      await access(path);
      return;
    } catch {
      if (child.exitCode !== null) throw new Error(`meshproxy exited ${child.exitCode}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  throw new Error(`${path} did not appear`);
}

function pidsOf(children: ChildProcess[]): number[] {
  return children.map((c) => c.pid ?? -1);
}

export async function startApp(d: Dirs): Promise<Running> {
  const conf = join(d.root, 'app-nginx.conf');
  await writeFile(join(d.root, 'bulk'), Buffer.alloc(4 << 20, 7));
  await writeFile(
    conf,
    `
daemon off; master_process off; worker_processes 1; pid ${d.root}/app.pid; error_log ${d.root}/app-error.log warn;
events { worker_connections 4096; }
http {
  access_log off; keepalive_requests 1000000; keepalive_timeout 300s; sendfile on;
  server {
    listen 127.0.0.1:${APP_PORT} reuseport;
    location = /small { default_type text/plain; return 200 "${SMALL_BODY}"; }
    location = /bulk { root ${d.root}; }
    # The whole body is read before the answer: proxy_pass buffers it (proxy_request_buffering), then
    # asks /uploaded without it. A bare return would answer first and leave the body to be discarded
    # while wrk already sends the next request on the connection: uploads stalled for seconds.
    location = /upload {
      client_max_body_size 8m; client_body_buffer_size 8m;
      proxy_pass http://app_self/uploaded; proxy_http_version 1.1; proxy_set_header Connection "";
      proxy_pass_request_body off; proxy_set_header Content-Length "";
    }
    location = /uploaded { default_type text/plain; return 200 "ok"; }
  }
  upstream app_self { server 127.0.0.1:${APP_PORT}; keepalive 16; }
}
`,
  );
  const child = start('nginx', ['-c', conf, '-p', d.root, '-e', join(d.root, 'app-error.log')]);
  return ready('app', [child], () => waitPort('127.0.0.1', APP_PORT));
}

/**
 * The meshproxy, both sides; `nodeFlags` (default: BENCH_NODE_FLAGS) go before the program, e.g. V8
 * heap sizes; `env` is added to both sides' environment (e.g. CONTRAST_TLS_GROUPS).
 */
export async function startMeshproxy(
  d: Dirs,
  nodeFlags?: readonly string[],
  env: Readonly<Record<string, string>> = {},
): Promise<Running> {
  const malloc = Object.fromEntries(Object.entries(process.env).filter(([k]) => k.startsWith('MALLOC_')));
  const base = {
    ...malloc,
    PATH: process.env['PATH'] ?? '/usr/bin:/bin',
    CONTRAST_LOG_LEVEL: 'warn',
    CONTRAST_MESHPROXY_MODE: 'explicit',
    ...(d.resumption === false ? { CONTRAST_MESHPROXY_SESSION_RESUMPTION: 'false' } : {}),
    ...env,
  };
  await rm(join(d.root, 'ingress-ready'), { force: true });
  await rm(join(d.root, 'egress-ready'), { force: true });
  const flags = nodeFlags ?? (process.env['BENCH_NODE_FLAGS'] ?? '').split(' ').filter((f) => f !== '');
  const ingress = start(process.execPath, [...flags, MAIN], {
    ...base,
    CONTRAST_MESHPROXY_INGRESS_LISTEN: `${INGRESS.host}:${INGRESS.port}=${APP_PORT}`,
    CONTRAST_TLS_DIR: d.serverTls,
    CONTRAST_READY_FILE: join(d.root, 'ingress-ready'),
  });
  const egress = start(process.execPath, [...flags, MAIN], {
    ...base,
    CONTRAST_EGRESS_PROXY_CONFIG: `bench#${EGRESS.host}:${EGRESS.port}#${INGRESS.host}:${INGRESS.port}`,
    CONTRAST_TLS_DIR: d.clientTls,
    CONTRAST_READY_FILE: join(d.root, 'egress-ready'),
  });
  return ready('meshproxy', [egress, ingress], async () => {
    await waitFile(join(d.root, 'ingress-ready'), ingress);
    await waitFile(join(d.root, 'egress-ready'), egress);
  });
}

export async function startHaproxy(d: Dirs): Promise<Running> {
  const common = `global\n  nbthread 1\n  maxconn 8000\ndefaults\n  mode tcp\n  timeout connect 5s\n  timeout client 1h\n  timeout server 1h\n`;
  const eg = join(d.root, 'haproxy-egress.cfg');
  const ing = join(d.root, 'haproxy-ingress.cfg');
  await writeFile(
    eg,
    `${common}frontend egress\n  bind ${EGRESS.host}:${EGRESS.port}\n  default_backend mesh\nbackend mesh\n  server ingress ${INGRESS.host}:${INGRESS.port} ssl crt ${d.pem}/client-combined.pem ca-file ${d.pem}/ca.pem verify required${d.resumption === false ? ' no-ssl-reuse' : ''}\n`,
  );
  await writeFile(
    ing,
    `${common}frontend ingress\n  bind ${INGRESS.host}:${INGRESS.port} ssl crt ${d.pem}/server-combined.pem ca-file ${d.pem}/ca.pem verify required\n  default_backend app\nbackend app\n  server app 127.0.0.1:${APP_PORT}\n`,
  );
  const ingress = start('haproxy', ['-db', '-f', ing]);
  const egress = start('haproxy', ['-db', '-f', eg]);
  return ready('haproxy', [egress, ingress], async () => {
    await waitPort(INGRESS.host, INGRESS.port);
    await waitPort(EGRESS.host, EGRESS.port);
  });
}

export async function startNginx(d: Dirs): Promise<Running> {
  const head = (name: string): string => `load_module /usr/lib/nginx/modules/ngx_stream_module.so;
daemon off; master_process off; worker_processes 1; pid ${d.root}/nginx-${name}.pid; error_log ${d.root}/nginx-${name}.log warn;
events { worker_connections 8192; }
`;
  const eg = join(d.root, 'nginx-egress.conf');
  const ing = join(d.root, 'nginx-ingress.conf');
  await writeFile(
    eg,
    `${head('egress')}stream { server {
  listen ${EGRESS.host}:${EGRESS.port} reuseport;
  proxy_pass ${INGRESS.host}:${INGRESS.port};
  proxy_ssl on; proxy_ssl_certificate ${d.pem}/client-chain.pem; proxy_ssl_certificate_key ${d.pem}/client-key.pem;
  proxy_ssl_trusted_certificate ${d.pem}/ca.pem; proxy_ssl_verify on; proxy_ssl_name server; proxy_ssl_session_reuse ${d.resumption === false ? 'off' : 'on'};
} }
`,
  );
  await writeFile(
    ing,
    `${head('ingress')}stream { server {
  listen ${INGRESS.host}:${INGRESS.port} ssl reuseport;
  ssl_certificate ${d.pem}/server-chain.pem; ssl_certificate_key ${d.pem}/server-key.pem;
  ssl_client_certificate ${d.pem}/ca.pem; ssl_verify_client on;
  proxy_pass 127.0.0.1:${APP_PORT};
} }
`,
  );
  const ingress = start('nginx', ['-c', ing, '-p', d.root, '-e', join(d.root, 'nginx-ingress.log')]);
  const egress = start('nginx', ['-c', eg, '-p', d.root, '-e', join(d.root, 'nginx-egress.log')]);
  return ready('nginx-stream', [egress, ingress], async () => {
    await waitPort(INGRESS.host, INGRESS.port);
    await waitPort(EGRESS.host, EGRESS.port);
  });
}
