/** openssl `req` arguments for a fresh P-256 key, not encrypted (its file follows as `-keyout <file>`). */
export const NEW_P256_KEY: readonly string[] = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];
