/*
 * tls: a TLS client session on memory BIOs, driven from JavaScript, with an asynchronous
 * client-certificate hook.
 *
 * It uses the OpenSSL that the Node binary exports (headers from Node's include directory); no other
 * libssl is linked. JavaScript moves ciphertext between a socket and the session (tlsFeed /
 * tlsTakeOutput) and plaintext through tlsRead / tlsWrite. When the server sends a CertificateRequest,
 * the certificate callback returns -1 (retry): tlsHandshake reports "want_cert", JavaScript reads the
 * acceptable CA names (tlsCANames), builds a certificate and key, hands them in (tlsSetCertificate) and
 * calls tlsHandshake again, which resumes where it paused.
 *
 * Errors are thrown as JS Errors with a stable `code`:
 *   ERR_TLS_ALERT_RECEIVED (with numeric `alert`), ERR_TLS_UNEXPECTED_EOF, ERR_TLS_PROTOCOL,
 *   ERR_TLS_CERTIFICATE (bad certificate or key handed in), ERR_TLS_STATE (call out of order),
 *   ERR_TLS_INVALID_ARG.
 * Every entry point clears OpenSSL's thread error queue before and after, so Node's own crypto never
 * sees our errors.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/ssl.h>
#include <openssl/err.h>
#include <openssl/x509.h>
#include "addon.h"
#include "napi-util.h"

enum cert_state { CERT_NONE = 0, CERT_PENDING = 1, CERT_PROVIDED = 2, CERT_DECLINED = 3 };

typedef struct {
  SSL_CTX *ctx;
  SSL *ssl;
  BIO *rbio; /* network -> session */
  BIO *wbio; /* session -> network */
  int cert_state;
  int requested; /* the server asked for a certificate at some point */
} tls_client;

#define READ_CHUNK 16384
#define MAX_READ (64 * 1024)

/* ---- errors ---- */

/* OpenSSL 3.0 names the TLS 1.3 alerts "unknown"; name them here. */
static const char *alert_name(int alert) {
  switch (alert) {
    case 109: return "missing extension";
    case 115: return "unknown PSK identity";
    case 116: return "certificate required";
    case 120: return "no application protocol";
    default: return SSL_alert_desc_string_long(alert);
  }
}

/* Turns OpenSSL's error queue (and SSL_get_error's verdict) into one JS error. */
static napi_value throw_ssl(napi_env env, const char *what, int ssl_err) {
  char detail[512] = "";
  char line[256];
  unsigned long first = 0, e;
  int alert = -1;
  size_t used = 0;
  while ((e = ERR_get_error()) != 0) {
    if (first == 0) first = e;
    if (ERR_GET_LIB(e) == ERR_LIB_SSL && ERR_GET_REASON(e) >= SSL_AD_REASON_OFFSET && alert < 0) {
      alert = ERR_GET_REASON(e) - SSL_AD_REASON_OFFSET;
    }
    ERR_error_string_n(e, line, sizeof line);
    int n = snprintf(detail + used, sizeof detail - used, "%s%s", used ? "; " : "", line);
    if (n > 0 && (size_t)n < sizeof detail - used) used += (size_t)n;
  }
  char msg[768];
  napi_value c, m, err;
  const char *code;
  if (alert >= 0) {
    code = "ERR_TLS_ALERT_RECEIVED";
    snprintf(msg, sizeof msg, "%s: peer sent TLS alert %s (%d)", what, alert_name(alert), alert);
  } else if (first != 0 && ERR_GET_LIB(first) == ERR_LIB_SSL && ERR_GET_REASON(first) == SSL_R_UNEXPECTED_EOF_WHILE_READING) {
    code = "ERR_TLS_UNEXPECTED_EOF";
    snprintf(msg, sizeof msg, "%s: connection closed without TLS close_notify", what);
  } else if (first == 0 && ssl_err == SSL_ERROR_SYSCALL) {
    code = "ERR_TLS_UNEXPECTED_EOF";
    snprintf(msg, sizeof msg, "%s: connection closed without TLS close_notify", what);
  } else {
    code = "ERR_TLS_PROTOCOL";
    snprintf(msg, sizeof msg, "%s: %s", what, used ? detail : "TLS error without detail");
  }
  napi_create_string_utf8(env, code, NAPI_AUTO_LENGTH, &c);
  napi_create_string_utf8(env, msg, NAPI_AUTO_LENGTH, &m);
  napi_create_error(env, c, m, &err);
  if (alert >= 0) {
    napi_value a;
    napi_create_int32(env, alert, &a);
    napi_set_named_property(env, err, "alert", a);
  }
  ERR_clear_error();
  napi_throw(env, err);
  return NULL;
}

