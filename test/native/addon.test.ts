import test from 'ava';
import { addonCandidates, loadAddon } from '../../native/addon.js';

test('the compiled addon loads', (t) => {
  const addon = loadAddon<Record<string, unknown>>();
  t.is(typeof addon, 'object');
});

test('CONTRAST_NATIVE_ADDON comes first among the candidates', (t) => {
  const c = addonCandidates({ CONTRAST_NATIVE_ADDON: '/opt/x.node' }, '/app');
  t.is(c[0], '/opt/x.node');
  t.true(c.includes('/app/contrast_native.node'));
});
