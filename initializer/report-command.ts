/**
 * `contrast-initializer report` and `report inspect <file>`.
 *
 * report:          issue a document over all-zero report data and print it base64 (upstream behaviour).
 * report inspect:  read a raw SNP report, a raw TDX quote or a document (binary or base64) and print
 *                  one JSON object; --vcek / --ask-ark add an SNP signature verdict, TDX quotes are
 *                  verified with their embedded PCK chain against the Intel SGX Root CA.
 * Failures are thrown as typed errors; the program's runMain turns them into one ERROR line and exit 1
 * (64 for configuration problems).
 */
import type { Command } from 'commander';
import { readFile } from 'node:fs/promises';
import { EnvReader, type Env } from '../lib/config.js';
import type { Logger } from '../lib/log.js';
import { AttestationError, ATTESTATION_ERROR_CODES } from '../lib/attestation/errors.js';
import { errorCode, errorMessage } from '../lib/errors.js';
import { readAttestationConfig } from '../lib/attestation/config.js';
import { createIssuer, type IssuerDeps } from '../lib/attestation/platform.js';
import { inspect } from '../lib/attestation/inspect.js';
import { REPORT_DATA_SIZE } from '../lib/attestation/reportdata.js';

export interface ReportCommandDeps {
  /** Where results go (default: process.stdout). */
  readonly stdout?: (text: string) => void;
  readonly env?: Env;
  readonly logger: () => Logger;
  readonly issuerDeps?: IssuerDeps;
  readonly now?: () => Date;
}

async function readInput(path: string, what: string): Promise<Buffer> {
  try {
    return await readFile(path);
  } catch (err) {
    throw new AttestationError(
      ATTESTATION_ERROR_CODES.INVALID_ARGUMENT,
      `${what} ${path}: cannot read (${errorCode(err) ?? errorMessage(err)})`,
      { cause: err },
    );
  }
}

export function registerReportCommand(program: Command, deps: ReportCommandDeps): Command {
  const out =
    deps.stdout ??
    ((s: string) => {
      process.stdout.write(s);
    });
  const report = program
    .command('report')
    .description('issue an attestation document over all-zero report data and print it base64')
    .action(async () => {
      const reader = new EnvReader(deps.env ?? process.env);
      const config = reader.finish(readAttestationConfig(reader));
      const issuer = await createIssuer(config, deps.logger(), deps.issuerDeps);
      const doc = await issuer.issue(Buffer.alloc(REPORT_DATA_SIZE));
      out(Buffer.from(doc).toString('base64') + '\n');
    });
  report
    .command('inspect <file>')
    .description('describe a raw SNP report, TDX quote or attestation document as JSON')
    .option('--vcek <file>', 'VCEK or VLEK certificate (DER or PEM) to verify an SNP report with')
    .option('--ask-ark <file>', 'ASK (or ASVK) and ARK certificates (PEM) to verify the VCEK chain with')
    .action(async (file: string, opts: { vcek?: string; askArk?: string }) => {
      const input = await readInput(file, 'report file');
      const vcek = opts.vcek === undefined ? undefined : await readInput(opts.vcek, '--vcek');
      const askArk = opts.askArk === undefined ? undefined : await readInput(opts.askArk, '--ask-ark');
      const result = inspect(input, file, {
        ...(vcek !== undefined ? { vcek } : {}),
        ...(askArk !== undefined ? { askArk } : {}),
        ...(deps.now !== undefined ? { now: deps.now() } : {}),
      });
      out(JSON.stringify(result) + '\n');
    });
  return report;
}