/* ---- handle ---- */

static void client_free(tls_client *c) {
  if (c->ssl != NULL) SSL_free(c->ssl); /* frees both BIOs */
  if (c->ctx != NULL) SSL_CTX_free(c->ctx);
  c->ssl = NULL;
  c->ctx = NULL;
}

static void finalize(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  tls_client *c = data;
  client_free(c);
  free(c);
}

static tls_client *get_client(napi_env env, napi_callback_info info, size_t want, napi_value *argv) {
  size_t argc = want;
  napi_value args[4];
  if (napi_get_cb_info(env, info, &argc, args, NULL, NULL) != napi_ok || argc < want || want < 1) {
    contrast_throw_code(env, "ERR_TLS_INVALID_ARG", "missing arguments");
    return NULL;
  }
  void *data = NULL;
  if (napi_get_value_external(env, args[0], &data) != napi_ok || data == NULL) {
    contrast_throw_code(env, "ERR_TLS_INVALID_ARG", "expected a TLS session handle");
    return NULL;
  }
  tls_client *c = data;
  if (c->ssl == NULL) {
    contrast_throw_code(env, "ERR_TLS_STATE", "TLS session already freed");
    return NULL;
  }
  for (size_t i = 0; i < want; i++) argv[i] = args[i];
  ERR_clear_error();
  return c;
}

static int get_buffer(napi_env env, napi_value v, const char *name, void **data, size_t *len) {
  bool is;
  if (napi_is_buffer(env, v, &is) != napi_ok || !is || napi_get_buffer_info(env, v, data, len) != napi_ok) {
    char msg[128];
    snprintf(msg, sizeof msg, "%s: expected a Buffer", name);
    contrast_throw_code(env, "ERR_TLS_INVALID_ARG", msg);
    return 0;
  }
  return 1;
}

static napi_value string_or_null(napi_env env, const char *s, size_t len) {
  napi_value v;
  if (s == NULL) napi_get_null(env, &v);
  else napi_create_string_utf8(env, s, len, &v);
  return v;
}

/* Certificate callback: pause the handshake until JavaScript hands in a certificate (or declines). */
static int cert_cb(SSL *ssl, void *arg) {
  tls_client *c = arg;
  if (SSL_is_server(ssl)) return 1;
  switch (c->cert_state) {
    case CERT_PROVIDED:
    case CERT_DECLINED:
      return 1;
    default:
      c->cert_state = CERT_PENDING;
      c->requested = 1;
      return -1;
  }
}

/* tlsClientCreate({ serverName?: string, alpn?: Buffer (wire format), minVersion: number, maxVersion: number,
                    groups?: string (OpenSSL groups list) }) */
