/**
 * Long fuzz run of the attestation parsers and validators (the CI test runs a bounded slice).
 *
 *   npx tsx bench/attestation-fuzz.ts [seconds=60] [seed=random]
 *
 * Prints, per target, how many inputs were accepted and which typed error codes came out; any
 * untyped exception is printed with its input (hex) and the run exits 1. Reproduce with the seed.
 */
import { AttestationError } from '../lib/attestation/errors.js';
import { mutate, PARSERS, rng, seeds, validators } from '../test/attestation/fuzz-targets.js';

const seconds = Number(process.argv[2] ?? 60);
const seed = Number(process.argv[3] ?? Math.floor(Math.random() * 0xffffffff));
const r = rng(seed);
const s = seeds();
const v = validators();
const all = Object.values(s);
const counts = new Map<string, Map<string, number>>();

function count(target: string, outcome: string): void {
  const m = counts.get(target) ?? new Map<string, number>();
  m.set(outcome, (m.get(outcome) ?? 0) + 1);
  counts.set(target, m);
}

function fail(target: string, input: Buffer, err: unknown): never {
  console.error(
    `UNTYPED in ${target} (seed ${seed}): ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`,
  );
  console.error(`input (${input.length} bytes): ${input.toString('hex')}`);
  process.exit(1);
}

async function main(): Promise<void> {
  const end = Date.now() + seconds * 1000;
  let iterations = 0;
  while (Date.now() < end) {
    const base = all[Math.floor(r() * all.length)] ?? s.snpReport;
    const input = mutate(base, r);
    for (const [name, target] of Object.entries(PARSERS)) {
      try {
        target(input);
        count(name, 'ok');
      } catch (err) {
        if (!(err instanceof AttestationError)) fail(name, input, err);
        count(name, err.code);
      }
    }
    for (const kind of ['snp', 'tdx'] as const) {
      try {
        await v[kind].validate(input, Buffer.alloc(64));
        count(`${kind}.validate`, 'ok');
      } catch (err) {
        if (!(err instanceof AttestationError)) fail(`${kind}.validate`, input, err);
        count(`${kind}.validate`, err.code);
      }
    }
    iterations++;
  }
  console.log(`seed ${seed}: ${iterations} inputs in ${seconds}s, no untyped exceptions`);
  for (const [target, m] of counts) {
    console.log(
      `  ${target.padEnd(22)} ${[...m]
        .sort((a, b) => b[1] - a[1])
        .map(([k, n]) => `${k}=${n}`)
        .join(' ')}`,
    );
  }
}

void main();
