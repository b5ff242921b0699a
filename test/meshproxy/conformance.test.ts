/**
 * The parser conformance table (spec §9.2) plus our stricter cases, each run through the real
 * `contrast-meshproxy --print-config`.
 */
import test from 'ava';
import { limiter, runCli as runCliNow } from './helpers-cli.js';

const limit = limiter(4);
const runCli = (args: readonly string[], env: Record<string, string>): ReturnType<typeof runCliNow> =>
  limit(() => runCliNow(args, env));

type Port = [name: string, port: number, mode: 'tls' | 'plain'];
type Egress = [name: string, listen: string, remote: string];
interface Row {
  readonly ingress?: string;
  readonly egress?: string;
  readonly admin?: string;
  /** Variable names to use instead of CONTRAST_* (legacy). */
  readonly legacy?: boolean;
  readonly ports?: Port[];
  readonly disabled?: boolean;
  readonly out?: Egress[];
  readonly adminPort?: number | null;
  /** The first stderr line must contain this (upstream error text where upstream has one). */
  readonly error?: string;
}

const rows: Record<string, Row> = {
  // Ingress (spec §9.2)
  'ingress empty': { ingress: '', ports: [] },
  'ingress main/metrics': {
    ingress: 'main#8001#false##metrics#8080#true',
    ports: [
      ['main', 8001, 'tls'],
      ['metrics', 8080, 'plain'],
    ],
  },
  'ingress web/metrics': {
    ingress: 'web#8080#false##metrics#7890#true',
    ports: [
      ['web', 8080, 'tls'],
      ['metrics', 7890, 'plain'],
    ],
  },
  'ingress single': { ingress: 'web#8080#false', ports: [['web', 8080, 'tls']] },
  'ingress leading empty piece': { ingress: '##admin#9901#true', ports: [['admin', 9901, 'plain']] },
  'ingress trailing separator': { ingress: 'web#8080#false##', ports: [['web', 8080, 'tls']] },
  'ingress empty name': { ingress: '#8080#true', ports: [['', 8080, 'plain']] },
  'ingress bool 1': { ingress: 'web#8080#1', ports: [['web', 8080, 'plain']] },
  'ingress bool T': { ingress: 'web#8080#T', ports: [['web', 8080, 'plain']] },
  'ingress bool TRUE': { ingress: 'web#8080#TRUE', ports: [['web', 8080, 'plain']] },
  'ingress bool True': { ingress: 'web#8080#True', ports: [['web', 8080, 'plain']] },
  'ingress bool t': { ingress: 'web#8080#t', ports: [['web', 8080, 'plain']] },
  'ingress bool 0': { ingress: 'web#8080#0', ports: [['web', 8080, 'tls']] },
  'ingress bool F': { ingress: 'web#8080#F', ports: [['web', 8080, 'tls']] },
  'ingress bool False': { ingress: 'web#8080#False', ports: [['web', 8080, 'tls']] },
  'ingress bool FALSE': { ingress: 'web#8080#FALSE', ports: [['web', 8080, 'tls']] },
  'ingress bool f': { ingress: 'web#8080#f', ports: [['web', 8080, 'tls']] },
  'ingress bool yes': { ingress: 'web#8080#yes', error: 'invalid disable TLS: yes' },
  'ingress bool fAlse': { ingress: 'web#8080#fAlse', error: 'invalid disable TLS: fAlse' },
  'ingress two fields': { ingress: 'web#8080', error: 'invalid entry: web#8080' },
  'ingress four fields': { ingress: 'web#8080#false#x', error: 'invalid entry: web#8080#false#x' },
  'ingress port name': { ingress: 'web#http#false', error: 'invalid listen port: http' },
  'ingress port leading space': { ingress: 'web# 80#false', error: 'invalid listen port:  80' },
  'ingress port plus sign': { ingress: 'web#+80#true', ports: [['web', 80, 'plain']] },
  'ingress a###b': { ingress: 'a###b', error: 'invalid entry: a' },
  'ingress trailing ###': { ingress: 'web#8080#false###', error: 'invalid entry: #' },
  'ingress DISABLED': { ingress: 'DISABLED', disabled: true, ports: [] },
  // Ingress: stricter than upstream (upstream wraps modulo 65536 or accepts duplicates)
  'strict: ingress port 70000': {
    ingress: 'web#70000#true',
    error: 'ingress entry web#70000#true: listen port 70000 is out of range',
  },
  'strict: ingress port -1': {
    ingress: 'web#-1#true',
    error: 'ingress entry web#-1#true: listen port -1 is out of range',
  },
  'strict: ingress port 0': { ingress: 'web#0#true', error: 'ingress entry web#0#true: listen port 0 is out of range' },
  'strict: ingress duplicate port': {
    ingress: 'a#8080#true##b#8080#false',
    error: 'ingress entry b#8080#false: port 8080 is already listed by entry a#8080#true',
  },
  'strict: ingress DISABLED with entries': { ingress: 'DISABLED##web#8080#true', error: 'invalid entry: DISABLED' },
  // Egress (spec §9.2)
  'egress backend': {
    egress: 'backend#127.0.0.2:4001#backend.default:4001',
    out: [['backend', '127.0.0.2:4001', 'backend.default:4001']],
  },
  'egress emoji/voting': {
    egress: 'emoji#127.137.0.1:8081#emoji-svc:8080##voting#127.137.0.2:8081#voting-svc:8080',
    out: [
      ['emoji', '127.137.0.1:8081', 'emoji-svc:8080'],
      ['voting', '127.137.0.2:8081', 'voting-svc:8080'],
    ],
  },
  'egress billing/cart': {
    egress: 'billing#127.137.0.1:8081#billing-svc:8080##cart#127.137.0.2:8081#cart-svc:8080',
    out: [
      ['billing', '127.137.0.1:8081', 'billing-svc:8080'],
      ['cart', '127.137.0.2:8081', 'cart-svc:8080'],
    ],
  },
  'egress web': { egress: 'web#127.137.0.3:8081#web-svc:443', out: [['web', '127.137.0.3:8081', 'web-svc:443']] },
  'egress mysql': {
    egress: 'mysql-backend#127.137.0.1:3306#mysql-backend:3306',
    out: [['mysql-backend', '127.137.0.1:3306', 'mysql-backend:3306']],
  },
  'egress 127.255.255.255': { egress: 'x#127.255.255.255:80#svc:80', out: [['x', '127.255.255.255:80', 'svc:80']] },
  'egress listen outside 127/8': {
    egress: 'x#10.0.0.1:80#svc:80',
    error: 'listen address 10.0.0.1 is not in local CIDR 127.0.0.1/8',
  },
  'egress listen ::1': { egress: 'x#[::1]:80#svc:80', error: 'listen address ::1 is not in local CIDR 127.0.0.1/8' },
  'egress listen IPv4-mapped': {
    egress: 'x#[::ffff:127.0.0.1]:80#svc:80',
    error: 'listen address ::ffff:127.0.0.1 is not in local CIDR 127.0.0.1/8',
  },
  'egress listen localhost': { egress: 'x#localhost:80#svc:80', error: 'invalid listen address: localhost:80' },
  'egress listen without port': { egress: 'x#127.0.0.1#svc:80', error: 'invalid listen address: 127.0.0.1' },
  'egress listen port 70000': { egress: 'x#127.0.0.1:70000#svc:80', error: 'invalid listen address: 127.0.0.1:70000' },
  'egress remote without port': { egress: 'x#127.0.0.1:80#svc', error: 'invalid remote domain: ' },
  'egress remote port name': { egress: 'x#127.0.0.1:80#svc:http', error: 'invalid remote port: http' },
  'egress remote IPv6': { egress: 'x#127.0.0.1:80#[fd00::1]:443', out: [['x', '127.0.0.1:80', '[fd00::1]:443']] },
  'egress two fields': { egress: 'x#127.0.0.1:80', error: 'invalid entry: x#127.0.0.1:80' },
  'egress empty': { egress: '', out: [] },
  'egress only separators': { egress: '##', out: [] },
  'egress error wins over ingress error': {
    egress: 'x#127.0.0.1:80',
    ingress: 'web#8080',
    error: 'invalid entry: x#127.0.0.1:80',
  },
  // Egress: stricter than upstream (upstream wraps, or fails later inside Envoy)
  'strict: egress remote port 99999': {
    egress: 'x#127.0.0.1:80#svc:99999',
    error: 'egress entry x#127.0.0.1:80#svc:99999: remote port 99999 is out of range',
  },
  'strict: egress empty remote host': {
    egress: 'x#127.0.0.1:80#:443',
    error: 'egress entry x#127.0.0.1:80#:443: remote host is empty',
  },
  'strict: egress empty name': {
    egress: '#127.0.0.1:80#svc:80',
    error: 'egress entry #127.0.0.1:80#svc:80: name is empty',
  },
  'strict: egress listen port 0': {
    egress: 'x#127.0.0.1:0#svc:80',
    error: 'egress entry x#127.0.0.1:0#svc:80: listen port 0 is out of range',
  },
  'strict: egress duplicate name': {
    egress: 'x#127.0.0.1:80#a:80##x#127.0.0.2:80#b:80',
    error: 'egress entry x#127.0.0.2:80#b:80: name x is already used',
  },
  'strict: egress duplicate listen': {
    egress: 'x#127.0.0.1:80#a:80##y#127.0.0.1:80#b:80',
    error: 'egress entry y#127.0.0.1:80#b:80: listen address 127.0.0.1:80 is already used',
  },
  'strict: egress remote host with space': {
    egress: 'x#127.0.0.1:80#a b:80',
    error: 'egress entry x#127.0.0.1:80#a b:80: remote host a b is not a DNS name',
  },
  // Admin port (spec §9.2)
  'admin empty': { admin: '', adminPort: null },
  'admin 0': { admin: '0', adminPort: null },
  'admin 9901': { admin: '9901', adminPort: 9901 },
  'admin abc': { admin: 'abc', error: 'invalid admin port: abc' },
  'strict: admin 70000': { admin: '70000', error: 'admin port 70000 is out of range' },
  // Legacy names
  'legacy EDG_* names': {
    legacy: true,
    ingress: 'web#8080#false',
    egress: 'b#127.0.0.2:4001#b:4001',
    admin: '9901',
    ports: [['web', 8080, 'tls']],
    out: [['b', '127.0.0.2:4001', 'b:4001']],
    adminPort: 9901,
  },
};

