import { DEFAULT_TLS_GROUPS } from '../../lib/tls-groups.js';
import test from 'ava';
import { EnvReader } from '../../lib/config.js';
import { ConfigError } from '../../lib/errors.js';
import { parseCoordinatorHost, readInitializerConfig } from '../../initializer/config.js';

const good: [string, string, number, string][] = [
  ['coordinator', 'coordinator', 7777, 'coordinator:7777'],
  [
    'coordinator-ready.ns.svc.cluster.local',
    'coordinator-ready.ns.svc.cluster.local',
    7777,
    'coordinator-ready.ns.svc.cluster.local:7777',
  ],
  ['coordinator:1234', 'coordinator', 1234, 'coordinator:1234'],
  ['10.0.0.1', '10.0.0.1', 7777, '10.0.0.1:7777'],
  ['127.0.0.1:65535', '127.0.0.1', 65535, '127.0.0.1:65535'],
  ['[::1]', '::1', 7777, '[::1]:7777'],
  ['[fd00::1]:8', 'fd00::1', 8, '[fd00::1]:8'],
  ['fd00::1', 'fd00::1', 7777, '[fd00::1]:7777'],
];
for (const [input, host, port, target] of good) {
  test(`COORDINATOR_HOST=${input}`, (t) => {
    t.deepEqual(parseCoordinatorHost(input), { host, port, target });
  });
}

const bad = [
  'coordinator:0',
  'coordinator:65536',
  'coordinator:http',
  'coordinator:',
  '[::1',
  '[nothost]:7777',
  '[::1]:x',
  'fd00::1:7777x',
  'bad host',
  'a..b',
  '-lead',
];
for (const input of bad) {
  test(`COORDINATOR_HOST=${input} is rejected`, (t) => {
    t.is(typeof parseCoordinatorHost(input), 'string');
  });
}

test('defaults', (t) => {
  const reader = new EnvReader({ COORDINATOR_HOST: 'coordinator' });
  const config = reader.finish(readInitializerConfig(reader));
  t.deepEqual(config, {
    coordinator: { host: 'coordinator', port: 7777, target: 'coordinator:7777' },
    tlsDir: '/contrast/tls-config',
    secretsDir: '/contrast/secrets',
    doneFile: '/done',
    retryIntervalMs: 5000,
    serviceMeshDisabled: false,
    tlsGroups: DEFAULT_TLS_GROUPS,
    cryptsetupDevice: undefined,
  });
});

test("CONTRAST_TLS_GROUPS sets the aTLS client's groups; one OpenSSL does not know is a problem naming it", (t) => {
  const ok = new EnvReader({ COORDINATOR_HOST: 'c', CONTRAST_TLS_GROUPS: 'X25519:P-256' });
  t.is(ok.finish(readInitializerConfig(ok)).tlsGroups, 'X25519:P-256');
  const bad = new EnvReader({ COORDINATOR_HOST: 'c', CONTRAST_TLS_GROUPS: 'X25519::' });
  readInitializerConfig(bad);
  t.deepEqual(bad.problems, [
    `CONTRAST_TLS_GROUPS=X25519::: expected TLS groups known to OpenSSL ${process.versions.openssl} separated by ':' (e.g. ${DEFAULT_TLS_GROUPS})`,
  ]);
  const unknown = new EnvReader({ COORDINATOR_HOST: 'c', CONTRAST_TLS_GROUPS: 'kyber512' });
  readInitializerConfig(unknown);
  t.is(unknown.problems.length, 1);
  t.regex(unknown.problems[0] ?? '', /^CONTRAST_TLS_GROUPS=kyber512: expected TLS groups/);
});

test('overrides', (t) => {
  const reader = new EnvReader({
    COORDINATOR_HOST: '[fd00::5]:9000',
    CONTRAST_TLS_DIR: '/t/tls',
    CONTRAST_SECRETS_DIR: '/t/sec',
    CONTRAST_DONE_FILE: '/t/done',
    CONTRAST_RETRY_INTERVAL: '500ms',
    CONTRAST_SERVICE_MESH_DISABLED: 'true',
    CRYPTSETUP_DEVICE: '/dev/csi0',
  });
  const config = reader.finish(readInitializerConfig(reader));
  t.is(config.cryptsetupDevice, '/dev/csi0');
  t.is(config.coordinator.target, '[fd00::5]:9000');
  t.is(config.tlsDir, '/t/tls');
  t.is(config.secretsDir, '/t/sec');
  t.is(config.doneFile, '/t/done');
  t.is(config.retryIntervalMs, 500);
  t.true(config.serviceMeshDisabled);
});

