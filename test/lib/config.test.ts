import test from 'ava';
import { EnvReader, MAX_TIMER_MS, parseDuration } from '../../lib/config.js';
import { ConfigError } from '../../lib/errors.js';

const durations: [string, number | undefined][] = [
  ['500ms', 500],
  ['5s', 5000],
  ['1m30s', 90_000],
  ['2h', 7_200_000],
  ['0', 0],
  ['1.5s', 1500],
  ['', undefined],
  ['5', undefined],
  ['-1s', undefined],
  ['5 s', undefined],
  ['s', undefined],
  ['1d', undefined],
];
for (const [input, expected] of durations) {
  test(`parseDuration(${JSON.stringify(input)})`, (t) => {
    t.is(parseDuration(input), expected);
  });
}

test('EnvReader collects every problem and names the variable and value', (t) => {
  const r = new EnvReader({ A: 'x', B: '70000', LEGACY: '5s', F: 'maybe' });
  r.required('MISSING', 'a host name');
  r.duration('A', '5s');
  r.integer('B', { min: 1, max: 65535 });
  t.is(r.duration(['NEW', 'LEGACY'], '1s'), 5000);
  r.flag('F');
  const err = t.throws(() => r.finish({}), { instanceOf: ConfigError });
  t.is(err.code, 'ERR_CONFIG');
  t.deepEqual(err.problems, [
    'MISSING is not set: expected a host name',
    'A=x: expected a duration such as 500ms, 5s or 1m30s',
    'B=70000: expected an integer from 1 to 65535',
    'F=maybe: expected a boolean (1, true, 0, false)',
  ]);
});

test('a duration longer than a timer can wait is a configuration error naming the variable, at every reader', (t) => {
  const r = new EnvReader({ A: '1000h', B: '596h31m23.647s', C: '596h31m23.648s', D: '10m' });
  t.is(r.duration('B', '5s'), MAX_TIMER_MS, 'the largest timer delay itself is accepted');
  r.duration('A', '5s', { min: 1 });
  r.duration('C', '5s');
  r.duration('D', '5s', { max: 60_000 });
  const err = t.throws(() => r.finish({}), { instanceOf: ConfigError });
  t.deepEqual(err.problems, [
    'A=1000h: expected a duration of at most 596h31m23.647s (2147483647ms), the longest a timer can wait',
    'C=596h31m23.648s: expected a duration of at most 596h31m23.647s (2147483647ms), the longest a timer can wait',
    'D=10m: expected a duration of at most 1m (60000ms)',
  ]);
});

test('EnvReader.finish freezes the value when there is no problem', (t) => {
  const r = new EnvReader({ MODE: 'TDX' });
  const cfg = r.finish({ mode: r.oneOf('MODE', ['auto', 'snp', 'tdx'] as const, 'auto') });
  t.is(cfg.mode, 'tdx');
  t.true(Object.isFrozen(cfg));
});
