/**
 * Small plain-JavaScript programs that tests run inside network namespaces with `node -e` (no tsx, so
 * they start fast). Each takes its parameters from argv.
 */

/** Connects to argv[1]:argv[2] (after -e), writes argv[3] if given, prints what the server sends; exit 0 on end, 3 on error. */
export const TCP_READ = `
import { connect } from 'node:net';
const [host, port, send] = process.argv.slice(1);
const s = connect({ host, port: Number(port) });
s.setTimeout(10000, () => { process.stderr.write('timeout\\n'); process.exit(4); });
if (send) s.end(send);
s.on('data', (d) => process.stdout.write(d));
s.on('end', () => process.exit(0));
s.on('error', (e) => { process.stderr.write((e.code ?? e.message) + '\\n'); process.exit(3); });
`;

/** Arguments for running a script with node: node --input-type=module -e <script> -- args... */
export function nodeScript(script: string, args: readonly string[]): string[] {
  return ['--input-type=module', '-e', script, '--', ...args];
}
