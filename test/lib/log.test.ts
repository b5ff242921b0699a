import test from 'ava';
import { createLogger, formatText, parseLogConfig, subsystemLogger, type LogConfig } from '../../lib/log.js';

function capture(config: LogConfig) {
  const lines: string[] = [];
  const log = createLogger(config, { destination: { write: (l: string) => void lines.push(l) } });
  return { log, lines };
}

const table: {
  name: string;
  env: Record<string, string>;
  level?: string;
  format?: string;
  problem?: RegExp;
  warning?: RegExp;
}[] = [
  { name: 'defaults (text, as upstream)', env: {}, level: 'info', format: 'text' },
  { name: 'empty format is text', env: { CONTRAST_LOG_FORMAT: '' }, format: 'text' },
  { name: 'json on request, case-insensitive', env: { CONTRAST_LOG_FORMAT: 'JSON' }, format: 'json' },
  { name: 'empty level is info', env: { CONTRAST_LOG_LEVEL: '' }, level: 'info' },
  { name: 'case-insensitive', env: { CONTRAST_LOG_LEVEL: 'DeBuG' }, level: 'debug' },
  { name: 'text format', env: { CONTRAST_LOG_FORMAT: 'text' }, format: 'text' },
  {
    name: 'bad level',
    env: { CONTRAST_LOG_LEVEL: 'verbose' },
    problem: /^CONTRAST_LOG_LEVEL=verbose: invalid log level/,
  },
  {
    name: 'unknown format falls back to text with a warning',
    env: { CONTRAST_LOG_FORMAT: 'xml' },
    format: 'text',
    warning: /^CONTRAST_LOG_FORMAT=xml is not json or text: logging as text$/,
  },
];

for (const row of table) {
  test(`parseLogConfig: ${row.name}`, (t) => {
    const { config, problems } = parseLogConfig(row.env);
    if (row.problem) {
      t.is(problems.length, 1);
      t.regex(problems[0]!, row.problem);
      return;
    }
    t.deepEqual(problems, []);
    if (row.warning) {
      t.is(config.warnings?.length, 1);
      t.regex(config.warnings![0]!, row.warning);
    } else {
      t.is(config.warnings, undefined);
    }
    if (row.level) t.is(config.level, row.level as typeof config.level);
    if (row.format) t.is(config.format, row.format as typeof config.format);
  });
}

test('json lines carry upper-case level, msg and redact secrets', (t) => {
  const { log, lines } = capture({ level: 'info', format: 'json', subsystems: new Set() });
  log.debug('hidden');
  log.info({ workloadSecret: 'abc', port: 7777 }, 'hello');
  t.is(lines.length, 1);
  const rec = JSON.parse(lines[0]!) as Record<string, unknown>;
  t.is(rec['level'], 'INFO');
  t.is(rec['msg'], 'hello');
  t.is(rec['port'], 7777);
  t.is(rec['workloadSecret'], '[redacted]');
  t.regex(String(rec['time']), /^\d{4}-\d\d-\d\dT/);
});

test('unlisted subsystems log WARN and above only; listed ones follow the level', (t) => {
  const { log, lines } = capture({ level: 'debug', format: 'json', subsystems: new Set(['issuer']) });
  const issuer = subsystemLogger(log, 'issuer');
  const validator = subsystemLogger(log, 'validator');
  issuer.debug('issuer debug');
  validator.info('validator info');
  validator.warn('validator warn');
  const msgs = lines.map((l) => JSON.parse(l) as { msg: string; subsystem: string });
  t.deepEqual(
    msgs.map((m) => m.msg),
    ['issuer debug', 'validator warn'],
  );
  t.deepEqual(
    msgs.map((m) => m.subsystem),
    ['issuer', 'validator'],
  );
});

test('subsystems "*" enables all; a subsystem never logs below the root level', (t) => {
  const all = capture({ level: 'info', format: 'json', subsystems: '*' });
  subsystemLogger(all.log, 'x').info('shown');
  subsystemLogger(all.log, 'x').debug('not shown');
  t.is(all.lines.length, 1);
  const errOnly = capture({ level: 'error', format: 'json', subsystems: new Set(['x']) });
  subsystemLogger(errOnly.log, 'x').warn('not shown');
  t.is(errOnly.lines.length, 0);
});

test('text format renders slog-like key=value lines', (t) => {
  const { log, lines } = capture({ level: 'info', format: 'text', subsystems: '*' });
  subsystemLogger(log, 'issuer').warn({ err: { code: 'E1' }, tee: 'snp' }, 'could not get CRL');
  t.is(lines.length, 1);
  t.regex(lines[0]!, /^time=\S+ level=WARN msg="could not get CRL" subsystem=issuer err\.code=E1 tee=snp\n$/);
  t.is(formatText({ time: 't', level: 'INFO', msg: 'a b', v: 'x=y' }), 'time=t level=INFO msg="a b" v="x=y"');
});

test('parseLogConfig: unknown subsystems are a problem listing the known ones', (t) => {
  const known = ['certs', 'ingress'];
  t.deepEqual(parseLogConfig({ CONTRAST_LOG_SUBSYSTEMS: 'ingress, bogus,nope' }, known).problems, [
    'CONTRAST_LOG_SUBSYSTEMS=ingress, bogus,nope: unknown subsystems bogus, nope, expected * or a comma list of certs, ingress',
  ]);
  t.deepEqual(parseLogConfig({ CONTRAST_LOG_SUBSYSTEMS: 'certs,ingress' }, known).problems, []);
  t.deepEqual(parseLogConfig({ CONTRAST_LOG_SUBSYSTEMS: '*' }, known).problems, []);
  // Without a list (programs that do not declare theirs) any name is accepted, as before.
  t.deepEqual(parseLogConfig({ CONTRAST_LOG_SUBSYSTEMS: 'bogus' }).problems, []);
});

test('an unknown CONTRAST_LOG_FORMAT: one WARN naming the value, then text lines', (t) => {
  const { config } = parseLogConfig({ CONTRAST_LOG_FORMAT: 'logfmt' });
  const { log, lines } = capture(config);
  log.info({ port: 1 }, 'hello');
  t.is(lines.length, 2);
  t.regex(lines[0]!, /^time=\S+ level=WARN msg="CONTRAST_LOG_FORMAT=logfmt is not json or text: logging as text"\n$/);
  t.regex(lines[1]!, /^time=\S+ level=INFO msg=hello port=1\n$/);
});
