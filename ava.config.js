// Every test file: what `npx ava <file>` and `npx ava` use. `npm test` runs the two suites below instead.
export default {
  files: ['test/**/*.test.ts'],
  extensions: { ts: 'module' },
  nodeArguments: ['--import=tsx'],
  workerThreads: false,
  concurrency: 2,
  timeout: '3m',
};
