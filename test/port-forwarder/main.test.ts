import test from 'ava';
import { spawn, spawnSync } from 'node:child_process';
import { createServer, connect, type AddressInfo } from 'node:net';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';

const MAIN = fileURLToPath(new URL('../../port-forwarder/main.ts', import.meta.url));
const NODE = [process.execPath, '--import=tsx', MAIN];

test('--version prints the version and exits 0', (t) => {
  const r = spawnSync(NODE[0]!, [...NODE.slice(1), '--version'], { encoding: 'utf8' });
  t.is(r.status, 0);
  t.regex(r.stdout, /^Contrast port-forwarder \d+\.\d+\.\d+/);
});

test('bad configuration: exit 64, one ERROR line (text by default, as upstream) naming every problem', (t) => {
  const r = spawnSync(NODE[0]!, NODE.slice(1), {
    encoding: 'utf8',
    env: { PATH: process.env['PATH'], LISTEN_PORT: '0' },
  });
  t.is(r.status, 64);
  const lines = r.stderr.trim().split('\n');
  t.is(lines.length, 1);
  t.regex(
    lines[0]!,
    /^time=\S+ level=ERROR msg="[^"]*FORWARD_HOST is not set[^"]*" program=port-forwarder code=ERR_CONFIG$/,
  );
});

test('CONTRAST_LOG_FORMAT=json: the same ERROR line as JSON; an unknown format: one WARN naming it, then text', (t) => {
  const json = spawnSync(NODE[0]!, NODE.slice(1), {
    encoding: 'utf8',
    env: { PATH: process.env['PATH'], LISTEN_PORT: '0', CONTRAST_LOG_FORMAT: 'json' },
  });
  t.is(json.status, 64);
  const lines = json.stderr.trim().split('\n');
  t.is(lines.length, 1);
  const rec = JSON.parse(lines[0]!) as { level: string; code: string; msg: string };
  t.is(rec.level, 'ERROR');
  t.is(rec.code, 'ERR_CONFIG');
  t.regex(rec.msg, /FORWARD_HOST is not set/);
  t.regex(rec.msg, /LISTEN_PORT=0: expected an integer from 1 to 65535/);
  const odd = spawnSync(NODE[0]!, NODE.slice(1), {
    encoding: 'utf8',
    env: { PATH: process.env['PATH'], LISTEN_PORT: '0', CONTRAST_LOG_FORMAT: 'yaml' },
  });
  t.is(odd.status, 64);
  const oddLines = odd.stderr.trim().split('\n');
  t.is(oddLines.length, 2, odd.stderr);
  t.regex(
    oddLines[0]!,
    /^time=\S+ level=WARN msg="CONTRAST_LOG_FORMAT=yaml is not json or text: logging as text" program=port-forwarder$/,
  );
  t.regex(oddLines[1]!, /^time=\S+ level=ERROR msg="[^"]*FORWARD_HOST is not set/);
});

test('relays on loopback and exits 0 on SIGTERM', async (t) => {
  const target = createServer((s) => {
    s.end('pong');
    s.resume();
  });
  target.listen(0, '127.0.0.1');
  await once(target, 'listening');
  t.teardown(() => {
    target.close();
  });
  // Pick a free listen port for the child.
  const probe = createServer();
  probe.listen(0, '127.0.0.1');
  await once(probe, 'listening');
  const listenPort = (probe.address() as AddressInfo).port;
  await new Promise<void>((r) => {
    probe.close(() => {
      r();
    });
  });

  const child = spawn(NODE[0]!, NODE.slice(1), {
    env: {
      PATH: process.env['PATH'],
      LISTEN_ADDRESS: '127.0.0.1',
      LISTEN_PORT: String(listenPort),
      FORWARD_HOST: '127.0.0.1',
      FORWARD_PORT: String((target.address() as AddressInfo).port),
      CONTRAST_LOG_FORMAT: 'json',
    },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  t.teardown(() => {
    child.kill('SIGKILL');
  });
  let stderr = '';
  child.stderr.setEncoding('utf8');
  const ready = new Promise<void>((resolve) => {
    child.stderr.on('data', (d: string) => {
      stderr += d;
      if (stderr.includes('"msg":"Forwarding"')) resolve();
    });
  });
  await ready;
  const c = connect({ port: listenPort, host: '127.0.0.1' });
  c.setEncoding('utf8');
  let got = '';
  c.on('data', (d: string) => {
    got += d;
  });
  await once(c, 'end');
  t.is(got, 'pong');
  c.destroy();
  const exited = once(child, 'exit');
  child.kill('SIGTERM');
  const [code] = (await exited) as [number | null];
  t.is(code, 0);
  t.regex(stderr, /"msg":"Port-forwarder stopped"/);
  t.regex(stderr, /"forwarded":1/);
});
