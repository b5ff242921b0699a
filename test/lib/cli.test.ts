/**
 * One shape for every program's command line (lib/cli.ts), checked on the real programs: --help lists
 * every environment variable the program reads, -V/--version print the banner, an unknown flag or a
 * surplus argument is one ERROR line with ERR_CONFIG and exit 64, and nothing else is printed.
 */
import test from 'ava';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { VERSION } from '../../lib/version.js';
import { PROGRAM_ENVIRONMENTS } from '../helpers/configuration-table.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const ENTRIES: Record<string, string> = {
  'contrast-initializer': 'initializer/main.ts',
  'contrast-meshproxy': 'meshproxy/main.ts',
  'contrast-runtime-installer': 'runtime-installer/main.ts',
  'contrast-port-forwarder': 'port-forwarder/main.ts',
  'contrast-dev': 'dev/main.ts',
};

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function run(program: string, args: readonly string[]): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import=tsx', ENTRIES[program]!, ...args], {
      cwd: ROOT,
      env: { PATH: process.env['PATH'] ?? '', CONTRAST_LOG_FORMAT: 'json' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.once('error', reject);
    child.once('close', (code) => {
      resolve({ code, stdout, stderr });
    });
  });
}

function oneConfigErrorLine(t: import('ava').ExecutionContext, r: Run, mentions: string): void {
  t.is(r.code, 64, r.stderr);
  t.is(r.stdout, '');
  const lines = r.stderr.trim().split('\n');
  t.is(lines.length, 1, r.stderr);
  const line = JSON.parse(lines[0]!) as { level: string; code: string; msg: string };
  t.is(line.level, 'ERROR');
  t.is(line.code, 'ERR_CONFIG');
  t.true(line.msg.includes(mentions), line.msg);
}

for (const { program, environment } of PROGRAM_ENVIRONMENTS) {
  test(`${program}: --help lists every environment variable with its default, exit 0`, async (t) => {
    const r = await run(program, ['--help']);
    t.is(r.code, 0, r.stderr);
    t.regex(r.stdout, /-V, --version/);
    t.regex(r.stdout, /Environment variables:/);
    for (const v of environment) {
      const line = r.stdout.split('\n').find((l) => l.trimStart().startsWith(`${v.name} `));
      t.truthy(line, v.name);
      if (!v.default.startsWith('(')) t.true(line!.includes(`(default: ${v.default === '' ? '""' : v.default})`), line);
    }
  });

  for (const flag of ['-V', '--version']) {
    test(`${program}: ${flag} prints the banner, exit 0`, async (t) => {
      const r = await run(program, [flag]);
      t.is(r.code, 0, r.stderr);
      t.regex(r.stdout.split('\n')[0]!, new RegExp(`^Contrast \\S+ ${VERSION.replace(/\./g, '\\.')}$`));
      t.is(r.stderr, '');
    });
  }

  test(`${program}: an unknown flag is a configuration error (one line, exit 64)`, async (t) => {
    oneConfigErrorLine(t, await run(program, ['--no-such-flag']), "unknown option '--no-such-flag'");
  });
}

test('contrast-initializer, contrast-port-forwarder: -v is the version too (as upstream)', async (t) => {
  for (const program of ['contrast-initializer', 'contrast-port-forwarder']) {
    const r = await run(program, ['-v']);
    t.is(r.code, 0, r.stderr);
    t.true(r.stdout.includes(VERSION));
  }
});

test('surplus arguments are configuration errors', async (t) => {
  oneConfigErrorLine(t, await run('contrast-port-forwarder', ['surplus']), 'too many arguments');
  oneConfigErrorLine(t, await run('contrast-meshproxy', ['surplus']), 'too many arguments');
  oneConfigErrorLine(t, await run('contrast-initializer', ['surplus']), 'too many arguments');
});

test('contrast-runtime-installer: a missing platform argument is a configuration error', async (t) => {
  oneConfigErrorLine(t, await run('contrast-runtime-installer', []), "missing required argument 'platform'");
  oneConfigErrorLine(t, await run('contrast-runtime-installer', ['uninstall']), "missing required argument 'platform'");
});

test('contrast-meshproxy: the Envoy flags of upstream pod specs are accepted', async (t) => {
  const r = await run('contrast-meshproxy', [
    '-l',
    'debug',
    '--component-log-level',
    'upstream:debug',
    '--print-config',
  ]);
  t.is(r.code, 0, r.stderr);
  t.deepEqual(JSON.parse(r.stdout), { ingress: { disabled: false, ports: [] }, egress: [], adminPort: null });
});

test('contrast-dev without arguments prints the help and exits 0', async (t) => {
  const r = await run('contrast-dev', []);
  t.is(r.code, 0, r.stderr);
  t.regex(r.stdout, /^Usage: contrast-dev/);
  t.regex(r.stdout, /coordinator/);
  t.regex(r.stdout, /CONTRAST_LOG_LEVEL/);
});
