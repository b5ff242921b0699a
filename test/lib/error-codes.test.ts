/**
 * Every error code in the source is documented in docs/troubleshooting.md (what it means, what to
 * do), and the page lists no code that the source no longer has (as fastify checks its Errors.md).
 */
import test from 'ava';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const TS_DIRS = ['lib', 'initializer', 'meshproxy', 'runtime-installer', 'port-forwarder', 'dev', 'images'];
/** Node's own codes that the source only compares against; they are not ours to document. */
const FOREIGN = new Set([
  'ERR_STREAM_DESTROYED',
  'ERR_TLS_HANDSHAKE_TIMEOUT',
  'ERR_SSL_HTTP_REQUEST',
  'ERR_SSL_TLSV1_ALERT_UNKNOWN_CA',
  'ERR_SSL_SSLV3_ALERT_BAD_CERTIFICATE',
]);

function files(dir: string, ext: RegExp): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) return name === 'generated' || name === 'build' ? [] : files(p, ext);
    return ext.test(name) ? [p] : [];
  });
}

function sourceCodes(): Map<string, string> {
  const found = new Map<string, string>();
  const sources = [
    ...TS_DIRS.flatMap((d) => files(join(ROOT, d), /\.c?ts$/)),
    ...files(join(ROOT, 'native/src'), /\.c$/),
  ];
  for (const file of sources) {
    for (const m of readFileSync(file, 'utf8').matchAll(/['"`](ERR_[A-Z0-9_]*[A-Z0-9])['"`]/g)) {
      const code = m[1]!;
      if (!FOREIGN.has(code) && !found.has(code)) found.set(code, file.slice(ROOT.length));
    }
  }
  return found;
}

function documentedCodes(): Map<string, string> {
  const doc = readFileSync(join(ROOT, 'docs/troubleshooting.md'), 'utf8');
  const rows = new Map<string, string>();
  for (const line of doc.split('\n')) {
    const m = /^\| `(ERR_[A-Z0-9_]+)` \|(.*)\|(.*)\|$/.exec(line);
    if (m !== null) rows.set(m[1]!, line);
  }
  return rows;
}

test('the source throws codes and the page documents codes (the scanners find something)', (t) => {
  t.true(sourceCodes().size > 50);
  t.true(documentedCodes().size > 50);
});

test('every error code in the source is documented in docs/troubleshooting.md', (t) => {
  const documented = documentedCodes();
  const missing = [...sourceCodes()]
    .filter(([code]) => !documented.has(code))
    .map(([code, file]) => `${code} (${file})`);
  t.deepEqual(missing, []);
});

test('docs/troubleshooting.md lists no code the source does not have', (t) => {
  const source = sourceCodes();
  t.deepEqual(
    [...documentedCodes().keys()].filter((code) => !source.has(code)),
    [],
  );
});

test('each documented code says what it means and what to do', (t) => {
  for (const [code, line] of documentedCodes()) {
    const cells = line.split(' | ');
    t.is(cells.length, 3, code);
    t.true(
      cells.every((c) => c.replace(/[|`]/g, '').trim().length > 3),
      code,
    );
  }
});
