/** The `report` and `report inspect` sub-commands as wired into the real program (initializer/main.ts). */
import test from 'ava';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { mountEmulators } from '../emulators/harness.js';
import { MAIN } from './helpers/e2e.js';
import { spawnFixture } from './helpers/spawn.js';

test('report prints a base64 SEV-SNP document over zero report data; report inspect describes it', async (t) => {
  const emu = await mountEmulators();
  t.teardown(() => emu.unmount());
  const dir = await mkdtemp(join(tmpdir(), `init-report-${process.pid}-`));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const env = {
    CONTRAST_ATTESTATION: 'snp',
    CONTRAST_SNP_DEVICE: emu.snpDevice,
    CONTRAST_TSM_REPORT_DIR: join(dir, 'none'),
    CONTRAST_KDS_TIMEOUT: '0',
  };
  const report = spawnFixture(env, ['report'], MAIN);
  t.is((await report.exited).code, 0, report.stderr());
  const b64 = report.stdout().trim();
  t.regex(b64, /^[A-Za-z0-9+/]+=*$/);
  const file = join(dir, 'doc.b64');
  await writeFile(file, b64);
  const inspect = spawnFixture({}, ['report', 'inspect', file], MAIN);
  t.is((await inspect.exited).code, 0, inspect.stderr());
  const described = JSON.stringify(JSON.parse(inspect.stdout()));
  t.true(described.includes(emu.config.hostData.toString('hex')), described);
  t.true(described.includes('0'.repeat(128)), 'the report data is all zero');
});

test('report inspect of a missing file: one ERROR line, non-zero exit', async (t) => {
  const p = spawnFixture({}, ['report', 'inspect', '/nonexistent/report.bin'], MAIN);
  const { code } = await p.exited;
  t.not(code, 0);
  t.regex(p.stderr(), /"level":"ERROR".*\/nonexistent\/report\.bin/);
});
