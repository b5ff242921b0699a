/**
 * Bounded fuzz test of the annotation parser: random strings over the grammar's alphabet, and
 * mutations of valid values, either parse into a plan that respects every invariant or fail with an
 * AnnotationError whose problems are clean, non-empty lines.
 */
import test from 'ava';
import { parseAnnotations, parseEgress, planToJson, type MeshPlan } from '../../meshproxy/config-annotations.js';
import { AnnotationError } from '../../meshproxy/errors.js';
import { prng } from '../helpers/prng.js';

const ALPHABET = [
  '#',
  '##',
  ':',
  '.',
  '[',
  ']',
  '-',
  '+',
  ' ',
  '0',
  '1',
  '7',
  '9',
  '127',
  '65535',
  '65536',
  'true',
  'false',
  'T',
  'f',
  'DISABLED',
  'a',
  'svc',
  '::1',
  '%',
  '\n',
  'é',
];
const SEEDS = [
  'main#8001#false##metrics#8080#true',
  'emoji#127.137.0.1:8081#emoji-svc:8080##voting#127.137.0.2:8081#voting-svc:8080',
  '9901',
];

function randomValue(next: () => number): string {
  if (next() < 0.5) {
    const base = SEEDS[Math.floor(next() * SEEDS.length)] ?? '';
    const chars = Array.from(base);
    const edits = 1 + Math.floor(next() * 3);
    for (let i = 0; i < edits; i++) {
      const at = Math.floor(next() * (chars.length + 1));
      const op = next();
      if (op < 0.33) chars.splice(at, 1);
      else if (op < 0.66) chars.splice(at, 0, ALPHABET[Math.floor(next() * ALPHABET.length)] ?? '');
      else chars[at] = ALPHABET[Math.floor(next() * ALPHABET.length)] ?? '';
    }
    return chars.join('');
  }
  let s = '';
  const n = Math.floor(next() * 12);
  for (let i = 0; i < n; i++) s += ALPHABET[Math.floor(next() * ALPHABET.length)] ?? '';
  return s;
}

function validPort(port: number): boolean {
  return Number.isInteger(port) && port >= 1 && port <= 65535;
}

function checkPlan(plan: MeshPlan): string | undefined {
  const ports = new Set<number>();
  for (const p of plan.ingress.ports) {
    if (!Number.isInteger(p.port) || p.port < 1 || p.port > 65535) return `ingress port ${p.port}`;
    if (ports.has(p.port)) return `duplicate ingress port ${p.port}`;
    ports.add(p.port);
    if (p.name.includes('#')) return `name with # ${p.name}`;
  }
  if (plan.ingress.disabled && plan.ingress.ports.length > 0) return 'disabled with ports';
  const names = new Set<string>();
  for (const e of plan.egress) {
    if (e.name === '' || names.has(e.name)) return `egress name ${e.name}`;
    names.add(e.name);
    if (!/^127\.\d+\.\d+\.\d+$/.test(e.listen.host) || !validPort(e.listen.port))
      return `egress listen ${JSON.stringify(e.listen)}`;
    if (e.remote.host === '' || e.remote.host.startsWith('[') || !validPort(e.remote.port))
      return `egress remote ${JSON.stringify(e.remote)}`;
  }
  // The printed plan reads back into the same parsed plan: the addresses are printed as they are dialled.
  const printed = planToJson(plan)
    .egress.map((e) => `${e.name}#${e.listen}#${e.remote}`)
    .join('##');
  const problems: string[] = [];
  if (JSON.stringify(parseEgress(printed, problems)) !== JSON.stringify(plan.egress) || problems.length > 0)
    return `egress round trip ${printed}`;
  if (plan.adminPort !== null && (plan.adminPort < 1 || plan.adminPort > 65535)) return `admin ${plan.adminPort}`;
  return undefined;
}

test('20,000 random annotation values give a valid plan or a clean AnnotationError', (t) => {
  const seed = 0x5eed;
  const next = prng(seed);
  let accepted = 0;
  let rejected = 0;
  for (let i = 0; i < 20_000; i++) {
    const values = {
      ingress: randomValue(next),
      egress: next() < 0.5 ? randomValue(next) : '',
      admin: next() < 0.3 ? randomValue(next) : '',
    };
    try {
      const plan = parseAnnotations(values);
      const bad = checkPlan(plan);
      if (bad !== undefined) t.fail(`seed ${seed} case ${i} ${JSON.stringify(values)}: ${bad}`);
      JSON.stringify(plan);
      accepted++;
    } catch (err) {
      if (!(err instanceof AnnotationError)) {
        t.fail(`seed ${seed} case ${i} ${JSON.stringify(values)}: unexpected ${String(err)}`);
        return;
      }
      t.is(err.code, 'ERR_MESH_ANNOTATION');
      if (err.problems.length === 0 || err.problems.some((p) => p.trim() === '')) t.fail(`case ${i}: empty problem`);
      rejected++;
    }
  }
  t.true(accepted > 100, `accepted ${accepted}`);
  t.true(rejected > 100, `rejected ${rejected}`);
});