static napi_value tls_create(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value opts;
  if (napi_get_cb_info(env, info, &argc, &opts, NULL, NULL) != napi_ok || argc < 1) {
    return contrast_throw_code(env, "ERR_TLS_INVALID_ARG", "expected an options object");
  }
  napi_value v;
  napi_valuetype t;
  int32_t min_version = TLS1_2_VERSION, max_version = TLS1_3_VERSION;
  if (napi_get_named_property(env, opts, "minVersion", &v) == napi_ok && napi_typeof(env, v, &t) == napi_ok && t == napi_number) {
    napi_get_value_int32(env, v, &min_version);
  }
  if (napi_get_named_property(env, opts, "maxVersion", &v) == napi_ok && napi_typeof(env, v, &t) == napi_ok && t == napi_number) {
    napi_get_value_int32(env, v, &max_version);
  }
  if (min_version < TLS1_2_VERSION || max_version > TLS1_3_VERSION || min_version > max_version) {
    return contrast_throw_code(env, "ERR_TLS_INVALID_ARG", "minVersion/maxVersion: expected 0x0303 (TLS 1.2) .. 0x0304 (TLS 1.3), min <= max");
  }

  char server_name[256] = "";
  if (napi_get_named_property(env, opts, "serverName", &v) == napi_ok && napi_typeof(env, v, &t) == napi_ok && t == napi_string) {
    size_t len = 0;
    napi_get_value_string_utf8(env, v, NULL, 0, &len);
    if (len == 0 || len > 255) return contrast_throw_code(env, "ERR_TLS_INVALID_ARG", "serverName: expected 1..255 bytes");
    napi_get_value_string_utf8(env, v, server_name, sizeof server_name, &len);
  }
  void *alpn = NULL;
  size_t alpn_len = 0;
  if (napi_get_named_property(env, opts, "alpn", &v) == napi_ok && napi_typeof(env, v, &t) == napi_ok && t == napi_object) {
    if (!get_buffer(env, v, "alpn", &alpn, &alpn_len)) return NULL;
  }

  char groups[512] = "";
  if (napi_get_named_property(env, opts, "groups", &v) == napi_ok && napi_typeof(env, v, &t) == napi_ok && t == napi_string) {
    size_t len = 0;
    napi_get_value_string_utf8(env, v, NULL, 0, &len);
    if (len == 0 || len >= sizeof groups) return contrast_throw_code(env, "ERR_TLS_INVALID_ARG", "groups: expected 1..511 bytes");
    napi_get_value_string_utf8(env, v, groups, sizeof groups, &len);
  }

  ERR_clear_error();
  tls_client *c = calloc(1, sizeof *c);
  if (c == NULL) return contrast_throw_code(env, "ERR_TLS_PROTOCOL", "out of memory");
  c->ctx = SSL_CTX_new(TLS_client_method());
  if (c->ctx == NULL) goto fail;
  if (!SSL_CTX_set_min_proto_version(c->ctx, min_version) || !SSL_CTX_set_max_proto_version(c->ctx, max_version)) goto fail;
  /* The aTLS client does not verify the server's attestation (upstream neither); callers may inspect
     the peer certificate after the handshake. */
  SSL_CTX_set_verify(c->ctx, SSL_VERIFY_NONE, NULL);
  SSL_CTX_set_session_cache_mode(c->ctx, SSL_SESS_CACHE_OFF);
  SSL_CTX_set_options(c->ctx, SSL_OP_NO_RENEGOTIATION);
  if (groups[0] != '\0' && !SSL_CTX_set1_groups_list(c->ctx, groups)) {
    client_free(c);
    free(c);
    ERR_clear_error();
    return contrast_throw_code(env, "ERR_TLS_INVALID_ARG", "groups: expected TLS groups known to OpenSSL, separated by ':'");
  }
  c->ssl = SSL_new(c->ctx);
  if (c->ssl == NULL) goto fail;
  c->rbio = BIO_new(BIO_s_mem());
  c->wbio = BIO_new(BIO_s_mem());
  if (c->rbio == NULL || c->wbio == NULL) {
    BIO_free(c->rbio);
    BIO_free(c->wbio);
    goto fail;
  }
  BIO_set_mem_eof_return(c->rbio, -1); /* empty means "no data yet", not EOF */
  SSL_set_bio(c->ssl, c->rbio, c->wbio);
  SSL_set_connect_state(c->ssl);
  SSL_set_cert_cb(c->ssl, cert_cb, c);
  if (server_name[0] != '\0' && !SSL_set_tlsext_host_name(c->ssl, server_name)) goto fail;
  if (alpn_len > 0 && SSL_set_alpn_protos(c->ssl, alpn, (unsigned int)alpn_len) != 0) goto fail;

  napi_value handle;
  if (napi_create_external(env, c, finalize, NULL, &handle) != napi_ok) {
    client_free(c);
    free(c);
    return NULL;
  }
  return handle;

fail:
  client_free(c);
  free(c);
  return throw_ssl(env, "creating TLS client", SSL_ERROR_SSL);
}

