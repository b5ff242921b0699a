import test from 'ava';
import { readFileSync, readdirSync } from 'node:fs';
import { AddonNotFoundError, addonCandidates, loadAddon } from '../../lib/native/addon.js';

test('the compiled addon loads', (t) => {
  const addon = loadAddon<Record<string, unknown>>();
  t.is(typeof addon, 'object');
});

test('CONTRAST_NATIVE_ADDON is the only candidate when set; otherwise next to the program, then the build tree', (t) => {
  t.deepEqual(addonCandidates({ CONTRAST_NATIVE_ADDON: '/opt/x.node' }, '/app'), ['/opt/x.node']);
  const c = addonCandidates({}, '/app/lib/native');
  t.is(c[0], '/app/lib/native/contrast_native.node');
  t.true(c.includes('/app/native/build/Release/contrast_native.node'));
  t.true(addonCandidates({}, '/app/dist/lib/native').includes('/app/native/build/Release/contrast_native.node'));
  t.is(new Set(c).size, c.length, 'no duplicates');
});

test('an explicit CONTRAST_NATIVE_ADDON that does not exist is an error, not a silent fallback', (t) => {
  const err = t.throws(() => loadAddon<unknown>({ CONTRAST_NATIVE_ADDON: '/nonexistent/contrast_native.node' }), {
    instanceOf: AddonNotFoundError,
  });
  t.is(err.code, 'ERR_NATIVE_ADDON_NOT_FOUND');
  t.regex(err.message, /\/nonexistent\/contrast_native\.node/);
});

test('the addon sources: binding.gyp builds every C file, and no area calls back into addon.c', (t) => {
  const src = new URL('../../native/src/', import.meta.url);
  const files = readdirSync(src)
    .filter((f) => f.endsWith('.c'))
    .sort();
  const gyp = JSON.parse(readFileSync(new URL('../../native/binding.gyp', import.meta.url), 'utf8')) as {
    targets: { sources: string[] }[];
  };
  t.deepEqual(
    [...(gyp.targets[0]?.sources ?? [])].sort(),
    files.map((f) => `src/${f}`),
  );
  // addon.c is the entry point only: it defines nothing but the static init that NAPI_MODULE registers.
  const addon = readFileSync(new URL('addon.c', src), 'utf8');
  t.deepEqual(
    [...addon.matchAll(/^[a-z][\w ]*?\**\b(\w+)\(napi_env/gm)].map((m) => m[1] ?? ''),
    ['init'],
  );
  const helpers = [...readFileSync(new URL('napi-util.h', src), 'utf8').matchAll(/\b(contrast_\w+)\(/g)].map(
    (m) => m[1] ?? '',
  );
  t.true(helpers.includes('contrast_throw_errno'));
  for (const f of files.filter((name) => name !== 'addon.c' && name !== 'napi-util.c')) {
    const text = readFileSync(new URL(f, src), 'utf8');
    t.true(text.includes('#include "napi-util.h"'), `${f} includes napi-util.h`);
    const used = [...text.matchAll(/\b(contrast_\w+)\(/g)]
      .map((m) => m[1] ?? '')
      .filter((n) => !n.startsWith('contrast_init_'));
    for (const name of used) t.true(helpers.includes(name), `${f}: ${name} is declared in napi-util.h`);
  }
});
