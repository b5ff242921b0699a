/**
 * A thin runner for one iptables binary (`iptables-legacy`, `ip6tables-legacy`, `iptables`, ...):
 * run a command and get its exit status, or feed `<binary>-restore --noflush` a ruleset atomically.
 * Programs choose the binary at their edge; modules receive an Iptables.
 */
import { execFile, spawn } from 'node:child_process';
import { ContrastError } from '../errors.js';

export class IptablesError extends ContrastError {
  readonly code = 'ERR_IPTABLES';
}

export interface IptablesResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

export interface Iptables {
  /** The binary, e.g. `iptables-legacy`; named in errors and logs. */
  readonly binary: string;
  /** Runs the binary with `args`; resolves with the exit status (non-zero is not an error here). */
  run(args: readonly string[]): Promise<IptablesResult>;
  /** Runs the binary and rejects with IptablesError on a non-zero exit. */
  must(args: readonly string[]): Promise<string>;
  /**
   * `<binary>-restore --noflush` with `rules` on stdin: the listed chains are replaced in one commit.
   * `test`: only parse and check (`--test`), change nothing. `flush`: replace the listed tables whole
   * (without `--noflush`; for putting back what `save()` returned).
   */
  restore(rules: string, options?: { readonly test?: boolean; readonly flush?: boolean }): Promise<void>;
  /** `<binary>-save -t <table>`: the table as `restore()` takes it. */
  save(table: string): Promise<string>;
}

export function createIptables(binary: string, env: NodeJS.ProcessEnv = process.env): Iptables {
  const run = (args: readonly string[]): Promise<IptablesResult> =>
    new Promise((resolve, reject) => {
      execFile(binary, ['-w', ...args], { env, timeout: 30_000 }, (err, stdout, stderr) => {
        if (err !== null && typeof err.code !== 'number') {
          reject(new IptablesError(`running ${binary}: ${err.message}`, { cause: err }));
          return;
        }
        resolve({ code: err === null ? 0 : Number(err.code), stdout, stderr });
      });
    });
  return {
    binary,
    run,
    async must(args) {
      const r = await run(args);
      if (r.code !== 0) throw new IptablesError(`${binary} ${args.join(' ')}: exit ${r.code}: ${r.stderr.trim()}`);
      return r.stdout;
    },
    save(table) {
      const saveBinary = `${binary}-save`;
      return new Promise((resolve, reject) => {
        execFile(saveBinary, ['-t', table], { env, timeout: 30_000, maxBuffer: 64 << 20 }, (err, stdout, stderr) => {
          if (err === null) resolve(stdout);
          else
            reject(
              new IptablesError(
                `${saveBinary} -t ${table}: ${typeof err.code === 'number' ? `exit ${err.code}: ${stderr.trim()}` : err.message}`,
                { cause: err },
              ),
            );
        });
      });
    },
    restore(rules, options = {}) {
      const restoreBinary = `${binary}-restore`;
      const args = [
        '-w',
        ...(options.flush === true ? [] : ['--noflush']),
        ...(options.test === true ? ['--test'] : []),
      ];
      return new Promise((resolve, reject) => {
        const child = spawn(restoreBinary, args, { env, stdio: ['pipe', 'ignore', 'pipe'] });
        let stderr = '';
        child.stderr.on('data', (d: Buffer) => {
          stderr += d.toString();
        });
        child.on('error', (err) => {
          reject(new IptablesError(`running ${restoreBinary}: ${err.message}`, { cause: err }));
        });
        child.on('close', (code) => {
          if (code === 0) resolve();
          else reject(new IptablesError(`${restoreBinary} ${args.slice(1).join(' ')}: exit ${code}: ${stderr.trim()}`));
        });
        child.stdin.on('error', () => {
          /* the exit status reports it */
        });
        child.stdin.end(rules);
      });
    },
  };
}