/* tlsFeed(h, ciphertext: Buffer) */
static napi_value tls_feed(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  tls_client *c = get_client(env, info, 2, argv);
  if (c == NULL) return NULL;
  void *data;
  size_t len;
  if (!get_buffer(env, argv[1], "ciphertext", &data, &len)) return NULL;
  if (len > 0 && BIO_write(c->rbio, data, (int)len) != (int)len) return throw_ssl(env, "buffering received bytes", SSL_ERROR_SSL);
  return NULL;
}

/* tlsFeedEof(h): the peer closed its sending side. */
static napi_value tls_feed_eof(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  tls_client *c = get_client(env, info, 1, argv);
  if (c == NULL) return NULL;
  BIO_set_mem_eof_return(c->rbio, 0);
  return NULL;
}

/* tlsTakeOutput(h) -> Buffer | null: ciphertext to send. */
static napi_value tls_take_output(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  tls_client *c = get_client(env, info, 1, argv);
  if (c == NULL) return NULL;
  size_t pending = BIO_ctrl_pending(c->wbio);
  napi_value out;
  if (pending == 0) {
    napi_get_null(env, &out);
    return out;
  }
  void *data;
  if (napi_create_buffer(env, pending, &data, &out) != napi_ok) return NULL;
  int n = BIO_read(c->wbio, data, (int)pending);
  if (n != (int)pending) return contrast_throw_code(env, "ERR_TLS_PROTOCOL", "draining output buffer failed");
  return out;
}

/* tlsHandshake(h) -> "done" | "want_read" | "want_cert" */
static napi_value tls_handshake(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  tls_client *c = get_client(env, info, 1, argv);
  if (c == NULL) return NULL;
  if (c->cert_state == CERT_PENDING) return contrast_throw_code(env, "ERR_TLS_STATE", "handshake paused: a client certificate must be provided or declined first");
  int r = SSL_do_handshake(c->ssl);
  const char *status;
  if (r == 1) {
    status = "done";
  } else {
    int e = SSL_get_error(c->ssl, r);
    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) status = "want_read";
    else if (e == SSL_ERROR_WANT_X509_LOOKUP && c->cert_state == CERT_PENDING) status = "want_cert";
    else return throw_ssl(env, "TLS handshake", e);
  }
  ERR_clear_error();
  napi_value s;
  napi_create_string_utf8(env, status, NAPI_AUTO_LENGTH, &s);
  return s;
}

/* tlsCANames(h) -> Buffer[]: DER Names from the CertificateRequest (TLS 1.3 extension or TLS 1.2 list). */
static napi_value tls_ca_names(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  tls_client *c = get_client(env, info, 1, argv);
  if (c == NULL) return NULL;
  const STACK_OF(X509_NAME) *names = SSL_get0_peer_CA_list(c->ssl);
  if (names == NULL || sk_X509_NAME_num(names) == 0) names = SSL_get_client_CA_list(c->ssl);
  int n = names == NULL ? 0 : sk_X509_NAME_num(names);
  napi_value arr;
  napi_create_array_with_length(env, (size_t)n, &arr);
  for (int i = 0; i < n; i++) {
    unsigned char *der = NULL;
    int len = i2d_X509_NAME(sk_X509_NAME_value(names, i), &der);
    if (len < 0) return throw_ssl(env, "encoding CA name", SSL_ERROR_SSL);
    napi_value buf;
    void *dst;
    napi_status st = napi_create_buffer_copy(env, (size_t)len, der, &dst, &buf);
    OPENSSL_free(der);
    if (st != napi_ok) return NULL;
    napi_set_element(env, arr, (uint32_t)i, buf);
  }
  return arr;
}

