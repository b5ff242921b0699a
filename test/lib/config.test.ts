import test from 'ava';
import { EnvReader, parseDuration } from '../../lib/config.js';
import { ConfigError } from '../../lib/errors.js';

const durations: [string, number | undefined][] = [
  ['500ms', 500], ['5s', 5000], ['1m30s', 90_000], ['2h', 7_200_000], ['0', 0], ['1.5s', 1500],
  ['', undefined], ['5', undefined], ['-1s', undefined], ['5 s', undefined], ['s', undefined], ['1d', undefined],
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

test('EnvReader.finish freezes the value when there is no problem', (t) => {
  const r = new EnvReader({ MODE: 'TDX' });
  const cfg = r.finish({ mode: r.oneOf('MODE', ['auto', 'snp', 'tdx'] as const, 'auto') });
  t.is(cfg.mode, 'tdx');
  t.true(Object.isFrozen(cfg));
});
