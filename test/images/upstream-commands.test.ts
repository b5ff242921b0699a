/**
 * Every command upstream's generated pod specs run in our images (images/upstream-commands.ts) runs
 * in the unpacked image under runc, with the environment upstream sets, and does what it must: the
 * image-store holder stays up and ends on SIGTERM (exit status 0, within seconds), the startup probes (exec'd into the running
 * container, as the kubelet does) follow /done and /ready, socat forwards bytes (one port and the
 * multi-port loop). The images carry a licence text for every component.
 */
import test, { type ExecutionContext } from 'ava';
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect, createServer, type AddressInfo, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildWithStandIns } from './stand-in-images.js';
import { TARGETS } from '../../images/targets.js';
import { UPSTREAM_COMMANDS, type UpstreamCommand } from '../../images/upstream-commands.js';
import { LICENCE_INDEX, OWN_LICENCE } from '../../images/licences.js';
import { SERVER_V4, createNetnsPair, waitForLine } from '../meshproxy/netns.js';

const ROOT = resolve(fileURLToPath(new URL('../..', import.meta.url)));
const WORK = mkdtempSync(join(tmpdir(), `images-upstream-${process.pid}-`));
test.after.always(() => {
  rmSync(WORK, { recursive: true, force: true });
});

const built = buildWithStandIns(WORK);

function command(id: string): UpstreamCommand {
  const c = UPSTREAM_COMMANDS.find((x) => x.id === id);
  if (c === undefined) throw new Error(`no upstream command ${id}`);
  return c;
}

interface Container {
  readonly id: string;
  readonly rootfs: string;
  readonly child: ChildProcess;
  output(): string;
  readonly state: string;
}

