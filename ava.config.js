// Every test file: what `npx ava <file>` and `npx ava` use. `npm test` runs the two suites below instead.
export default {
  files: ['test/**/*.test.ts'],
  extensions: { ts: 'module' },
  nodeArguments: ['--import=tsx'],
  workerThreads: false,
  // Tests parse log lines as JSON; the programs' default is text, as upstream's (docs/configuration.md).
  environmentVariables: { CONTRAST_LOG_FORMAT: 'json' },
  concurrency: 2,
  timeout: '3m',
};
