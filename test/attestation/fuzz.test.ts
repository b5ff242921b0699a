/**
 * Bounded fuzzing: every truncated prefix of every seed through every parser, then seeded random
 * mutations through parsers and validators. Only typed AttestationErrors may come out.
 * The long run is `npx tsx bench/attestation-fuzz.ts [seconds] [seed]`.
 */
import test from 'ava';
import { mutate, PARSERS, rng, runTarget, runValidator, seeds, validators, type Untyped } from './fuzz-targets.js';

const SEED = Number(process.env['ATTESTATION_FUZZ_SEED'] ?? 0x5eed);

function report(found: Untyped[]): string {
  return found
    .slice(0, 3)
    .map((u) => `${u.target}(${u.input.toString('hex').slice(0, 64)}…, ${u.input.length} bytes): ${String(u.error)}`)
    .join('\n');
}

test('every truncated prefix of every seed yields a value or a typed error', (t) => {
  const found: Untyped[] = [];
  let runs = 0;
  for (const [seedName, seed] of Object.entries(seeds())) {
    for (let len = 0; len < seed.length; len++) {
      const prefix = seed.subarray(0, len);
      for (const [name, target] of Object.entries(PARSERS)) {
        // inspect on a TDX quote prefix that parses would verify it; that path is covered by the mutation test.
        if (name === 'inspect' && seedName === 'tdxQuote' && len > 0x27c && len % 64 !== 0) continue;
        runs++;
        const u = runTarget(name, target, prefix);
        if (u !== undefined) found.push(u);
      }
    }
  }
  t.log(`${runs} runs`);
  t.deepEqual(found.length, 0, report(found));
});

test(`random mutations yield only typed errors (seed ${SEED})`, async (t) => {
  const r = rng(SEED);
  const s = seeds();
  const v = validators();
  const all = Object.values(s);
  const found: Untyped[] = [];
  for (let i = 0; i < 1500; i++) {
    const base = all[Math.floor(r() * all.length)]!;
    const input = mutate(base, r);
    for (const [name, target] of Object.entries(PARSERS)) {
      const u = runTarget(name, target, input);
      if (u !== undefined) found.push(u);
    }
    if (base === s.snpDocument || base === s.tdxDocument) {
      const kind = base === s.snpDocument ? 'snp' : 'tdx';
      const u = await runValidator(`${kind}.validate`, (d) => v[kind].validate(d, Buffer.alloc(64)), input);
      if (u !== undefined) found.push(u);
    }
  }
  t.deepEqual(found.length, 0, report(found));
});

test('random garbage of every small length yields only typed errors', (t) => {
  const r = rng(SEED ^ 0xabcdef);
  const found: Untyped[] = [];
  for (let len = 0; len < 600; len++) {
    const input = Buffer.from(Array.from({ length: len }, () => Math.floor(r() * 256)));
    for (const [name, target] of Object.entries(PARSERS)) {
      const u = runTarget(name, target, input);
      if (u !== undefined) found.push(u);
    }
  }
  t.deepEqual(found.length, 0, report(found));
});