for (const [name, row] of Object.entries(rows)) {
  test(`--print-config: ${name}`, async (t) => {
    const prefix = row.legacy === true ? 'EDG_' : 'CONTRAST_';
    const env: Record<string, string> = {};
    if (row.ingress !== undefined) env[`${prefix}INGRESS_PROXY_CONFIG`] = row.ingress;
    if (row.egress !== undefined) env[`${prefix}EGRESS_PROXY_CONFIG`] = row.egress;
    if (row.admin !== undefined) env[`${prefix}ADMIN_PORT`] = row.admin;
    const r = await runCli(['--print-config'], env);
    if (row.error !== undefined) {
      t.is(r.code, 2, r.stderr);
      t.is(r.stdout, '');
      const first = r.stderr.split('\n')[0] ?? '';
      t.true(
        first.includes(row.error),
        `stderr ${JSON.stringify(r.stderr)} should contain ${JSON.stringify(row.error)}`,
      );
      return;
    }
    t.is(r.code, 0, r.stderr);
    t.is(r.stdout.split('\n').length, 2, 'one JSON line');
    t.deepEqual(JSON.parse(r.stdout), {
      ingress: {
        disabled: row.disabled ?? false,
        ports: (row.ports ?? []).map(([n, port, mode]) => ({ name: n, port, mode })),
      },
      egress: (row.out ?? []).map(([n, listen, remote]) => ({ name: n, listen, remote })),
      adminPort: row.adminPort ?? null,
    });
  });
}