/* tlsSetCertificate(h, certDer: Buffer, keyDer: Buffer (PKCS#8)) */
static napi_value tls_set_certificate(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  tls_client *c = get_client(env, info, 3, argv);
  if (c == NULL) return NULL;
  void *cert_data, *key_data;
  size_t cert_len, key_len;
  if (!get_buffer(env, argv[1], "certificate", &cert_data, &cert_len)) return NULL;
  if (!get_buffer(env, argv[2], "key", &key_data, &key_len)) return NULL;
  if (c->cert_state != CERT_PENDING) return contrast_throw_code(env, "ERR_TLS_STATE", "no certificate was requested");
  const unsigned char *p = cert_data;
  X509 *x = d2i_X509(NULL, &p, (long)cert_len);
  if (x == NULL) {
    ERR_clear_error();
    return contrast_throw_code(env, "ERR_TLS_CERTIFICATE", "certificate: expected DER X.509");
  }
  p = key_data;
  EVP_PKEY *k = d2i_AutoPrivateKey(NULL, &p, (long)key_len);
  if (k == NULL) {
    X509_free(x);
    ERR_clear_error();
    return contrast_throw_code(env, "ERR_TLS_CERTIFICATE", "key: expected DER PKCS#8 private key");
  }
  int ok = SSL_use_certificate(c->ssl, x) == 1 && SSL_use_PrivateKey(c->ssl, k) == 1 && SSL_check_private_key(c->ssl) == 1;
  X509_free(x);
  EVP_PKEY_free(k);
  if (!ok) {
    ERR_clear_error();
    return contrast_throw_code(env, "ERR_TLS_CERTIFICATE", "certificate and key do not match or are unusable");
  }
  c->cert_state = CERT_PROVIDED;
  return NULL;
}

/* tlsDeclineCertificate(h): continue without a client certificate (empty Certificate message). */
static napi_value tls_decline_certificate(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  tls_client *c = get_client(env, info, 1, argv);
  if (c == NULL) return NULL;
  if (c->cert_state != CERT_PENDING) return contrast_throw_code(env, "ERR_TLS_STATE", "no certificate was requested");
  c->cert_state = CERT_DECLINED;
  return NULL;
}

/* tlsRead(h) -> Buffer (possibly empty: need more input) | null (peer sent close_notify). Throws on error. */
static napi_value tls_read(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  tls_client *c = get_client(env, info, 1, argv);
  if (c == NULL) return NULL;
  unsigned char *buf = malloc(MAX_READ);
  if (buf == NULL) return contrast_throw_code(env, "ERR_TLS_PROTOCOL", "out of memory");
  size_t used = 0;
  int e = SSL_ERROR_NONE;
  while (used < MAX_READ) {
    size_t want = MAX_READ - used < READ_CHUNK ? MAX_READ - used : READ_CHUNK;
    int r = SSL_read(c->ssl, buf + used, (int)want);
    if (r > 0) {
      used += (size_t)r;
      continue;
    }
    e = SSL_get_error(c->ssl, r);
    break;
  }
  napi_value out;
  if (used > 0 || e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE || e == SSL_ERROR_NONE) {
    /* Data first; a terminal condition after it shows up again on the next call. */
    void *dst;
    napi_status st = napi_create_buffer_copy(env, used, buf, &dst, &out);
    free(buf);
    ERR_clear_error();
    return st == napi_ok ? out : NULL;
  }
  free(buf);
  if (e == SSL_ERROR_ZERO_RETURN) {
    ERR_clear_error();
    napi_get_null(env, &out);
    return out;
  }
  return throw_ssl(env, "TLS read", e);
}

/* tlsWrite(h, plaintext: Buffer) -> number of bytes consumed (all of them with memory BIOs). */
static napi_value tls_write(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  tls_client *c = get_client(env, info, 2, argv);
  if (c == NULL) return NULL;
  void *data;
  size_t len;
  if (!get_buffer(env, argv[1], "plaintext", &data, &len)) return NULL;
  size_t done = 0;
  while (done < len) {
    size_t n = 0;
    int r = SSL_write_ex(c->ssl, (unsigned char *)data + done, len - done, &n);
    if (r != 1) return throw_ssl(env, "TLS write", SSL_get_error(c->ssl, r));
    done += n;
  }
  napi_value out;
  napi_create_double(env, (double)done, &out);
  return out;
}

