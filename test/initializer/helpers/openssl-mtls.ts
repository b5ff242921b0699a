/**
 * Mutual TLS between two pods' files through openssl s_server / s_client, a TLS stack we did not write:
 * each side presents its certChain.pem + key.pem and requires the peer to chain to its mesh-ca.pem.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';

export interface MtlsResult {
  /** What s_server received from the client (the message, when the handshake succeeded). */
  readonly serverOut: string;
  readonly clientOut: string;
  readonly clientCode: number | null;
}

/** `serverDir` and `clientDir` are TLS directories as the initializer writes them. */
export async function opensslMutualTls(
  serverDir: string,
  clientDir: string,
  message: string,
  verifyName?: string,
): Promise<MtlsResult> {
  const files = (dir: string): string[] => [
    '-cert',
    join(dir, 'certChain.pem'),
    '-key',
    join(dir, 'key.pem'),
    '-CAfile',
    join(dir, 'mesh-ca.pem'),
  ];
  const server = spawn(
    'openssl',
    [
      's_server',
      '-accept',
      '127.0.0.1:0',
      '-naccept',
      '1',
      '-Verify',
      '1',
      '-verify_return_error',
      '-tls1_3',
      ...files(serverDir),
    ],
    { stdio: ['pipe', 'pipe', 'pipe'] },
  );
  let serverOut = '';
  server.stdout.setEncoding('utf8');
  server.stderr.setEncoding('utf8');
  const serverClosed = new Promise<void>((resolve) => {
    server.on('close', () => {
      resolve();
    });
  });
  try {
    const port = await new Promise<number>((resolve, reject) => {
      const onData = (chunk: string): void => {
        serverOut += chunk;
        const m = /ACCEPT 127\.0\.0\.1:(\d+)/.exec(serverOut);
        if (m !== null) resolve(Number(m[1]));
      };
      server.stdout.on('data', onData);
      server.stderr.on('data', (chunk: string) => {
        serverOut += chunk;
      });
      void serverClosed.then(() => {
        reject(new Error(`s_server exited: ${serverOut}`));
      });
    });
    const clientArgs = [
      's_client',
      '-connect',
      `127.0.0.1:${port}`,
      '-verify_return_error',
      '-tls1_3',
      ...files(clientDir),
    ];
    if (verifyName !== undefined) clientArgs.push('-verify_hostname', verifyName);
    const client = spawn('openssl', clientArgs, { stdio: ['pipe', 'pipe', 'pipe'] });
    let clientOut = '';
    // A refused handshake ends s_client while we may still be writing.
    client.stdin.on('error', () => undefined);
    client.stdout.setEncoding('utf8');
    client.stderr.setEncoding('utf8');
    client.stdout.on('data', (c: string) => {
      clientOut += c;
      // Send once the handshake is through, then close.
      if (clientOut.includes('Verify return code') && client.stdin.writable) {
        client.stdin.end(message + '\n');
      }
    });
    client.stderr.on('data', (c: string) => {
      clientOut += c;
    });
    const clientCode = await new Promise<number | null>((resolve) => {
      client.on('close', (code) => {
        resolve(code);
      });
    });
    await Promise.race([serverClosed, new Promise((r) => setTimeout(r, 2000))]);
    return { serverOut, clientOut, clientCode };
  } finally {
    server.kill();
    await serverClosed;
  }
}
