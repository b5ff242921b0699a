/**
 * The import graph of the source tree (static and dynamic relative imports): layers run downhill
 * (programs -> lib -> lib/native), shipped programs stay off Coordinator code, development tools and
 * image tooling, and no files import each other in a circle.
 */
import test from 'ava';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, normalize, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const SOURCE_DIRS = ['lib', 'initializer', 'meshproxy', 'runtime-installer', 'port-forwarder', 'dev', 'images'];
const SHIPPED = ['initializer/main.ts', 'meshproxy/main.ts', 'runtime-installer/main.ts', 'port-forwarder/main.ts'];
const PROGRAMS = ['initializer', 'meshproxy', 'runtime-installer', 'port-forwarder', 'dev', 'images'];

function sources(dir: string): string[] {
  return readdirSync(join(ROOT, dir)).flatMap((name) => {
    const p = join(dir, name);
    if (statSync(join(ROOT, p)).isDirectory()) return name === 'generated' ? [] : sources(p);
    return /\.c?ts$/.test(name) ? [p] : [];
  });
}

/** Repository-relative files a source file imports (relative specifiers, `import type` included). */
function importsOf(file: string): string[] {
  const text = readFileSync(join(ROOT, file), 'utf8');
  const out: string[] = [];
  for (const m of text.matchAll(/(?:from|import)\s*\(?\s*'(\.{1,2}\/[^']+)'/g)) {
    const base = normalize(join(dirname(file), m[1]!));
    const found = [base.replace(/\.js$/, '.ts'), base.replace(/\.cjs$/, '.cts'), base].find((c) =>
      existsSync(join(ROOT, c)),
    );
    if (found !== undefined) out.push(found);
  }
  return out;
}

const GRAPH = new Map(SOURCE_DIRS.flatMap(sources).map((f) => [f, importsOf(f)]));

function reachable(entry: string): Set<string> {
  const seen = new Set<string>();
  const stack = [entry];
  while (stack.length > 0) {
    const f = stack.pop()!;
    if (seen.has(f)) continue;
    seen.add(f);
    stack.push(...(GRAPH.get(f) ?? importsOf(f)));
  }
  return seen;
}

function top(file: string): string {
  return file.split('/')[0]!;
}

test('the graph is read (sanity: the scanner finds imports)', (t) => {
  t.true(GRAPH.size > 100);
  t.true((GRAPH.get('initializer/main.ts') ?? []).includes('initializer/cli.ts'));
});

for (const entry of SHIPPED) {
  test(`${entry} reaches no Coordinator code, development tool or image tooling`, (t) => {
    const bad = [...reachable(entry)].filter(
      (f) => f.startsWith('lib/coordinator/') || ['dev', 'images', 'test', 'bench'].includes(top(f)),
    );
    t.deepEqual(bad, []);
  });
}

test('no import runs upward: lib imports no program, lib/native only itself and lib/errors.ts', (t) => {
  const bad: string[] = [];
  for (const [file, deps] of GRAPH) {
    for (const dep of deps) {
      if (file.startsWith('lib/') && PROGRAMS.includes(top(dep))) bad.push(`${file} -> ${dep}`);
      if (file.startsWith('lib/native/') && !dep.startsWith('lib/native/') && dep !== 'lib/errors.ts')
        bad.push(`${file} -> ${dep}`);
    }
  }
  t.deepEqual(bad, []);
});

test('lib areas: shared X.509 below aTLS, guest aTLS off the Coordinator side', (t) => {
  const bad: string[] = [];
  for (const [file, deps] of GRAPH) {
    for (const dep of deps) {
      if (file.startsWith('lib/x509/') && (dep.startsWith('lib/atls/') || dep.startsWith('lib/coordinator/')))
        bad.push(`${file} -> ${dep}`);
      if (!file.startsWith('lib/coordinator/') && file.startsWith('lib/') && dep.startsWith('lib/coordinator/'))
        bad.push(`${file} -> ${dep}`);
    }
  }
  t.deepEqual(bad, []);
});

test('programs do not import each other; dev/ and images/ only lib/ and the registry below them', (t) => {
  const bad: string[] = [];
  for (const [file, deps] of GRAPH) {
    if (!PROGRAMS.includes(top(file))) continue;
    for (const dep of deps) if (PROGRAMS.includes(top(dep)) && top(dep) !== top(file)) bad.push(`${file} -> ${dep}`);
  }
  t.deepEqual(bad, []);
});

test('no files import each other in a circle', (t) => {
  // Tarjan's strongly connected components over the whole graph.
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const cycles: string[][] = [];
  let counter = 0;
  const visit = (v: string): void => {
    index.set(v, counter);
    low.set(v, counter++);
    stack.push(v);
    onStack.add(v);
    for (const w of GRAPH.get(v) ?? []) {
      if (!GRAPH.has(w)) continue;
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) === index.get(v)) {
      const component: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        component.push(w);
      } while (w !== v);
      if (component.length > 1 || (GRAPH.get(v) ?? []).includes(v)) cycles.push(component.sort());
    }
  };
  for (const v of GRAPH.keys()) if (!index.has(v)) visit(v);
  t.deepEqual(cycles, []);
});

test('the scanner sees relative paths the way the compiler does', (t) => {
  t.is(relative(ROOT, join(ROOT, 'lib', '..', 'lib', 'errors.ts')), 'lib/errors.ts');
});
