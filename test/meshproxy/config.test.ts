/** The meshproxy's environment: defaults, legacy names, explicit-mode listeners, every problem at once. */
import test from 'ava';
import { ConfigError } from '../../lib/errors.js';
import { DATA_PATH_ENV, meshConfigFromEnv, type DataPath } from '../../meshproxy/config.js';
import { parseAnnotations, planToJson } from '../../meshproxy/config-annotations.js';

test('defaults follow upstream', (t) => {
  const c = meshConfigFromEnv({});
  t.is(c.tlsDir, '/contrast/tls-config');
  t.is(c.readyFile, '/ready');
  t.is(c.mode, 'transparent');
  t.is(c.iptables, 'iptables-legacy');
  t.is(c.ip6tables, 'ip6tables-legacy');
  t.is(c.connectTimeoutMs, 5000);
  t.is(c.idleTimeoutMs, 3_600_000);
  t.deepEqual(c.plan, { ingress: { disabled: false, ports: [] }, egress: [], adminPort: null });
  t.true(Object.isFrozen(c));
});

test('explicit mode listeners', (t) => {
  const c = meshConfigFromEnv({
    CONTRAST_MESHPROXY_MODE: 'explicit',
    CONTRAST_MESHPROXY_INGRESS_LISTEN: '0.0.0.0:9443=8443, [::]:9080=8080',
  });
  t.deepEqual(c.explicitIngress, [
    { host: '0.0.0.0', port: 9443, appPort: 8443 },
    { host: '::', port: 9080, appPort: 8080 },
  ]);
});

test('every problem is listed, each naming its variable', (t) => {
  const err = t.throws(
    () =>
      meshConfigFromEnv({
        EDG_INGRESS_PROXY_CONFIG: 'web#8080',
        CONTRAST_MESHPROXY_MODE: 'sideways',
        CONTRAST_MESHPROXY_INGRESS_LISTEN: 'localhost:80=80',
        CONTRAST_MESHPROXY_DRAIN_TIMEOUT: 'soon',
      }),
    { instanceOf: ConfigError },
  );
  t.is(err.code, 'ERR_CONFIG');
  t.deepEqual(err.problems, [
    'EDG_INGRESS_PROXY_CONFIG=web#8080: invalid entry: web#8080',
    'CONTRAST_MESHPROXY_MODE=sideways: expected one of transparent, explicit',
    'CONTRAST_MESHPROXY_INGRESS_LISTEN=localhost:80=80: entry localhost:80=80: expected <ip>:<port>=<app port>, e.g. 0.0.0.0:9443=8443',
    'CONTRAST_MESHPROXY_DRAIN_TIMEOUT=soon: expected a duration such as 500ms, 5s or 1m30s',
  ]);
});

test('session resumption: on unless CONTRAST_MESHPROXY_SESSION_RESUMPTION is false; a non-boolean is a problem', (t) => {
  t.true(meshConfigFromEnv({}).sessionResumption);
  t.true(meshConfigFromEnv({ CONTRAST_MESHPROXY_SESSION_RESUMPTION: 'true' }).sessionResumption);
  t.false(meshConfigFromEnv({ CONTRAST_MESHPROXY_SESSION_RESUMPTION: 'false' }).sessionResumption);
  t.false(meshConfigFromEnv({ CONTRAST_MESHPROXY_SESSION_RESUMPTION: '0' }).sessionResumption);
  const err = t.throws(() => meshConfigFromEnv({ CONTRAST_MESHPROXY_SESSION_RESUMPTION: 'sometimes' }), {
    instanceOf: ConfigError,
  });
  t.deepEqual(err.problems, [
    'CONTRAST_MESHPROXY_SESSION_RESUMPTION=sometimes: expected a boolean (1, true, 0, false)',
  ]);
});

test('data path: native unless CONTRAST_MESHPROXY_DATA_PATH says node; another value is a problem', (t) => {
  const rows: readonly { name: string; value: string | undefined; dataPath: DataPath }[] = [
    { name: 'unset', value: undefined, dataPath: 'native' },
    { name: 'empty', value: '', dataPath: 'native' },
    { name: 'node', value: 'node', dataPath: 'node' },
    { name: 'native', value: 'native', dataPath: 'native' },
  ];
  for (const row of rows) {
    t.is(meshConfigFromEnv({ [DATA_PATH_ENV]: row.value }).dataPath, row.dataPath, row.name);
  }
  const err = t.throws(() => meshConfigFromEnv({ [DATA_PATH_ENV]: 'kernel' }), { instanceOf: ConfigError });
  t.is(err.code, 'ERR_CONFIG');
  t.deepEqual(err.problems, ['CONTRAST_MESHPROXY_DATA_PATH=kernel: expected native or node']);
});

test('explicit listeners are refused in transparent mode', (t) => {
  const err = t.throws(() => meshConfigFromEnv({ CONTRAST_MESHPROXY_INGRESS_LISTEN: '0.0.0.0:9443=8443' }), {
    instanceOf: ConfigError,
  });
  t.true(err.problems[0]?.includes('expected only with CONTRAST_MESHPROXY_MODE=explicit'));
});

test('egress addresses are kept parsed: host and port, IPv6 without brackets, port normalised', (t) => {
  const plan = parseAnnotations({
    ingress: '',
    admin: '',
    egress: 'a#127.0.0.2:4001#backend.default:+080##b#127.9.0.1:443#[fd00::1]:0443',
  });
  t.deepEqual(plan.egress, [
    { name: 'a', listen: { host: '127.0.0.2', port: 4001 }, remote: { host: 'backend.default', port: 80 } },
    { name: 'b', listen: { host: '127.9.0.1', port: 443 }, remote: { host: 'fd00::1', port: 443 } },
  ]);
  t.deepEqual(planToJson(plan).egress, [
    { name: 'a', listen: '127.0.0.2:4001', remote: 'backend.default:80' },
    { name: 'b', listen: '127.9.0.1:443', remote: '[fd00::1]:443' },
  ]);
});
