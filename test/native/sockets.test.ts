/**
 * Transparent sockets through the kernel: option numbers against the uapi headers, typed errors, and a
 * TPROXY'd connection inside a network namespace (IPv4 and IPv6) accepted by a transparent listener
 * from the addon, whose accepted socket shows the original destination.
 */
import test from 'ava';
import { readFileSync } from 'node:fs';
import { createServer, connect, type Socket } from 'node:net';
import { fileURLToPath } from 'node:url';
import { SocketArgumentError, SocketCallError, TransparentSockets, socketFd } from '../../lib/native/sockets.js';
import { TCP_READ, nodeScript } from '../meshproxy/scripts.js';
import {
  CLIENT_V4,
  CLIENT_V6,
  SERVER_V4,
  SERVER_V6,
  createNetnsPair,
  stopChild,
  waitForLine,
} from '../meshproxy/netns.js';

const sockets = new TransparentSockets();
const LISTENER = fileURLToPath(new URL('fixtures/tproxy-listener.ts', import.meta.url));

function headerDefine(path: string, name: string): number {
  const m = new RegExp(`#define\\s+${name}\\s+(\\d+)`).exec(readFileSync(path, 'utf8'));
  if (m === null) throw new Error(`${name} not in ${path}`);
  return Number(m[1]);
}

test('option numbers match the kernel uapi headers', (t) => {
  const c = sockets.constants();
  t.is(c['IP_TRANSPARENT'], headerDefine('/usr/include/linux/in.h', 'IP_TRANSPARENT'));
  t.is(c['IPV6_TRANSPARENT'], headerDefine('/usr/include/linux/in6.h', 'IPV6_TRANSPARENT'));
  t.is(c['SO_ORIGINAL_DST'], headerDefine('/usr/include/linux/netfilter_ipv4.h', 'SO_ORIGINAL_DST'));
  t.is(
    c['IP6T_SO_ORIGINAL_DST'],
    headerDefine('/usr/include/linux/netfilter_ipv6/ip6_tables.h', 'IP6T_SO_ORIGINAL_DST'),
  );
});

test('bad arguments are typed errors naming the input', (t) => {
  const a = t.throws(() => sockets.transparentListen('localhost', 80), { instanceOf: SocketArgumentError });
  t.is(a.code, 'ERR_NATIVE_SOCKET_ARGUMENT');
  t.true(a.message.includes('localhost'));
  t.throws(() => sockets.transparentListen('127.0.0.1', 70000), { instanceOf: SocketArgumentError });
  t.throws(() => sockets.originalDestination(-1), { instanceOf: SocketArgumentError });
});

test('system call failures carry the errno name', (t) => {
  const e = t.throws(() => sockets.originalDestination(1_000_000), { instanceOf: SocketCallError });
  t.is(e.code, 'ERR_NATIVE_SOCKET');
  t.is(e.errnoCode, 'EBADF');
  t.is(e.syscall, 'getsockname');
});

test('an address in use is EADDRINUSE', async (t) => {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => server.close());
  const port = (server.address() as { port: number }).port;
  const e = t.throws(() => sockets.transparentListen('127.0.0.1', port), { instanceOf: SocketCallError });
  t.is(e.errnoCode, 'EADDRINUSE');
  t.is(e.syscall, 'bind');
});

test('a transparent fd serves net.Server.listen({ fd }) on loopback, and socketFd finds accepted fds', async (t) => {
  const fd = sockets.transparentListen('127.0.0.1', 0);
  const accepted: number[] = [];
  const server = createServer((s: Socket) => {
    accepted.push(socketFd(s));
    s.end('hi');
  });
  await new Promise<void>((resolve) => server.listen({ fd }, resolve));
  t.teardown(() => server.close());
  const port = (server.address() as { port: number }).port;
  t.true(port > 0);
  const got = await new Promise<string>((resolve, reject) => {
    let data = '';
    connect({ host: '127.0.0.1', port })
      .on('data', (d) => {
        data += d.toString();
      })
      .on('end', () => {
        resolve(data);
      })
      .on('error', reject);
  });
  t.is(got, 'hi');
  t.is(accepted.length, 1);
  t.true((accepted[0] ?? -1) > 2);
});

test('TPROXY in a network namespace: accepted by the transparent listener, original destination shown (IPv4 and IPv6)', async (t) => {
  const pair = await createNetnsPair('so');
  t.teardown(() => pair.destroy());
  const prerouting = ['-t', 'mangle', '-A', 'PREROUTING', '-p', 'tcp'];
  for (const bin of ['iptables-legacy', 'ip6tables-legacy']) {
    await pair.exec(pair.server, bin, [
      ...prerouting,
      '-m',
      'conntrack',
      '--ctstate',
      'RELATED,ESTABLISHED',
      '-j',
      'RETURN',
    ]);
    await pair.exec(pair.server, bin, [...prerouting, '--dport', '7000', '-j', 'TPROXY', '--on-port', '7001']);
  }
  const listener = pair.spawn(pair.server, process.execPath, ['--import=tsx', LISTENER, '7001']);
  t.teardown(() => stopChild(listener));
  await waitForLine(listener, (l) => l === 'ready');

  for (const [server, client] of [
    [SERVER_V4, CLIENT_V4],
    [SERVER_V6, CLIENT_V6],
  ] as const) {
    // Nothing listens on 7000: only TPROXY can deliver the connection to the listener on 7001.
    const { stdout } = await pair.exec(pair.client, process.execPath, nodeScript(TCP_READ, [server, '7000']));
    const seen = JSON.parse(stdout) as {
      localAddress: string;
      localPort: number;
      remoteAddress: string;
      orig: { family?: number; address?: string; port?: number; error?: string };
    };
    t.is(seen.localAddress, server, stdout);
    t.is(seen.localPort, 7000);
    t.is(seen.remoteAddress, client);
    t.deepEqual(seen.orig, { family: server.includes(':') ? 6 : 4, address: server, port: 7000 });
  }
});
