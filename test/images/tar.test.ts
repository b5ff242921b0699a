import test from 'ava';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readlinkSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LayerContents, tarPath, writeTar } from '../../images/tar.js';

const LONG = `opt/${'x'.repeat(100)}/${'y'.repeat(100)}/${'z'.repeat(100)}`;

function sample(): LayerContents {
  const l = new LayerContents();
  l.add({ type: 'file', path: '/usr/bin/tool', mode: 0o755, data: Buffer.from('#!/bin/true\n') });
  l.add({ type: 'symlink', path: 'bin', target: 'usr/bin' });
  l.add({ type: 'dir', path: 'tmp', mode: 0o1777 });
  l.add({ type: 'file', path: `opt/${'d'.repeat(120)}/file`, mode: 0o644, data: Buffer.alloc(1000, 7) });
  l.add({ type: 'file', path: LONG, mode: 0o600, data: Buffer.from('long') });
  l.add({ type: 'symlink', path: 'opt/far', target: `/${'t'.repeat(150)}` });
  return l;
}

function extract(t: import('ava').ExecutionContext, tar: Buffer): string {
  const dir = mkdtempSync(join(tmpdir(), `tar-test-${process.pid}-`));
  t.teardown(() => {
    rmSync(dir, { recursive: true, force: true });
  });
  writeFileSync(join(dir, 'layer.tar'), tar);
  execFileSync('tar', ['-xpf', join(dir, 'layer.tar'), '-C', dir, '--numeric-owner']);
  return dir;
}

test('GNU tar reads the archive back: files, modes, links, long names through ustar prefix and PAX', (t) => {
  const tar = writeTar(sample().sorted(), 0);
  const dir = extract(t, tar);
  t.is(readFileSync(join(dir, 'usr/bin/tool'), 'utf8'), '#!/bin/true\n');
  t.is(statSync(join(dir, 'usr/bin/tool')).mode & 0o7777, 0o755);
  t.is(statSync(join(dir, 'tmp')).mode & 0o7777, 0o1777);
  t.is(readlinkSync(join(dir, 'bin')), 'usr/bin');
  t.true(readFileSync(join(dir, 'opt', 'd'.repeat(120), 'file')).equals(Buffer.alloc(1000, 7)));
  t.is(readFileSync(join(dir, LONG), 'utf8'), 'long');
  t.is(readlinkSync(join(dir, 'opt/far')), `/${'t'.repeat(150)}`);
});

test('entries are sorted, parents are present, owners are 0 and every mtime is the epoch given', (t) => {
  const tar = writeTar(sample().sorted(), 1_700_000_000);
  const dir = mkdtempSync(join(tmpdir(), `tar-list-${process.pid}-`));
  t.teardown(() => {
    rmSync(dir, { recursive: true, force: true });
  });
  writeFileSync(join(dir, 'l.tar'), tar);
  const lines = execFileSync('tar', ['--numeric-owner', '--full-time', '-tvf', join(dir, 'l.tar')], {
    encoding: 'utf8',
    env: { TZ: 'UTC' },
  })
    .trim()
    .split('\n');
  const names = execFileSync('tar', ['-tf', join(dir, 'l.tar')], { encoding: 'utf8' })
    .trim()
    .split('\n');
  t.deepEqual(
    names,
    [...names].sort((a, b) => Buffer.compare(Buffer.from(a.replace(/\/$/, '')), Buffer.from(b.replace(/\/$/, '')))),
  );
  t.true(names.includes('usr/') && names.includes('opt/'));
  for (const line of lines) {
    t.regex(line, / 0\/0 /);
    t.regex(line, /2023-11-14 22:13:20/);
  }
});

test('the same entries give the same bytes, in any insertion order', (t) => {
  const a = sample();
  const b = new LayerContents();
  for (const e of [...sample().sorted()].reverse()) b.add(e);
  t.true(writeTar(a.sorted(), 0).equals(writeTar(b.sorted(), 0)));
});

test('conflicting entries for one path are refused; identical ones are merged', (t) => {
  const l = new LayerContents();
  l.add({ type: 'symlink', path: 'lib', target: 'usr/lib' });
  l.add({ type: 'symlink', path: '/lib/', target: 'usr/lib' });
  t.is(l.size, 1);
  const err = t.throws(() => {
    l.add({ type: 'dir', path: 'lib', mode: 0o755 });
  });
  t.is((err as { code?: string }).code, 'ERR_LAYER_ENTRY');
});

test("a lower layer's identical entries are not repeated, different ones are refused", (t) => {
  const base = new LayerContents();
  base.add({ type: 'file', path: 'etc/a', mode: 0o644, data: Buffer.from('a') });
  const upper = new LayerContents(base);
  upper.add({ type: 'file', path: 'etc/a', mode: 0o644, data: Buffer.from('a') });
  t.is(upper.size, 0);
  const err = t.throws(() => {
    upper.add({ type: 'file', path: 'etc/a', mode: 0o644, data: Buffer.from('b') });
  });
  t.is((err as { code?: string }).code, 'ERR_LAYER_ENTRY');
});

test('a file below a symlink is refused when the layer is sorted', (t) => {
  const l = new LayerContents();
  l.add({ type: 'symlink', path: 'bin', target: 'usr/bin' });
  l.add({ type: 'file', path: 'bin/x', mode: 0o755, data: Buffer.alloc(0) });
  const err = t.throws(() => l.sorted());
  t.is((err as { code?: string }).code, 'ERR_LAYER_ENTRY');
});

test('paths cannot escape the image; the root itself is refused', (t) => {
  t.is(tarPath('../etc/passwd'), 'etc/passwd');
  t.is(tarPath('a/../../b'), 'b');
  for (const p of ['', '/', '.', '/..']) {
    const err = t.throws(() => tarPath(p), undefined, p);
    t.is((err as { code?: string }).code, 'ERR_LAYER_ENTRY');
  }
  t.is(tarPath('/usr//bin/./x/'), 'usr/bin/x');
});
