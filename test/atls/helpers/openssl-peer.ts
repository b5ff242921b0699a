/** openssl s_server / s_client as independent TLS peers for tests. */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { createServer } from 'node:net';
import { NEW_P256_KEY } from '../../helpers/openssl-args.js';

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      srv.close(() => {
        if (addr !== null && typeof addr === 'object') resolve(addr.port);
        else reject(new Error('no port'));
      });
    });
  });
}

export interface OpensslPeer {
  readonly child: ChildProcessWithoutNullStreams;
  output(): string;
  waitFor(pattern: RegExp | string, timeoutMs?: number): Promise<string>;
  exited: Promise<number | null>;
  stop(): Promise<void>;
}

/**
 * Arguments of `openssl s_server` on 127.0.0.1:`port` for one connection, asking for a client
 * certificate (`-Verify 1`), with `pair` as its certificate and key; `extra` follows.
 */
export function sServerArgs(port: number, pair: { cert: string; key: string }, ...extra: string[]): string[] {
  return [
    's_server',
    '-accept',
    `127.0.0.1:${port}`,
    '-naccept',
    '1',
    '-cert',
    pair.cert,
    '-key',
    pair.key,
    '-Verify',
    '1',
    ...extra,
  ];
}

export function runOpenssl(args: string[]): OpensslPeer {
  const child = spawn('openssl', args, { stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  const waiters: Array<() => void> = [];
  const onData = (d: Buffer): void => {
    out += d.toString('latin1');
    for (const w of waiters.splice(0)) w();
  };
  child.stdout.on('data', onData);
  child.stderr.on('data', onData);
  const exited = new Promise<number | null>((resolve) =>
    child.once('close', (code) => {
      for (const w of waiters.splice(0)) w();
      resolve(code);
    }),
  );
  let done = false;
  void exited.then(() => {
    done = true;
  });
  return {
    child,
    output: () => out,
    exited,
    waitFor(pattern, timeoutMs = 15_000) {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          reject(new Error(`timed out waiting for ${String(pattern)}; output so far:\n${out}`));
        }, timeoutMs);
        const check = (): void => {
          const m =
            typeof pattern === 'string' ? (out.includes(pattern) ? pattern : null) : (pattern.exec(out)?.[0] ?? null);
          if (m !== null) {
            clearTimeout(timer);
            resolve(m);
          } else if (done) {
            clearTimeout(timer);
            reject(new Error(`openssl exited before ${String(pattern)}; output:\n${out}`));
          } else {
            waiters.push(check);
          }
        };
        check();
      });
    },
    async stop() {
      if (!done) child.kill('SIGTERM');
      await exited;
    },
  };
}

/** Writes a self-signed P-256 certificate with the given raw subject (openssl -subj syntax) to dir. */
export async function opensslSelfSigned(
  dir: string,
  name: string,
  subject: string,
): Promise<{ cert: string; key: string }> {
  const cert = `${dir}/${name}.pem`;
  const key = `${dir}/${name}.key`;
  const p = runOpenssl(['req', '-x509', ...NEW_P256_KEY, '-keyout', key, '-out', cert, '-subj', subject, '-days', '1']);
  const code = await p.exited;
  if (code !== 0) throw new Error(`openssl req failed: ${p.output()}`);
  return { cert, key };
}

/** Escapes a value for openssl's -subj syntax. */
export function subjEscape(value: string): string {
  return value.replace(/[+/=,\\]/g, (c) => `\\${c}`);
}

/** HKDF-SHA256 with the openssl CLI (output length = input length), independent of our code. */
export async function opensslHkdf(ikm: Buffer, salt: Buffer, info: string): Promise<Buffer> {
  const p = runOpenssl([
    'kdf',
    '-keylen',
    String(ikm.length),
    '-kdfopt',
    'digest:SHA256',
    '-kdfopt',
    `hexkey:${ikm.toString('hex')}`,
    '-kdfopt',
    `hexsalt:${salt.toString('hex')}`,
    '-kdfopt',
    `hexinfo:${Buffer.from(info).toString('hex')}`,
    '-binary',
    'HKDF',
  ]);
  if ((await p.exited) !== 0) throw new Error(`openssl kdf failed: ${p.output()}`);
  return Buffer.from(p.output(), 'latin1');
}