/** Unpacks the image and starts `argv` in it (detached from the test, host network when asked). */
async function start(
  t: ExecutionContext,
  target: string,
  argv: readonly string[],
  env: Record<string, string>,
  network: 'own' | 'host' | { netns: string } = 'own',
): Promise<Container> {
  const image = (await built).get(target)!;
  const id = `contrast-up-${target}-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
  const bundle = join(WORK, 'run', id);
  const state = join(WORK, 'runc-state');
  mkdirSync(join(WORK, 'run'), { recursive: true });
  mkdirSync(state, { recursive: true });
  execFileSync('umoci', ['unpack', '--image', `${image.dir}:${target}`, bundle], { stdio: 'ignore' });
  const configPath = join(bundle, 'config.json');
  const config = JSON.parse(readFileSync(configPath, 'utf8')) as {
    process: { terminal: boolean; args: string[]; env: string[] };
    linux: { namespaces: { type: string; path?: string }[] };
  };
  config.process.terminal = false;
  config.process.args = [...argv];
  config.process.env = [...config.process.env, ...Object.entries(env).map(([k, v]) => `${k}=${v}`)];
  if (network === 'host') config.linux.namespaces = config.linux.namespaces.filter((n) => n.type !== 'network');
  else if (network !== 'own')
    config.linux.namespaces = config.linux.namespaces.map((n) =>
      n.type === 'network' ? { type: 'network', path: `/var/run/netns/${network.netns}` } : n,
    );
  writeFileSync(configPath, JSON.stringify(config));
  const child = spawn('runc', ['--root', state, 'run', '--bundle', bundle, id], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => {
    out += d;
  });
  child.stderr.setEncoding('utf8').on('data', (d: string) => {
    out += d;
  });
  t.teardown(() => {
    spawnSync('runc', ['--root', state, 'kill', id, 'KILL']);
    spawnSync('runc', ['--root', state, 'delete', '--force', id]);
    rmSync(bundle, { recursive: true, force: true });
  });
  await waitFor(
    () => runcState(state, id) === 'running',
    () => `container ${id} did not start: ${out}`,
  );
  return { id, rootfs: join(bundle, 'rootfs'), child, output: () => out, state };
}

function runcState(state: string, id: string): string | undefined {
  const r = spawnSync('runc', ['--root', state, 'state', id], { encoding: 'utf8' });
  if (r.status !== 0) return undefined;
  return (JSON.parse(r.stdout) as { status: string }).status;
}

/** An exec probe as the kubelet runs it: in the running container, exit status is the result. */
function probe(c: Container, argv: readonly string[]): number | null {
  return spawnSync('runc', ['--root', c.state, 'exec', c.id, ...argv], { encoding: 'utf8', timeout: 30_000 }).status;
}

async function waitFor(ok: () => boolean, why: () => string, ms = 30_000): Promise<void> {
  const until = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > until) throw new Error(why());
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function echoServer(t: ExecutionContext): Promise<Server> {
  const server = createServer((s) => {
    s.pipe(s);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.teardown(() => {
    server.close();
  });
  return server;
}

async function freePort(): Promise<number> {
  const s = createServer().listen(0, '127.0.0.1');
  await once(s, 'listening');
  const port = (s.address() as AddressInfo).port;
  await new Promise<void>((r) => {
    s.close(() => {
      r();
    });
  });
  return port;
}

/** Sends bytes to 127.0.0.1:port (retrying until the forwarder listens) and returns the echo. */
async function roundTrip(port: number, payload: Buffer): Promise<Buffer> {
  const until = Date.now() + 30_000;
  for (;;) {
    try {
      return await new Promise<Buffer>((resolvePromise, reject) => {
        const c = connect({ port, host: '127.0.0.1' });
        const parts: Buffer[] = [];
        // No half-close: socat closes both ways shortly after one side's EOF; read the whole echo first.
        let got = 0;
        c.on('connect', () => {
          c.write(payload);
        });
        c.on('data', (d: Buffer) => {
          parts.push(d);
          got += d.length;
          if (got >= payload.length) {
            c.destroy();
            resolvePromise(Buffer.concat(parts));
          }
        });
        c.on('end', () => {
          resolvePromise(Buffer.concat(parts));
        });
        c.on('error', reject);
      });
    } catch (err) {
      if (Date.now() > until) throw err;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

test('the list names each command once, for an existing image, with its upstream source', (t) => {
  t.is(new Set(UPSTREAM_COMMANDS.map((c) => c.id)).size, UPSTREAM_COMMANDS.length);
  for (const c of UPSTREAM_COMMANDS) {
    t.truthy(
      TARGETS.find((x) => x.name === c.target),
      c.id,
    );
    t.regex(c.source, /^internal\/kuberesource\/\S+\.go /, c.id);
  }
});

test('initializer image: the image-store holder stays up; the secure-PV probe follows /done; it ends on SIGTERM', async (t) => {
  const holder = command('image-store-holder');
  const c = await start(t, holder.target, holder.argv, {});
  await new Promise((r) => setTimeout(r, 1000));
  t.is(runcState(c.state, c.id), 'running', `holder exited: ${c.output()}`);
  // sh execs sleep: the container's PID 1 is our sleep (busybox's applet would show /usr/bin/busybox).
  const pid1 = spawnSync('runc', ['--root', c.state, 'exec', c.id, '/bin/busybox', 'readlink', '/proc/1/exe'], {
    encoding: 'utf8',
    timeout: 30_000,
  });
  t.is(pid1.stdout.trim(), '/usr/bin/sleep', `PID 1: ${pid1.stdout}${pid1.stderr}`);
  const done = command('secure-pv-startup-probe');
  t.is(done.target, holder.target);
  t.not(probe(c, done.argv), 0, 'probe before /done');
  writeFileSync(join(c.rootfs, 'done'), '');
  t.is(probe(c, done.argv), 0, 'probe after /done');
  rmSync(join(c.rootfs, 'done'));
  t.not(probe(c, done.argv), 0, 'probe after /done is gone');
  // The kubelet stops a container with SIGTERM, then SIGKILL after the grace period. The kernel
  // delivers no default-action signal to a PID namespace's init, so a plain sleep as PID 1 would wait
  // for the SIGKILL (as upstream's holder does); ours takes SIGTERM with rt_sigtimedwait and exits 0.
  const exited = once(c.child, 'exit') as Promise<[number | null, NodeJS.Signals | null]>;
  const sent = Date.now();
  spawnSync('runc', ['--root', c.state, 'kill', c.id, 'TERM']);
  const status = await Promise.race([
    exited.then(([code, signal]) => (code === null ? `signal ${String(signal)}` : `exit ${code}`)),
    new Promise<string>((r) =>
      setTimeout(() => {
        r('still running 3 s after SIGTERM');
      }, 3000),
    ),
  ]);
  t.log(`holder after SIGTERM: ${status} (${Date.now() - sent} ms)`);
  t.is(status, 'exit 0', `the holder ends on SIGTERM, not on the SIGKILL fallback: ${c.output()}`);
});

test('meshproxy image: the startup probe `test -f /ready` follows /ready', async (t) => {
  const ready = command('meshproxy-startup-probe');
  const c = await start(t, ready.target, ['/bin/sh', '-c', 'sleep inf'], {});
  t.not(probe(c, ready.argv), 0, 'probe before /ready');
  writeFileSync(join(c.rootfs, 'ready'), '');
  t.is(probe(c, ready.argv), 0, 'probe after /ready');
});

test("port-forwarder image: upstream's single-port bash + socat command forwards bytes", async (t) => {
  const cmd = command('port-forwarder-single');
  const target = await echoServer(t);
  const listen = await freePort();
  const c = await start(
    t,
    cmd.target,
    cmd.argv,
    {
      LISTEN_PORT: String(listen),
      FORWARD_HOST: '127.0.0.1',
      FORWARD_PORT: String((target.address() as AddressInfo).port),
    },
    'host',
  );
  const payload = Buffer.from(`hello through socat ${Math.random()}\n`.repeat(2000));
  t.deepEqual(await roundTrip(listen, payload), payload);
  t.regex(c.output(), /Starting port-forward with socat/);
  t.regex(c.output(), /socat\[\d+\] N listening on/);
});

test("port-forwarder image: upstream's multi-port loop forwards every port of LISTEN_PORTS", async (t) => {
  const cmd = command('port-forwarder-multi');
  // Each port goes to the same port on FORWARD_HOST, so the targets live in another network
  // namespace: the container joins the pair's client side, echo servers listen on the server side.
  const pair = await createNetnsPair('up');
  t.teardown(async () => {
    await pair.destroy();
  });
  const ports = [7001, 7002];
  const echo = `const net = require('node:net'); for (const p of [${ports.join(',')}]) net.createServer((s) => s.pipe(s)).listen(p, '${SERVER_V4}', () => console.log('listening ' + p));`;
  const servers = pair.spawn(pair.server, process.execPath, ['-e', echo]);
  t.teardown(() => {
    servers.kill('SIGKILL');
  });
  await waitForLine(servers, (l) => l === `listening ${ports[1]!}`);
  await start(
    t,
    cmd.target,
    cmd.argv,
    { LISTEN_PORTS: ` ${ports.join(' ')}`, FORWARD_HOST: SERVER_V4, FORWARD_PORT: '-1' },
    { netns: pair.client },
  );
  for (const port of ports) {
    const payload = `port ${port} ${Math.random()}`;
    const client = `const net = require('node:net'); const until = Date.now() + 30000;
      (function go() { const c = net.connect(${port}, '127.0.0.1'); let got = '';
        c.on('connect', () => c.end(${JSON.stringify(payload)})); c.on('data', (d) => { got += d; });
        c.on('end', () => { process.stdout.write(got); }); c.on('error', () => { if (Date.now() < until) setTimeout(go, 100); else process.exit(1); }); })();`;
    const { stdout } = await pair.exec(pair.client, process.execPath, ['-e', client]);
    t.is(stdout, payload, `port ${port}`);
  }
});

test('port-forwarder image: the default entry point is still our relay', async (t) => {
  const image = (await built).get('port-forwarder')!;
  const config = JSON.parse(
    execFileSync('skopeo', ['inspect', '--config', `oci:${image.dir}:port-forwarder`], { encoding: 'utf8' }),
  ) as { config: { Entrypoint: string[] } };
  t.deepEqual(config.config.Entrypoint, ['/bin/port-forwarder']);
});

for (const target of TARGETS) {
  test(`${target.name} image: a licence text for every component (ours, npm packages, each Debian package)`, async (t) => {
    const image = (await built).get(target.name)!;
    const dir = join(WORK, 'licences', target.name);
    mkdirSync(dir, { recursive: true });
    for (const layer of image.layers)
      execFileSync('tar', [
        '-xzf',
        join(image.dir, 'blobs', 'sha256', layer.digest.slice('sha256:'.length)),
        '-C',
        dir,
      ]);
    t.regex(readFileSync(join(dir, OWN_LICENCE), 'utf8'), /Apache License\s+Version 2\.0/);
    const index = readFileSync(join(dir, LICENCE_INDEX), 'utf8');
    const rows = index
      .split('\n')
      .filter((l) => l.startsWith('/'))
      .map((l) => l.split('\t'));
    t.true(rows.length > 0);
    for (const [file, component, licence] of rows) {
      t.true(existsSync(join(dir, file!)), `${file} is in the image`);
      t.true(existsSync(join(dir, licence!)), `${component}: ${licence} is in the image`);
    }
    // Every executable and library in the image is listed.
    const listed = new Set(rows.map((r) => r[0]));
    const inImage = execFileSync(
      'find',
      ['usr/bin', 'usr/sbin', 'usr/lib']
        .filter((d) => existsSync(join(dir, d)))
        .concat(['-type', 'f', '-not', '-path', 'usr/lib/contrast/*']),
      { cwd: dir, encoding: 'utf8' },
    )
      .trim()
      .split('\n')
      .map((p) => `/${p}`);
    for (const f of inImage)
      t.true(
        listed.has(f) ||
          (/^\/usr\/bin\/[a-z-]+$/.test(f) && readFileSync(join(dir, f), 'utf8').startsWith('#!/usr/bin/node')),
        `${f} has a licence entry`,
      );
    const components = rows.map((r) => r[1]).join('\n');
    for (const needed of [/^nodejs |^Node\.js /m, /^libc6 /m, /^libstdc\+\+6 /m]) t.regex(components, needed);
    const extra: Record<string, RegExp[]> = {
      initializer: [/^iptables /m, /^busybox-static /m, /^bash /m, /^contrast sleep \(native\/sleep, Apache-2\.0\)$/m],
      meshproxy: [/^iptables /m, /^busybox-static /m],
      'port-forwarder': [/^bash /m, /^socat /m],
    };
    for (const needed of extra[target.name] ?? []) t.regex(components, needed);
    const npm = readFileSync(join(dir, 'usr/lib/contrast', target.program, 'THIRD-PARTY-LICENSES.txt'), 'utf8');
    if (target.program === 'initializer' && existsSync(join(ROOT, 'initializer/main.ts'))) {
      for (const pkg of ['@grpc/grpc-js', 'commander', 'pino'])
        t.regex(npm, new RegExp(`^==== ${pkg.replace('/', '\\/')} [\\d.]+ `, 'm'), pkg);
    }
  });
}
