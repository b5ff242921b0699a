import test from 'ava';
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
  const err = t.throws(() => loadAddon<unknown>({ CONTRAST_NATIVE_ADDON: '/nonexistent/contrast_native.node' }), { instanceOf: AddonNotFoundError });
  t.is(err.code, 'ERR_NATIVE_ADDON_NOT_FOUND');
  t.regex(err.message, /\/nonexistent\/contrast_native\.node/);
});
