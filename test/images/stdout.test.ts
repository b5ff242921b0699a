import test from 'ava';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const FIXTURE = fileURLToPath(new URL('fixtures/slow-report.ts', import.meta.url));

/** Runs the fixture with its stdout read like `| head -1`: the first chunk, then the pipe is closed. */
async function headOne(mode: 'tolerant' | 'raw'): Promise<{ code: number | null; stderr: string }> {
  const child = spawn(process.execPath, ['--import=tsx', FIXTURE, mode], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (c: string) => {
    stderr += c;
  });
  child.stdout.once('data', () => {
    child.stdout.destroy();
  });
  const code = await new Promise<number | null>((done) => child.on('close', done));
  return { code, stderr };
}

test('a tool whose report reader leaves early (| head -1) finishes its work and exits 0', async (t) => {
  const r = await headOne('tolerant');
  t.is(r.code, 0, r.stderr);
  t.regex(r.stderr, /work finished/);
  t.notRegex(r.stderr, /EPIPE/);
});

test('without it, the same writer dies of EPIPE halfway (what npm run images | head used to do)', async (t) => {
  const r = await headOne('raw');
  t.not(r.code, 0);
  t.regex(r.stderr, /EPIPE/);
  t.notRegex(r.stderr, /work finished/);
});
