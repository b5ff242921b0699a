import test from 'ava';
import { forwarderConfigFromEnv } from '../../port-forwarder/config.js';
import { ConfigError } from '../../lib/errors.js';

test('upstream variables: LISTEN_PORT forwards to the same port on FORWARD_HOST', (t) => {
  const c = forwarderConfigFromEnv({ LISTEN_PORT: '7777', FORWARD_HOST: 'coordinator' });
  t.deepEqual(c, {
    listenAddress: '0.0.0.0',
    forwardHost: 'coordinator',
    mappings: [{ listen: 7777, forward: 7777 }],
    connectTimeoutMs: 10_000,
  });
  t.true(Object.isFrozen(c));
});

test('LISTEN_PORTS forwards each port to itself, separated by spaces or commas', (t) => {
  const c = forwarderConfigFromEnv({ LISTEN_PORTS: '1313 7777,9102', FORWARD_HOST: '10.0.0.1' });
  t.deepEqual(c.mappings, [
    { listen: 1313, forward: 1313 },
    { listen: 7777, forward: 7777 },
    { listen: 9102, forward: 9102 },
  ]);
});

test('FORWARD_PORT, LISTEN_ADDRESS and CONNECT_TIMEOUT override the defaults', (t) => {
  const c = forwarderConfigFromEnv({
    LISTEN_PORT: '8080',
    FORWARD_PORT: '80',
    FORWARD_HOST: 'web',
    LISTEN_ADDRESS: '127.0.0.1',
    CONNECT_TIMEOUT: '2s',
  });
  t.deepEqual(c, {
    listenAddress: '127.0.0.1',
    forwardHost: 'web',
    mappings: [{ listen: 8080, forward: 80 }],
    connectTimeoutMs: 2000,
  });
});

const bad: [string, Record<string, string>, string[]][] = [
  [
    'nothing set',
    {},
    [
      'FORWARD_HOST is not set: expected the host name or IP address to forward to',
      'LISTEN_PORT is not set: expected the port to listen on (or LISTEN_PORTS with several)',
    ],
  ],
  [
    'port out of range',
    { LISTEN_PORT: '70000', FORWARD_HOST: 'h' },
    ['LISTEN_PORT=70000: expected an integer from 1 to 65535'],
  ],
  [
    'port not a number',
    { LISTEN_PORT: 'http', FORWARD_HOST: 'h' },
    ['LISTEN_PORT=http: expected an integer from 1 to 65535'],
  ],
  [
    'both forms',
    { LISTEN_PORT: '1', LISTEN_PORTS: '2 3', FORWARD_HOST: 'h' },
    ['LISTEN_PORTS=2 3: expected either LISTEN_PORT or LISTEN_PORTS, not both'],
  ],
  [
    'list with junk and duplicates',
    { LISTEN_PORTS: '1 x 1 0', FORWARD_HOST: 'h' },
    [
      'LISTEN_PORTS=1 x 1 0: expected ports from 1 to 65535, got x',
      'LISTEN_PORTS=1 x 1 0: port 1 is listed twice',
      'LISTEN_PORTS=1 x 1 0: expected ports from 1 to 65535, got 0',
    ],
  ],
  [
    'FORWARD_PORT with a list',
    { LISTEN_PORTS: '1', FORWARD_PORT: '2', FORWARD_HOST: 'h' },
    ['FORWARD_PORT=2: expected only together with LISTEN_PORT (LISTEN_PORTS forwards each port to itself)'],
  ],
  [
    'bad timeout',
    { LISTEN_PORT: '1', FORWARD_HOST: 'h', CONNECT_TIMEOUT: 'soon' },
    ['CONNECT_TIMEOUT=soon: expected a duration such as 500ms, 5s or 1m30s of at least 1ms'],
  ],
];
for (const [name, env, problems] of bad) {
  test(`rejected: ${name}`, (t) => {
    const err = t.throws(() => forwarderConfigFromEnv(env), { instanceOf: ConfigError });
    t.is(err.code, 'ERR_CONFIG');
    t.deepEqual(err.problems, problems);
  });
}
