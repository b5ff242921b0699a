/** Removing the default-deny rule with real iptables/ip6tables inside a network namespace of our own. */
import test from 'ava';
import { execFileSync } from 'node:child_process';
import { mkdtemp, rm, readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { iptablesDefaultDenyRemover, runCommand, DEFAULT_DENY_RULE } from '../../initializer/default-deny.js';
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
  inNs(ns, program, ['-w', '-S', 'INPUT']).split('\n').filter((l) => l.startsWith('-A INPUT'));

function installDefaultDeny(ns: string, copies: number): void {
  for (const program of ['iptables', 'ip6tables']) {
    inNs(ns, program, ['-w', '-A', 'INPUT', '-p', 'tcp', '--dport', '22', '-j', 'ACCEPT']);
    for (let i = 0; i < copies; i++) inNs(ns, program, ['-w', '-A', ...DEFAULT_DENY_RULE]);
  }
}

test('removes every copy of the rule for IPv4 and IPv6 and leaves other rules alone; idempotent', async (t) => {
  const ns = netns(t);
  installDefaultDeny(ns, 2);
  t.is(rules(ns, 'iptables').length, 3);
  const remover = iptablesDefaultDenyRemover({ run: (file, args) => runCommand('ip', ['netns', 'exec', ns, file, ...args]) });
  t.deepEqual(await remover.remove(), ['iptables', 'ip6tables']);
  for (const program of ['iptables', 'ip6tables']) {
    t.deepEqual(rules(ns, program), ['-A INPUT -p tcp -m tcp --dport 22 -j ACCEPT'], program);
  }
  t.deepEqual(await remover.remove(), [], 'nothing left to remove');
});

test('a program that cannot run is a typed error naming it', async (t) => {
  const remover = iptablesDefaultDenyRemover({ programs: ['/nonexistent/iptables'] });
  const err = await t.throwsAsync(remover.remove(), { instanceOf: DefaultDenyError });
  t.is(err.code, 'ERR_INIT_DEFAULT_DENY');
  t.regex(err.message, /\/nonexistent\/iptables/);
});

test('CONTRAST_SERVICE_MESH_DISABLED: the program removes the rule before contacting the Coordinator', async (t) => {
  const ns = netns(t);
  installDefaultDeny(ns, 1);
  const root = await mkdtemp(join(tmpdir(), `init-dd-${process.pid}-`));
  t.teardown(() => rm(root, { recursive: true, force: true }));
  const p = spawnFixture({
    COORDINATOR_HOST: 'coordinator',
    CONTRAST_TLS_DIR: join(root, 'tls'), CONTRAST_SECRETS_DIR: join(root, 'sec'), CONTRAST_DONE_FILE: join(root, 'done'),
    CONTRAST_SERVICE_MESH_DISABLED: 'true',
  }, [], undefined, ['ip', 'netns', 'exec', ns]);
  t.is((await p.exited).code, 0, p.stderr());
  const msgs = parseLogLines(p.stderr()).map((l) => l['msg']);
  t.true(msgs.indexOf('CONTRAST_SERVICE_MESH_DISABLED set, removing default deny rule') < msgs.indexOf('Successfully requested cert from Coordinator'));
  t.deepEqual(rules(ns, 'iptables'), ['-A INPUT -p tcp -m tcp --dport 22 -j ACCEPT']);
  t.deepEqual(rules(ns, 'ip6tables'), ['-A INPUT -p tcp -m tcp --dport 22 -j ACCEPT']);
  t.true((await readdir(root)).includes('done'));
});
