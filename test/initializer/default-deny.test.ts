/** Removing the default-deny rule with real iptables/ip6tables inside a network namespace of our own. */
import test from 'ava';
import { execFileSync } from 'node:child_process';
import { mkdtemp, rm, readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFile } from 'node:child_process';
import { iptablesDefaultDenyRemover } from '../../initializer/default-deny.js';
import { DEFAULT_DENY_RULE } from '../../lib/netfilter/default-deny.js';
import { createIptables, type Iptables } from '../../lib/netfilter/iptables.js';
import { DefaultDenyError } from '../../initializer/errors.js';
import { parseLogLines } from './helpers/logs.js';
import { spawnFixture } from './helpers/spawn.js';

let counter = 0;
function netns(t: { teardown(fn: () => unknown): void }): string {
  const name = `init-dd-${process.pid}-${counter++}`;
  execFileSync('ip', ['netns', 'add', name]);
  t.teardown(() => {
    execFileSync('ip', ['netns', 'del', name]);
  });
  return name;
}

const inNs = (ns: string, program: string, args: string[]): string =>
  execFileSync('ip', ['netns', 'exec', ns, program, ...args], { encoding: 'utf8' });

const rules = (ns: string, program: string): string[] =>
  inNs(ns, program, ['-w', '-S', 'INPUT'])
    .split('\n')
    .filter((l) => l.startsWith('-A INPUT'));

/** An Iptables (lib/netfilter's interface) whose commands run inside the namespace. */
function nsIptables(ns: string, binary: string, asUser: string[] = []): Iptables {
  const run = (args: readonly string[]) =>
    new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
      execFile('ip', ['netns', 'exec', ns, ...asUser, binary, '-w', ...args], (err, stdout, stderr) => {
        resolve({ code: err === null ? 0 : Number(err.code ?? 1), stdout, stderr });
      });
    });
  return {
    binary,
    run,
    async must(args) {
      const r = await run(args);
      if (r.code !== 0) throw new Error(`${binary} ${args.join(' ')}: exit ${r.code}: ${r.stderr.trim()}`);
      return r.stdout;
    },
    restore: () => Promise.reject(new Error('not used')),
    save: () => Promise.reject(new Error('not used')),
  };
}

test('a table that cannot be read (no NET_ADMIN) is an error, not "rule absent"', async (t) => {
  const ns = netns(t);
  installDefaultDeny(ns, 1);
  // iptables run as nobody: the kernel refuses, as it does in a container without NET_ADMIN.
  const broken = nsIptables(ns, 'iptables', ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups']);
  const err = await t.throwsAsync(iptablesDefaultDenyRemover({ iptables: [broken] }).remove(), {
    instanceOf: DefaultDenyError,
  });
  t.regex(err.message, /Permission denied.*NET_ADMIN/);
  t.is(rules(ns, 'iptables').length, 2, 'nothing changed');
});

function installDefaultDeny(ns: string, copies: number): void {
  for (const program of ['iptables', 'ip6tables']) {
    inNs(ns, program, ['-w', '-A', 'INPUT', '-p', 'tcp', '--dport', '22', '-j', 'ACCEPT']);
    for (let i = 0; i < copies; i++) inNs(ns, program, ['-w', '-A', 'INPUT', ...DEFAULT_DENY_RULE]);
  }
}

test('removes every copy of the rule for IPv4 and IPv6 and leaves other rules alone; idempotent', async (t) => {
  const ns = netns(t);
  installDefaultDeny(ns, 2);
  t.is(rules(ns, 'iptables').length, 3);
  const remover = iptablesDefaultDenyRemover({ iptables: [nsIptables(ns, 'iptables'), nsIptables(ns, 'ip6tables')] });
  t.deepEqual(await remover.remove(), ['iptables', 'ip6tables']);
  for (const program of ['iptables', 'ip6tables']) {
    t.deepEqual(rules(ns, program), ['-A INPUT -p tcp -m tcp --dport 22 -j ACCEPT'], program);
  }
  t.deepEqual(await remover.remove(), [], 'nothing left to remove');
});

test('a program that cannot run is a typed error naming it', async (t) => {
  const remover = iptablesDefaultDenyRemover({ iptables: [createIptables('/nonexistent/iptables')] });
  const err = await t.throwsAsync(remover.remove(), { instanceOf: DefaultDenyError });
  t.is(err.code, 'ERR_INIT_DEFAULT_DENY');
  t.regex(err.message, /\/nonexistent\/iptables/);
});

test('CONTRAST_SERVICE_MESH_DISABLED: the program removes the rule before contacting the Coordinator', async (t) => {
  const ns = netns(t);
  installDefaultDeny(ns, 1);
  const root = await mkdtemp(join(tmpdir(), `init-dd-${process.pid}-`));
  t.teardown(() => rm(root, { recursive: true, force: true }));
  const p = spawnFixture(
    {
      COORDINATOR_HOST: 'coordinator',
      CONTRAST_TLS_DIR: join(root, 'tls'),
      CONTRAST_SECRETS_DIR: join(root, 'sec'),
      CONTRAST_DONE_FILE: join(root, 'done'),
      CONTRAST_SERVICE_MESH_DISABLED: 'true',
    },
    [],
    undefined,
    ['ip', 'netns', 'exec', ns],
  );
  t.is((await p.exited).code, 0, p.stderr());
  const msgs = parseLogLines(p.stderr()).map((l) => l['msg']);
  t.true(
    msgs.indexOf('CONTRAST_SERVICE_MESH_DISABLED set, removing default deny rule') <
      msgs.indexOf('Successfully requested cert from Coordinator'),
  );
  t.deepEqual(rules(ns, 'iptables'), ['-A INPUT -p tcp -m tcp --dport 22 -j ACCEPT']);
  t.deepEqual(rules(ns, 'ip6tables'), ['-A INPUT -p tcp -m tcp --dport 22 -j ACCEPT']);
  t.true((await readdir(root)).includes('done'));
});