test('every problem is reported at once, each naming the variable', (t) => {
  const reader = new EnvReader({
    CONTRAST_TLS_DIR: 'relative',
    CONTRAST_RETRY_INTERVAL: 'soon',
    CONTRAST_DONE_FILE: 'done',
  });
  readInitializerConfig(reader);
  const err = t.throws(() => reader.finish({}), { instanceOf: ConfigError });
  t.is(err.code, 'ERR_CONFIG');
  const problems = err.problems;
  t.is(problems.length, 4);
  t.true(problems.some((p) => p.startsWith('COORDINATOR_HOST is not set')));
  t.true(problems.some((p) => p.startsWith('CONTRAST_TLS_DIR=relative: expected')));
  t.true(problems.some((p) => p.startsWith('CONTRAST_DONE_FILE=done: expected')));
  t.true(problems.some((p) => p.startsWith('CONTRAST_RETRY_INTERVAL=soon: expected')));
});

test('a bad COORDINATOR_HOST names the value and the expectation', (t) => {
  const reader = new EnvReader({ COORDINATOR_HOST: 'coordinator:99999' });
  readInitializerConfig(reader);
  t.deepEqual(reader.problems, ['COORDINATOR_HOST=coordinator:99999: expected a port from 1 to 65535 after the colon']);
});

test('a zero retry interval is rejected (no busy loop)', (t) => {
  const reader = new EnvReader({ COORDINATOR_HOST: 'c', CONTRAST_RETRY_INTERVAL: '0' });
  readInitializerConfig(reader);
  t.is(reader.problems.length, 1);
});

test('CONTRAST_RETRY_INTERVAL above the longest timer delay: exit-64 problem naming the variable', (t) => {
  const reader = new EnvReader({ COORDINATOR_HOST: 'c', CONTRAST_RETRY_INTERVAL: '600h' });
  readInitializerConfig(reader);
  t.is(reader.problems.length, 1);
  t.regex(reader.problems[0] ?? '', /^CONTRAST_RETRY_INTERVAL=600h: expected a duration of at most/);
});

const collisions: [string, Record<string, string>, RegExp][] = [
  [
    'done file on key.pem',
    { CONTRAST_DONE_FILE: '/t/tls/key.pem' },
    /^key\.pem in CONTRAST_TLS_DIR and CONTRAST_DONE_FILE=\/t\/tls\/key\.pem: the same path/,
  ],
  [
    'done file on the seed',
    { CONTRAST_DONE_FILE: '/t/sec/workload-secret-seed' },
    /workload-secret-seed in CONTRAST_SECRETS_DIR and CONTRAST_DONE_FILE=/,
  ],
  [
    'done file on mesh-ca.pem, spelled with .. and a slash',
    { CONTRAST_DONE_FILE: '/t/x/../tls/mesh-ca.pem/' },
    /mesh-ca\.pem in CONTRAST_TLS_DIR and CONTRAST_DONE_FILE=\/t\/x\/\.\.\/tls\/mesh-ca\.pem\/: the same path/,
  ],
  [
    'done file is the TLS directory',
    { CONTRAST_DONE_FILE: '/t/tls' },
    /^CONTRAST_TLS_DIR=\/t\/tls and CONTRAST_DONE_FILE=\/t\/tls: the same path/,
  ],
  ['done file above both directories', { CONTRAST_DONE_FILE: '/t' }, /CONTRAST_DONE_FILE=\/t: a file above \/t\/tls/],
  [
    'TLS directory at the seed file',
    { CONTRAST_TLS_DIR: '/t/sec/workload-secret-seed' },
    /^CONTRAST_TLS_DIR=\/t\/sec\/workload-secret-seed and workload-secret-seed in CONTRAST_SECRETS_DIR: the same path/,
  ],
];
for (const [name, env, expected] of collisions) {
  test(`colliding output paths are a configuration error: ${name}`, (t) => {
    const reader = new EnvReader({
      COORDINATOR_HOST: 'c',
      CONTRAST_TLS_DIR: '/t/tls',
      CONTRAST_SECRETS_DIR: '/t/sec',
      CONTRAST_DONE_FILE: '/t/done',
      ...env,
    });
    readInitializerConfig(reader);
    t.true(reader.problems.length >= 1, 'no problem reported');
    t.true(
      reader.problems.some((p) => expected.test(p)),
      reader.problems.join('\n'),
    );
    t.true(reader.problems.every((p) => /expected a distinct path for each output$/.test(p)));
  });
}

test('one directory for certificates and secret is fine: the file names differ', (t) => {
  const reader = new EnvReader({
    COORDINATOR_HOST: 'c',
    CONTRAST_TLS_DIR: '/t/all',
    CONTRAST_SECRETS_DIR: '/t/all/',
    CONTRAST_DONE_FILE: '/t/all/done',
  });
  readInitializerConfig(reader);
  t.deepEqual(reader.problems, []);
});