/* tlsShutdown(h): queue a close_notify alert (take it with tlsTakeOutput). */
static napi_value tls_shutdown(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  tls_client *c = get_client(env, info, 1, argv);
  if (c == NULL) return NULL;
  SSL_shutdown(c->ssl);
  ERR_clear_error();
  return NULL;
}

/* tlsInfo(h) -> { version, cipher, group, alpn, certificateRequested, peerCertificate } */
static napi_value tls_info(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  tls_client *c = get_client(env, info, 1, argv);
  if (c == NULL) return NULL;
  napi_value obj, v;
  napi_create_object(env, &obj);
  const char *version = SSL_get_version(c->ssl);
  napi_set_named_property(env, obj, "version", string_or_null(env, version, NAPI_AUTO_LENGTH));
  const SSL_CIPHER *cipher = SSL_get_current_cipher(c->ssl);
  napi_set_named_property(env, obj, "cipher", string_or_null(env, cipher ? SSL_CIPHER_get_name(cipher) : NULL, NAPI_AUTO_LENGTH));
  /* The key-exchange group (OpenSSL's name, e.g. X25519MLKEM768, x25519), null before the handshake. */
  int group = SSL_get_negotiated_group(c->ssl);
  napi_set_named_property(env, obj, "group", string_or_null(env, group > 0 ? SSL_group_to_name(c->ssl, group) : NULL, NAPI_AUTO_LENGTH));
  const unsigned char *alpn = NULL;
  unsigned int alpn_len = 0;
  SSL_get0_alpn_selected(c->ssl, &alpn, &alpn_len);
  napi_set_named_property(env, obj, "alpn", string_or_null(env, alpn_len ? (const char *)alpn : NULL, alpn_len));
  napi_get_boolean(env, c->requested != 0, &v);
  napi_set_named_property(env, obj, "certificateRequested", v);
  X509 *peer = SSL_get1_peer_certificate(c->ssl);
  if (peer != NULL) {
    unsigned char *der = NULL;
    int len = i2d_X509(peer, &der);
    X509_free(peer);
    if (len > 0) {
      void *dst;
      napi_create_buffer_copy(env, (size_t)len, der, &dst, &v);
      OPENSSL_free(der);
    } else {
      napi_get_null(env, &v);
    }
  } else {
    napi_get_null(env, &v);
  }
  napi_set_named_property(env, obj, "peerCertificate", v);
  ERR_clear_error();
  return obj;
}

/* tlsFree(h): release the session now instead of at garbage collection. */
static napi_value tls_free(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value arg;
  void *data = NULL;
  if (napi_get_cb_info(env, info, &argc, &arg, NULL, NULL) != napi_ok || argc < 1 ||
      napi_get_value_external(env, arg, &data) != napi_ok || data == NULL) {
    return contrast_throw_code(env, "ERR_TLS_INVALID_ARG", "expected a TLS session handle");
  }
  client_free(data);
  return NULL;
}

napi_value contrast_init_tls(napi_env env, napi_value exports) {
  if (!contrast_export(env, exports, "tlsClientCreate", tls_create)) return NULL;
  if (!contrast_export(env, exports, "tlsFeed", tls_feed)) return NULL;
  if (!contrast_export(env, exports, "tlsFeedEof", tls_feed_eof)) return NULL;
  if (!contrast_export(env, exports, "tlsTakeOutput", tls_take_output)) return NULL;
  if (!contrast_export(env, exports, "tlsHandshake", tls_handshake)) return NULL;
  if (!contrast_export(env, exports, "tlsCANames", tls_ca_names)) return NULL;
  if (!contrast_export(env, exports, "tlsSetCertificate", tls_set_certificate)) return NULL;
  if (!contrast_export(env, exports, "tlsDeclineCertificate", tls_decline_certificate)) return NULL;
  if (!contrast_export(env, exports, "tlsRead", tls_read)) return NULL;
  if (!contrast_export(env, exports, "tlsWrite", tls_write)) return NULL;
  if (!contrast_export(env, exports, "tlsShutdown", tls_shutdown)) return NULL;
  if (!contrast_export(env, exports, "tlsInfo", tls_info)) return NULL;
  if (!contrast_export(env, exports, "tlsFree", tls_free)) return NULL;
  return exports;
}
