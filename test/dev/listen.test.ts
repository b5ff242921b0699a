/** --listen parsing of the development Coordinator. */
import test from 'ava';
import { parseListen } from '../../lib/coordinator/coordinator.js';
import { ConfigError } from '../../lib/errors.js';

const ok: Array<[string, string, number]> = [
  ['127.0.0.1:7777', '127.0.0.1', 7777],
  ['0.0.0.0:0', '0.0.0.0', 0],
  ['[::1]:7777', '::1', 7777],
  ['coordinator:7777', 'coordinator', 7777],
];
for (const [value, host, port] of ok) {
  test(`accepts ${value}`, (t) => {
    t.deepEqual(parseListen(value), { host, port });
  });
}

for (const value of ['7777', '::1:7777', 'host:', 'host:65536', ':7777', '[::1]7777']) {
  test(`rejects ${value}`, (t) => {
    const err = t.throws(() => parseListen(value), { instanceOf: ConfigError });
    t.regex(err.message, new RegExp(`^--listen=${value.replace(/[[\]]/g, '\\$&')}: expected HOST:PORT`));
  });
}
