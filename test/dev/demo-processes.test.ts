import test from 'ava';
import { programCommand } from '../../dev/demo-processes.js';

test('the demo starts each program the way its own entry was started: source, dist/ or bundle', (t) => {
  t.deepEqual(programCommand('initializer', 'file:///repo/dev/demo-processes.ts'), {
    command: process.execPath,
    args: ['--import', 'tsx', '/repo/initializer/main.ts'],
  });
  t.deepEqual(programCommand('meshproxy', 'file:///repo/dist/dev/demo-processes.js'), {
    command: process.execPath,
    args: ['/repo/dist/meshproxy/main.js'],
  });
  // From dist/bundle/contrast-dev/main.mjs: each sibling bundle's own entry (lib/programs.ts layouts).
  t.deepEqual(programCommand('initializer', 'file:///repo/dist/bundle/contrast-dev/main.mjs'), {
    command: process.execPath,
    args: ['/repo/dist/bundle/initializer/main.cjs'],
  });
  t.deepEqual(programCommand('meshproxy', 'file:///repo/dist/bundle/contrast-dev/main.mjs'), {
    command: process.execPath,
    args: ['/repo/dist/bundle/meshproxy/main.mjs'],
  });
});
