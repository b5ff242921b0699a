import test from 'ava';
import { mkdirSync, mkdtempSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  addBinaryWithLibraries,
  addHostPath,
  parseLdd,
  sharedLibraries,
  sharedLibrariesOfMany,
} from '../../images/host-files.js';
import { LayerContents } from '../../images/tar.js';

const LDD_NODE = `	linux-vdso.so.1 (0x00007ffd1a5e2000)
	libdl.so.2 => /lib/x86_64-linux-gnu/libdl.so.2 (0x00007f2a0c9b8000)
	libstdc++.so.6 => /lib/x86_64-linux-gnu/libstdc++.so.6 (0x00007f2a0c600000)
	libc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x00007f2a0c41e000)
	/lib64/ld-linux-x86-64.so.2 (0x00007f2a0c9d0000)
`;

test('parseLdd keeps resolved libraries and the loader, drops the vDSO, sorts', (t) => {
  t.deepEqual(parseLdd('node', LDD_NODE), [
    '/lib/x86_64-linux-gnu/libc.so.6',
    '/lib/x86_64-linux-gnu/libdl.so.2',
    '/lib/x86_64-linux-gnu/libstdc++.so.6',
    '/lib64/ld-linux-x86-64.so.2',
  ]);
  t.deepEqual(parseLdd('static', '\tstatically linked\n'), []);
});

test('parseLdd refuses a library that is not found', (t) => {
  const err = t.throws(() => parseLdd('/usr/bin/x', '\tlibmissing.so.1 => not found\n'));
  t.is((err as { code?: string }).code, 'ERR_HOST_FILE');
  t.regex(err.message, /libmissing\.so\.1/);
});

test('addHostPath records every symlink on the way, relative and absolute', (t) => {
  const root = mkdtempSync(join(tmpdir(), `host-files-${process.pid}-`));
  t.teardown(() => {
    rmSync(root, { recursive: true, force: true });
  });
  mkdirSync(join(root, 'usr/lib'), { recursive: true });
  writeFileSync(join(root, 'usr/lib/libx.so.1.2'), 'ELF');
  symlinkSync('usr/lib', join(root, 'lib')); // dir link, relative
  symlinkSync('libx.so.1.2', join(root, 'usr/lib/libx.so.1')); // file link, relative
  symlinkSync(join(root, 'lib/libx.so.1'), join(root, 'abs')); // absolute link through the dir link
  const layer = new LayerContents();
  const real = addHostPath(layer, join(root, 'abs'));
  t.is(real, join(root, 'usr/lib/libx.so.1.2'));
  const rel = (p: string): string => join(root, p).slice(1);
  t.deepEqual(layer.get(rel('abs')), { type: 'symlink', path: rel('abs'), target: join(root, 'lib/libx.so.1') });
  t.deepEqual(layer.get(rel('lib')), { type: 'symlink', path: rel('lib'), target: 'usr/lib' });
  t.deepEqual(layer.get(rel('usr/lib/libx.so.1')), {
    type: 'symlink',
    path: rel('usr/lib/libx.so.1'),
    target: 'libx.so.1.2',
  });
  const file = layer.get(rel('usr/lib/libx.so.1.2'));
  t.is(file?.type, 'file');
});

test('a missing host file is a HostFileError naming it', (t) => {
  const err = t.throws(() => addHostPath(new LayerContents(), '/nonexistent/contrast-test'));
  t.is((err as { code?: string }).code, 'ERR_HOST_FILE');
  t.regex(err.message, /\/nonexistent/);
});

test("this machine's node: ldd finds libc and the loader, and the layer gets them with their links", (t) => {
  const libs = sharedLibraries(process.execPath);
  t.true(libs.some((l) => l.endsWith('/libc.so.6')));
  t.true(libs.some((l) => /ld-linux/.test(l)));
  const layer = new LayerContents();
  addBinaryWithLibraries(layer, process.execPath);
  for (const lib of libs) {
    t.is(layer.get(realpathSync(lib))?.type, 'file', lib);
    t.not(layer.get(lib.split('/').slice(0, 2).join('/')), undefined, lib); // /lib or /lib64 (a link on merged-/usr)
  }
});

test('one ldd run over several files gives the union of their libraries', (t) => {
  const xt = '/usr/lib/x86_64-linux-gnu/xtables';
  const libs = sharedLibrariesOfMany([`${xt}/libxt_tcp.so`, `${xt}/libxt_TPROXY.so`, '/etc/protocols']);
  t.true(libs.some((l) => l.endsWith('/libxtables.so.12')));
  t.true(libs.some((l) => l.endsWith('/libc.so.6')));
  t.deepEqual(libs, [...new Set(libs)].sort());
});
