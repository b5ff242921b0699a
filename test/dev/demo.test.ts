/**
 * `contrast-dev demo` as a person runs it: the real programs as child processes, the output a person
 * reads, exit 0, and nothing left behind (work directory, child processes). Run as an unprivileged
 * user when this checkout is readable by one (the demo needs no root).
 */
import test from 'ava';
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { resolve, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(fileURLToPath(new URL('../..', import.meta.url)));
const MAIN = join(ROOT, 'dev/main.ts');

function readableByNobody(): boolean {
  const r = spawnSync(
    'setpriv',
    [
      '--reuid=65534',
      '--regid=65534',
      '--clear-groups',
      process.execPath,
      '-e',
      `require('fs').accessSync(${JSON.stringify(join(ROOT, 'node_modules/tsx/package.json'))})`,
    ],
    { stdio: 'ignore' },
  );
  return r.status === 0;
}

/** Processes whose environment mentions `needle` (our children carry the work directory in it). */
function processesMentioning(needle: string): number[] {
  const out: number[] = [];
  for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    try {
      if (readFileSync(`/proc/${pid}/environ`, 'utf8').includes(needle)) out.push(Number(pid));
    } catch {
      // gone or not ours to read
    }
  }
  return out;
}

test('the demo shows certificates, an mTLS request, a refused client and timings; exits 0 and cleans up', (t) => {
  const asNobody = process.getuid?.() === 0 && readableByNobody();
  t.log(asNobody ? 'running as uid 65534' : `running as uid ${process.getuid?.() ?? '?'}`);
  const node = [process.execPath, '--import', 'tsx', MAIN, 'demo'];
  const [cmd, args] = asNobody
    ? ['setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', ...node]]
    : [node[0]!, node.slice(1)];
  const r = spawnSync(cmd, args, {
    cwd: ROOT,
    encoding: 'utf8',
    timeout: 150_000,
    env: { PATH: process.env['PATH'], HOME: '/tmp' },
  });
  t.is(r.status, 0, `${r.stdout}\n${r.stderr}`);
  const out = r.stdout;
  t.regex(out, /ATTESTATION: INSECURE/);
  t.regex(out, /pod web: attested/);
  t.regex(out, /subject CN=web; SANs DNS:web, DNS:web\.demo\.svc; ec prime256v1/);
  t.regex(out, /subject CN=client; SANs DNS:client/);
  t.regex(out, /CN=system:coordinator:intermediate, issued by CN=system:coordinator:root/);
  t.is(out.match(/chain verifies against mesh CA and root: yes/g)?.length, 2);
  t.regex(
    out,
    /wrote {8}web\/tls-config\/\{certChain,key,mesh-ca,coordinator-root-ca\}\.pem, web\/secrets\/workload-secret-seed, then web\/done/,
  );
  t.regex(
    out,
    /mesh CA {6}CN=system:coordinator:intermediate \(self-signed: the anchor pods trust; chain\[1\] is the same key certified by the root/,
  );
  t.regex(out, /work directory: \S+ \(logs of every process, certificates; removed at the end unless --keep\)/);
  t.regex(out, /client -> web over mTLS: HTTP 200 "hello from the web app \(you asked for \/hello\)"/);
  t.regex(out, /client without mesh certificate -> web: refused/);
  t.regex(out, /Coordinator: new mesh CA [0-9A-F:]+ \(was [0-9A-F:]+\), same root/);
  t.regex(out, /pod web: renewed in place after \d+ ms \(generation 2, the new mesh CA\), no restart/);
  t.regex(out, /pod client: renewed in place after \d+ ms \(generation 2, the new mesh CA\), no restart/);
  t.regex(out, /connection opened before the rotation: still open, HTTP 200/);
  t.regex(out, /client -> web over mTLS on the new certificates: HTTP 200/);
  t.regex(out, /\[6\] Timings\n( {2}.+ ms\n){7}/);
  const work = /work directory: (\S+)/.exec(out)?.[1];
  t.truthy(work);
  t.false(existsSync(work!), 'work directory removed');
  t.deepEqual(processesMentioning(work!), [], 'no child process left');
});

test('a bad flag is a configuration error (exit 64), nothing started', (t) => {
  const r = spawnSync(process.execPath, ['--import', 'tsx', MAIN, 'demo', '--step-timeout', 'soon'], {
    cwd: ROOT,
    encoding: 'utf8',
  });
  t.is(r.status, 64);
  t.regex(r.stderr, /--step-timeout=soon: expected a duration/);
  t.notRegex(r.stdout, /work directory/);
});

test('without the native addon the demo stops at once with a clear error and starts nothing', (t) => {
  const tmp = join(ROOT, 'node_modules', '.cache', `demo-noaddon-${process.pid}`);
  const r = spawnSync(process.execPath, ['--import=tsx', MAIN, 'demo'], {
    cwd: ROOT,
    env: {
      PATH: process.env['PATH'] ?? '',
      TMPDIR: tmp,
      CONTRAST_NATIVE_ADDON: '/nonexistent/contrast_native.node',
      CONTRAST_LOG_FORMAT: 'json',
    },
    encoding: 'utf8',
    timeout: 60_000,
  });
  t.is(r.status, 1, r.stderr);
  const errors = r.stderr.split('\n').filter((l) => l.includes('"level":"ERROR"'));
  t.is(errors.length, 1, r.stderr);
  t.regex(errors[0]!, /"code":"ERR_NATIVE_ADDON_NOT_FOUND"/);
  t.regex(errors[0]!, /\/nonexistent\/contrast_native\.node/);
  // tsx keeps its cache in TMPDIR too; the demo's own work directory is contrast-demo-*.
  const made = existsSync(tmp) ? readdirSync(tmp).filter((d) => d.startsWith('contrast-demo-')) : [];
  rmSync(tmp, { recursive: true, force: true });
  t.deepEqual(made, [], 'no work directory was made');
});