test('--print-config prints exactly the documented shape', async (t) => {
  const r = await runCli(['--print-config', '-l', 'debug'], {
    CONTRAST_INGRESS_PROXY_CONFIG: 'main#8001#false##metrics#8080#true',
    CONTRAST_EGRESS_PROXY_CONFIG: 'backend#127.0.0.2:4001#backend.default:4001',
  });
  t.is(r.code, 0, r.stderr);
  t.is(
    r.stdout,
    '{"ingress":{"disabled":false,"ports":[{"name":"main","port":8001,"mode":"tls"},{"name":"metrics","port":8080,"mode":"plain"}]},"egress":[{"name":"backend","listen":"127.0.0.2:4001","remote":"backend.default:4001"}],"adminPort":null}\n',
  );
});

test('every problem is reported, egress first, each naming its variable', async (t) => {
  const r = await runCli(['--print-config'], {
    CONTRAST_INGRESS_PROXY_CONFIG: 'web#8080',
    CONTRAST_EGRESS_PROXY_CONFIG: 'x#10.0.0.1:80#svc:80',
    CONTRAST_ADMIN_PORT: 'abc',
  });
  t.is(r.code, 2);
  t.deepEqual(r.stderr.trim().split('\n'), [
    'contrast-meshproxy: CONTRAST_EGRESS_PROXY_CONFIG=x#10.0.0.1:80#svc:80: listen address 10.0.0.1 is not in local CIDR 127.0.0.1/8',
    'CONTRAST_INGRESS_PROXY_CONFIG=web#8080: invalid entry: web#8080',
    'CONTRAST_ADMIN_PORT=abc: invalid admin port: abc',
  ]);
});

test('a bad annotation outside --print-config exits 64 with one ERROR line', async (t) => {
  const r = await runCli([], { CONTRAST_INGRESS_PROXY_CONFIG: 'web#8080' });
  t.is(r.code, 64);
  const lines = r.stderr.trim().split('\n');
  t.is(lines.length, 1);
  const line = JSON.parse(lines[0] ?? '{}') as { level?: string; code?: string; msg?: string };
  t.is(line.level, 'ERROR');
  t.is(line.code, 'ERR_CONFIG');
  t.true(line.msg?.includes('invalid entry: web#8080'));
});
