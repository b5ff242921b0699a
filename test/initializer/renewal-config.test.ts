/** Renewal mode's variables: off by default, validated, refused without the interval. */
import test from 'ava';
import { EnvReader } from '../../lib/config.js';
import { readRenewalConfig } from '../../initializer/renewal-config.js';

const read = (env: Record<string, string>): { value: ReturnType<typeof readRenewalConfig>; problems: string[] } => {
  const r = new EnvReader(env);
  const value = readRenewalConfig(r, '/contrast/tls-config');
  return { value, problems: r.problems };
};

test('unset: renewal off, as upstream', (t) => {
  t.deepEqual(read({}), { value: undefined, problems: [] });
});

test('set: interval, default fraction and request file beside the TLS directory', (t) => {
  t.deepEqual(read({ CONTRAST_RENEWAL_INTERVAL: '10m' }), {
    value: { intervalMs: 600_000, at: 0.66, signalFile: '/contrast/renewal-request' },
    problems: [],
  });
  t.deepEqual(
    read({ CONTRAST_RENEWAL_INTERVAL: '1h', CONTRAST_RENEWAL_AT: '0.5', CONTRAST_RENEWAL_SIGNAL_FILE: '/run/x' }).value,
    { intervalMs: 3_600_000, at: 0.5, signalFile: '/run/x' },
  );
});

test('bad values: every problem named', (t) => {
  const rows: [Record<string, string>, RegExp][] = [
    [{ CONTRAST_RENEWAL_INTERVAL: 'soon' }, /^CONTRAST_RENEWAL_INTERVAL=soon: expected a duration/],
    [
      { CONTRAST_RENEWAL_INTERVAL: '10ms' },
      /^CONTRAST_RENEWAL_INTERVAL=10ms: expected a duration .* of at least 1000ms/,
    ],
    [
      { CONTRAST_RENEWAL_INTERVAL: '1h', CONTRAST_RENEWAL_AT: '1' },
      /^CONTRAST_RENEWAL_AT=1: expected a fraction .* above 0 and below 1/,
    ],
    [{ CONTRAST_RENEWAL_INTERVAL: '1h', CONTRAST_RENEWAL_AT: '0' }, /^CONTRAST_RENEWAL_AT=0: expected a fraction/],
    [{ CONTRAST_RENEWAL_INTERVAL: '1h', CONTRAST_RENEWAL_AT: '66%' }, /^CONTRAST_RENEWAL_AT=66%: expected a fraction/],
    [
      { CONTRAST_RENEWAL_INTERVAL: '1h', CONTRAST_RENEWAL_SIGNAL_FILE: 'rel' },
      /^CONTRAST_RENEWAL_SIGNAL_FILE=rel: expected an absolute path/,
    ],
    [{ CONTRAST_RENEWAL_AT: '0.5' }, /^CONTRAST_RENEWAL_AT=0\.5: expected only with CONTRAST_RENEWAL_INTERVAL/],
    [
      { CONTRAST_RENEWAL_SIGNAL_FILE: '/x' },
      /^CONTRAST_RENEWAL_SIGNAL_FILE=\/x: expected only with CONTRAST_RENEWAL_INTERVAL/,
    ],
  ];
  for (const [env, re] of rows) {
    const { problems } = read(env);
    t.is(problems.length, 1, JSON.stringify(env));
    t.regex(problems[0] ?? '', re);
  }
});
