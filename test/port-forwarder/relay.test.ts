import test from 'ava';
import { createServer, connect, type Server, type Socket, type AddressInfo } from 'node:net';
import { once } from 'node:events';
import { randomBytes } from 'node:crypto';
import { startRelay, type Relay } from '../../port-forwarder/relay.js';
import type { ForwarderConfig } from '../../port-forwarder/config.js';
import { silentLogger } from '../../lib/log.js';

/** A loopback server; `onSocket` decides what it does with each connection. */
async function server(t: import('ava').ExecutionContext, onSocket: (s: Socket) => void): Promise<number> {
  const open = new Set<Socket>();
  const srv: Server = createServer({ allowHalfOpen: true }, (s) => {
    open.add(s);
    s.once('close', () => open.delete(s));
    onSocket(s);
  });
  srv.listen(0, '127.0.0.1');
  await once(srv, 'listening');
  t.teardown(
    () =>
      new Promise<void>((r) => {
        srv.close(() => {
          r();
        });
        for (const s of open) s.destroy();
      }),
  );
  return (srv.address() as AddressInfo).port;
}

async function relay(
  t: import('ava').ExecutionContext,
  forwardPorts: number[],
  extra: Partial<ForwarderConfig> = {},
): Promise<Relay> {
  const r = await startRelay(
    {
      listenAddress: '127.0.0.1',
      forwardHost: '127.0.0.1',
      mappings: forwardPorts.map((forward) => ({ listen: 0, forward })),
      connectTimeoutMs: 5000,
      ...extra,
    },
    silentLogger(),
  );
  t.teardown(() => r.close());
  return r;
}

/** Connects, writes `payload`, half-closes, and collects everything until the server closes. */
async function roundTrip(port: number, payload: Buffer): Promise<Buffer> {
  const c = connect({ port, host: '127.0.0.1', allowHalfOpen: true });
  const chunks: Buffer[] = [];
  c.on('data', (d: Buffer) => chunks.push(d));
  c.on('error', () => undefined); // a reset counts as closed: the caller checks what arrived
  await once(c, 'connect');
  const closed = new Promise<void>((r) =>
    c.once('close', () => {
      r();
    }),
  );
  c.end(payload);
  await closed;
  return Buffer.concat(chunks);
}

test('bytes flow both ways and a half-close is passed on (1 MiB echo)', async (t) => {
  const port = await server(t, (s) => {
    // Echo, and answer only after the client's end-of-stream arrived through the relay.
    const got: Buffer[] = [];
    s.on('data', (d: Buffer) => got.push(d));
    s.on('end', () => {
      s.end(Buffer.concat([Buffer.from('echo:'), ...got]));
    });
  });
  const r = await relay(t, [port]);
  const payload = randomBytes(1 << 20);
  const answer = await roundTrip(r.addresses[0]!.port, payload);
  t.true(answer.equals(Buffer.concat([Buffer.from('echo:'), payload])));
  t.is(r.counters.accepted, 1);
  t.is(r.counters.forwarded, 1);
  t.is(r.counters.failed, 0);
});

test('the server half-closing first still lets the client finish sending', async (t) => {
  let received = '';
  const serverDone = new Promise<void>((resolve) => {
    void server(t, (s) => {
      s.end('bye');
      s.setEncoding('utf8');
      s.on('data', (d: string) => {
        received += d;
      });
      s.on('end', () => {
        resolve();
      });
    }).then((p) => {
      portReady(p);
    });
  });
  let portReady!: (p: number) => void;
  const port = await new Promise<number>((r) => {
    portReady = r;
  });
  const r = await relay(t, [port]);
  const c = connect({ port: r.addresses[0]!.port, host: '127.0.0.1', allowHalfOpen: true });
  c.setEncoding('utf8');
  let got = '';
  c.on('data', (d: string) => {
    got += d;
  });
  await once(c, 'end');
  t.is(got, 'bye');
  c.end('still here');
  await serverDone;
  t.is(received, 'still here');
});

test('several ports are relayed independently', async (t) => {
  const a = await server(t, (s) => {
    s.end('A');
    s.resume();
  });
  const b = await server(t, (s) => {
    s.end('B');
    s.resume();
  });
  const r = await relay(t, [a, b]);
  t.is(r.addresses.length, 2);
  t.is((await roundTrip(r.addresses[0]!.port, Buffer.alloc(0))).toString(), 'A');
  t.is((await roundTrip(r.addresses[1]!.port, Buffer.alloc(0))).toString(), 'B');
});

test('an unreachable target closes the client and counts a failure', async (t) => {
  // A port that was just free: bind, note it, close.
  const tmp = createServer();
  tmp.listen(0, '127.0.0.1');
  await once(tmp, 'listening');
  const dead = (tmp.address() as AddressInfo).port;
  await new Promise<void>((r) => {
    tmp.close(() => {
      r();
    });
  });
  const r = await relay(t, [dead]);
  const answer = await roundTrip(r.addresses[0]!.port, Buffer.from('x'));
  t.is(answer.length, 0);
  t.is(r.counters.failed, 1);
  t.is(r.counters.forwarded, 0);
});

test('a port already in use is a ListenError and nothing stays bound', async (t) => {
  const busy = await server(t, (s) => s.destroy());
  const free = await server(t, (s) => s.destroy());
  const err = await t.throwsAsync(
    startRelay(
      {
        listenAddress: '127.0.0.1',
        forwardHost: '127.0.0.1',
        connectTimeoutMs: 1000,
        mappings: [
          { listen: 0, forward: free },
          { listen: busy, forward: free },
        ],
      },
      silentLogger(),
    ),
  );
  t.is((err as { code?: string }).code, 'ERR_LISTEN');
  t.regex(err.message, new RegExp(`127\\.0\\.0\\.1:${busy}`));
});

test('close() ends open connections and releases the port', async (t) => {
  const port = await server(t, (s) => {
    s.resume();
  });
  const r = await startRelay(
    {
      listenAddress: '127.0.0.1',
      forwardHost: '127.0.0.1',
      connectTimeoutMs: 1000,
      mappings: [{ listen: 0, forward: port }],
    },
    silentLogger(),
  );
  const listen = r.addresses[0]!.port;
  const c = connect({ port: listen, host: '127.0.0.1' });
  c.on('error', () => undefined);
  await once(c, 'connect');
  while (r.counters.forwarded === 0) await new Promise((res) => setTimeout(res, 10));
  const closed = once(c, 'close');
  await r.close();
  await closed;
  t.is(r.counters.active, 0);
  // The port is free again.
  const again = createServer();
  again.listen(listen, '127.0.0.1');
  await once(again, 'listening');
  await new Promise<void>((res) => {
    again.close(() => {
      res();
    });
  });
  t.pass();
});
