/**
 * The meshproxy's error catalogue. Each kind has a stable `code`; messages name the input.
 */
import { ContrastError } from '../lib/errors.js';

/** An annotation value (ingress, egress, admin port) that does not follow the grammar. */
export class AnnotationError extends ContrastError {
  readonly code = 'ERR_MESH_ANNOTATION';
  /** One line per problem, egress first (upstream parses egress before ingress). */
  readonly problems: readonly string[];

  constructor(problems: readonly string[]) {
    super(problems.join('\n'));
    this.problems = problems;
  }
}

/** Certificate files missing or unusable. */
export class CertificateError extends ContrastError {
  readonly code = 'ERR_MESH_CERTIFICATES';
}

/** A listener could not be opened. */
export class ListenError extends ContrastError {
  readonly code = 'ERR_MESH_LISTEN';
}
