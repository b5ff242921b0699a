/*
 * relay: the meshproxy's native data path. One mesh connection is a TLS session on one socket (server
 * side for ingress, client side for egress) and its plaintext partner on another; both are pumped on
 * Node's own event loop (libuv poll handles) with the OpenSSL the Node binary exports, so established
 * connections cost no JavaScript, no Buffers and no garbage collection.
 *
 * JavaScript keeps the policy: it accepts and connects the sockets, hands their descriptors in
 * (relayStart duplicates them, so Node's sockets can be destroyed at once), decides from the handshake
 * event whether the peer may pass, attaches the plaintext socket (relayAttach) or destroys the
 * connection (relayDestroy), and learns the end from the close event.
 *
 *   relayContext({server, cert, key, ca, groups, ciphers, ciphersuites, resume}) -> context
 *   relayStart(context, fd, onEvent) -> connection     (handshake starts at once)
 *   relayAttach(connection, plainFd, idleMs)           (after the 'handshake' event)
 *   relayDestroy(connection, reset)                    (idempotent; 'close' follows asynchronously)
 *
 * onEvent(kind, info): 'handshake' {protocol, group, resumed, verifyError, verifyCode, peerCertificate},
 * 'error' {code, message} (the handshake failed; 'close' follows), and last 'close' {reason, code,
 * fromTls, toTls} with reason done | idle | error | destroyed and the plaintext byte counts of each
 * direction. Peer verification never aborts a handshake here: the result is reported and JavaScript
 * decides, as with Node's rejectUnauthorized: false.
 *
 * Half-close passes through: close_notify or FIN from the TLS peer becomes a FIN to the plaintext
 * side; a FIN from the plaintext side becomes close_notify and FIN. The connection ends when both
 * directions are done, on the first socket error, after idleMs without traffic, or on relayDestroy.
 * Outgoing TLS records are collected in one buffer per connection and leave in one write() per round.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <uv.h>
#include "addon.h"
#include "napi-util.h"

/* Plaintext read per round from either side; TLS output queued before the plaintext side is paused. */
#define PLAIN_CHUNK (64 * 1024)
#define TLS_OUT_HIGH (256 * 1024)
/* Bytes one direction moves per turn before the other connections get theirs. */
#define TURN_BUDGET (1024 * 1024)

/* Which directions progress() runs. */
#define RUN_IN 1  /* TLS -> plaintext */
#define RUN_OUT 2 /* plaintext -> TLS */

static const unsigned char SESSION_ID_CONTEXT[] = "contrast-meshproxy";

typedef struct relay_ctx {
  SSL_CTX *ctx;
  int server;
  int resume;
  int refs; /* the JS handle and each connection */
  SSL_SESSION *session; /* client: the newest ticket from the remote */
} relay_ctx;

enum conn_state { HANDSHAKING, HANDSHAKED, RELAYING, CLOSING, CLOSED };

typedef struct conn {
  napi_env env;
  relay_ctx *rc;
  SSL *ssl;
  int tls_fd, plain_fd;
  uv_timer_t idle;
  int state;
  int js_alive; /* the JS external still points here */
  int queued; /* on the again list */
  struct conn *again_next;
  /* TLS -> plaintext */
  char *in_buf;
  size_t in_len, in_off;
  int in_eof, in_shut;
  /* plaintext -> TLS: records SSL wrote, waiting for the socket */
  char *out_buf;
  size_t out_len, out_off, out_cap;
  int out_eof, out_notified, out_shut;
  int out_throttled; /* pump_out stopped at TLS_OUT_HIGH: the TLS socket's writability resumes it */
  int plain_hup; /* the plaintext peer's FIN may be queued behind the data: read on to EAGAIN */
  uint64_t from_tls, to_tls;
  uint64_t last_active;
  uint64_t idle_ms;
  const char *close_reason;
  char close_code[160];
  int reset;
  napi_ref on_event;
  napi_async_context async;
} conn;

static BIO_METHOD *out_method;

/* ---- small helpers ---- */

static void conn_close(conn *c, const char *reason, const char *code);
static void progress(conn *c, int run);

static const char *errno_code(int err) {
  switch (err) {
    case ECONNRESET: return "ECONNRESET";
    case EPIPE: return "EPIPE";
    case ETIMEDOUT: return "ETIMEDOUT";
    case ECONNREFUSED: return "ECONNREFUSED";
    case EHOSTUNREACH: return "EHOSTUNREACH";
    case ENETUNREACH: return "ENETUNREACH";
    case ENOMEM: return "ENOMEM";
    case ENOBUFS: return "ENOBUFS";
    default: return "EIO";
  }
}

/* Node's names for X509 verification results (its X509_ERROR_CODES), so both data paths log alike. */
static const char *verify_code(long v) {
  switch (v) {
#define V(name) case X509_V_ERR_##name: return #name;
    V(UNABLE_TO_GET_ISSUER_CERT) V(UNABLE_TO_GET_CRL) V(UNABLE_TO_DECRYPT_CERT_SIGNATURE)
    V(UNABLE_TO_DECRYPT_CRL_SIGNATURE) V(UNABLE_TO_DECODE_ISSUER_PUBLIC_KEY) V(CERT_SIGNATURE_FAILURE)
    V(CRL_SIGNATURE_FAILURE) V(CERT_NOT_YET_VALID) V(CERT_HAS_EXPIRED) V(CRL_NOT_YET_VALID)
    V(CRL_HAS_EXPIRED) V(ERROR_IN_CERT_NOT_BEFORE_FIELD) V(ERROR_IN_CERT_NOT_AFTER_FIELD)
    V(ERROR_IN_CRL_LAST_UPDATE_FIELD) V(ERROR_IN_CRL_NEXT_UPDATE_FIELD) V(OUT_OF_MEM)
    V(DEPTH_ZERO_SELF_SIGNED_CERT) V(SELF_SIGNED_CERT_IN_CHAIN) V(UNABLE_TO_GET_ISSUER_CERT_LOCALLY)
    V(UNABLE_TO_VERIFY_LEAF_SIGNATURE) V(CERT_CHAIN_TOO_LONG) V(CERT_REVOKED) V(INVALID_CA)
    V(PATH_LENGTH_EXCEEDED) V(INVALID_PURPOSE) V(CERT_UNTRUSTED) V(CERT_REJECTED) V(HOSTNAME_MISMATCH)
#undef V
    default: return "UNSPECIFIED";
  }
}

/* Node's code for an OpenSSL error: ERR_SSL_ and the reason string in capitals, '_' for spaces. */
static void ssl_error_code(unsigned long e, char *out, size_t size) {
  const char *reason = e == 0 ? NULL : ERR_reason_error_string(e);
  if (reason == NULL) {
    snprintf(out, size, "ERR_SSL_PROTOCOL");
    return;
  }
  size_t n = (size_t)snprintf(out, size, "ERR_SSL_");
  for (const char *p = reason; *p != '\0' && n + 1 < size; p++, n++) {
    char ch = *p;
    out[n] = ch == ' ' ? '_' : (ch >= 'a' && ch <= 'z') ? (char)(ch - 32) : ch;
  }
  out[n] = '\0';
}

static void ctx_unref(relay_ctx *rc) {
  if (--rc->refs > 0) return;
  if (rc->session != NULL) SSL_SESSION_free(rc->session);
  SSL_CTX_free(rc->ctx);
  free(rc);
}

/* ---- the output BIO: SSL appends records to the connection's buffer ---- */

static int out_write(BIO *b, const char *data, int len) {
  conn *c = BIO_get_data(b);
  if (len <= 0) return 0;
  if (c->out_off > 0 && c->out_off == c->out_len) c->out_off = c->out_len = 0;
  size_t need = c->out_len + (size_t)len;
  if (need > c->out_cap) {
    if (c->out_off > 0) {
      memmove(c->out_buf, c->out_buf + c->out_off, c->out_len - c->out_off);
      c->out_len -= c->out_off;
      c->out_off = 0;
      need = c->out_len + (size_t)len;
    }
    if (need > c->out_cap) {
      size_t cap = c->out_cap == 0 ? 32 * 1024 : c->out_cap;
      while (cap < need) cap *= 2;
      char *grown = realloc(c->out_buf, cap);
      if (grown == NULL) return -1;
      c->out_buf = grown;
      c->out_cap = cap;
    }
  }
  memcpy(c->out_buf + c->out_len, data, (size_t)len);
  c->out_len += (size_t)len;
  return len;
}

static long out_ctrl(BIO *b, int cmd, long num, void *ptr) {
  (void)b; (void)num; (void)ptr;
  return cmd == BIO_CTRL_FLUSH ? 1 : 0;
}

static int out_create(BIO *b) {
  BIO_set_init(b, 1);
  return 1;
}

/* ---- polling ----
 * One epoll set of our own for every relay socket, registered once, edge-triggered, for reading and
 * writing; libuv polls that set's descriptor (one uv_poll_t, readable, never changed). So a
 * connection costs no epoll_ctl after its start, and libuv's handling of per-descriptor poll
 * handles (a DEL and an ADD on every change of interest) stays out of the data path. Edge-triggered
 * means every pump runs until the kernel says EAGAIN, or the connection goes on the again list. */

static struct {
  uv_loop_t *loop; /* the one loop (Node's main thread) the relay runs on */
  int epfd;
  uv_poll_t poll;
  uv_idle_t idle;
  int active; /* open connections: they keep the loop alive, as sockets do */
  conn *again;
} relay_loop = {.epfd = -1};

static void on_epoll(uv_poll_t *h, int status, int events);
static void on_again(uv_idle_t *h);

static int loop_init(uv_loop_t *loop) {
  if (relay_loop.epfd >= 0) return relay_loop.loop == loop ? 0 : -EXDEV;
  int fd = epoll_create1(EPOLL_CLOEXEC);
  if (fd < 0) return -errno;
  if (uv_poll_init(loop, &relay_loop.poll, fd) != 0 || uv_idle_init(loop, &relay_loop.idle) != 0) {
    close(fd);
    return -EIO;
  }
  relay_loop.epfd = fd;
  relay_loop.loop = loop;
  uv_poll_start(&relay_loop.poll, UV_READABLE, on_epoll);
  uv_unref((uv_handle_t *)&relay_loop.poll);
  return 0;
}

static void loop_active(int delta) {
  int before = relay_loop.active;
  relay_loop.active += delta;
  if (before == 0 && relay_loop.active > 0) uv_ref((uv_handle_t *)&relay_loop.poll);
  else if (before > 0 && relay_loop.active == 0) uv_unref((uv_handle_t *)&relay_loop.poll);
}

static int watch(conn *c, int fd, int plain) {
  struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET,
                           .data = {.ptr = (void *)((uintptr_t)c | (plain ? 1 : 0))}};
  return epoll_ctl(relay_loop.epfd, EPOLL_CTL_ADD, fd, &ev) == 0 ? 0 : -errno;
}

static void unwatch(int fd) {
  struct epoll_event ev = {0};
  epoll_ctl(relay_loop.epfd, EPOLL_CTL_DEL, fd, &ev);
}

/* A connection that stopped with work left (fairness cap) runs again on the next loop turn. */
static void again(conn *c) {
  if (c->queued) return;
  c->queued = 1;
  c->again_next = relay_loop.again;
  relay_loop.again = c;
  uv_idle_start(&relay_loop.idle, on_again);
}

/* ---- events to JavaScript ---- */

static void set_str(napi_env env, napi_value obj, const char *key, const char *value) {
  napi_value v;
  if (value == NULL) napi_get_null(env, &v);
  else napi_create_string_utf8(env, value, NAPI_AUTO_LENGTH, &v);
  napi_set_named_property(env, obj, key, v);
}

static void set_num(napi_env env, napi_value obj, const char *key, double value) {
  napi_value v;
  napi_create_double(env, value, &v);
  napi_set_named_property(env, obj, key, v);
}

static void set_bool(napi_env env, napi_value obj, const char *key, int value) {
  napi_value v;
  napi_get_boolean(env, value != 0, &v);
  napi_set_named_property(env, obj, key, v);
}

/* Calls onEvent(kind, info) as a top-level callback (microtasks and nextTicks run after it). */
static void emit(conn *c, const char *kind, napi_value info) {
  napi_env env = c->env;
  napi_value fn, recv, argv[2];
  if (napi_get_reference_value(env, c->on_event, &fn) != napi_ok || fn == NULL) return;
  napi_get_global(env, &recv); /* MakeCallback wants an object as `this` */
  napi_create_string_utf8(env, kind, NAPI_AUTO_LENGTH, &argv[0]);
  argv[1] = info;
  napi_value result;
  if (napi_make_callback(env, c->async, recv, fn, 2, argv, &result) != napi_ok) {
    bool pending = false;
    napi_is_exception_pending(env, &pending);
    if (pending) {
      napi_value err;
      napi_get_and_clear_last_exception(env, &err);
      napi_fatal_exception(env, err);
    }
  }
}

static void emit_handshake(conn *c) {
  napi_env env = c->env;
  napi_handle_scope scope;
  napi_open_handle_scope(env, &scope);
  napi_value info;
  napi_create_object(env, &info);
  long verify = SSL_get_verify_result(c->ssl);
  set_str(env, info, "protocol", SSL_get_version(c->ssl));
  set_str(env, info, "group", SSL_get0_group_name(c->ssl));
  set_bool(env, info, "resumed", SSL_session_reused(c->ssl));
  set_num(env, info, "verifyError", (double)verify);
  set_str(env, info, "verifyCode", verify == X509_V_OK ? NULL : verify_code(verify));
  set_bool(env, info, "peerCertificate", SSL_get0_peer_certificate(c->ssl) != NULL);
  emit(c, "handshake", info);
  napi_close_handle_scope(env, scope);
}

static void emit_error(conn *c, const char *code, const char *message) {
  napi_env env = c->env;
  napi_handle_scope scope;
  napi_open_handle_scope(env, &scope);
  napi_value info;
  napi_create_object(env, &info);
  set_str(env, info, "code", code);
  set_str(env, info, "message", message);
  emit(c, "error", info);
  napi_close_handle_scope(env, scope);
}

/* ---- teardown ---- */

static void conn_free_if_done(conn *c) {
  if (c->state == CLOSED && !c->js_alive && !c->queued) free(c);
}

/* The idle timer is closed: the connection's last handle. Its sockets are already closed. */
static void on_handle_closed(uv_handle_t *h) {
  conn *c = h->data;
  SSL_free(c->ssl);
  free(c->in_buf);
  free(c->out_buf);
  c->state = CLOSED;
  napi_env env = c->env;
  napi_handle_scope scope;
  napi_open_handle_scope(env, &scope);
  napi_value info;
  napi_create_object(env, &info);
  set_str(env, info, "reason", c->close_reason);
  set_str(env, info, "code", c->close_code[0] != '\0' ? c->close_code : NULL);
  set_num(env, info, "fromTls", (double)c->from_tls);
  set_num(env, info, "toTls", (double)c->to_tls);
  emit(c, "close", info);
  napi_close_handle_scope(env, scope);
  napi_delete_reference(env, c->on_event);
  napi_async_destroy(env, c->async);
  ctx_unref(c->rc);
  conn_free_if_done(c);
}

static void conn_close(conn *c, const char *reason, const char *code) {
  if (c->state == CLOSING || c->state == CLOSED) return;
  c->state = CLOSING;
  c->close_reason = reason;
  snprintf(c->close_code, sizeof c->close_code, "%s", code == NULL ? "" : code);
  unwatch(c->tls_fd);
  if (c->reset) {
    struct linger lg = {1, 0};
    setsockopt(c->tls_fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
  }
  close(c->tls_fd);
  if (c->plain_fd >= 0) {
    unwatch(c->plain_fd);
    close(c->plain_fd);
  }
  loop_active(-1);
  uv_close((uv_handle_t *)&c->idle, on_handle_closed);
}

/* A failed handshake: reported, then the connection is closed with a reset. */
static void handshake_failed(conn *c, int ssl_err) {
  char code[160];
  char message[300];
  unsigned long e = ERR_peek_last_error();
  /* A FIN or reset mid-handshake: OpenSSL says SYSCALL, ZERO_RETURN, an unexpected EOF, or nothing. */
  if (ssl_err == SSL_ERROR_SYSCALL || ssl_err == SSL_ERROR_ZERO_RETURN || e == 0 ||
      (ERR_GET_LIB(e) == ERR_LIB_SSL && ERR_GET_REASON(e) == SSL_R_UNEXPECTED_EOF_WHILE_READING)) {
    snprintf(code, sizeof code, "ECONNRESET");
    snprintf(message, sizeof message, "the peer closed the connection during the TLS handshake");
  } else {
    ssl_error_code(e, code, sizeof code);
    char detail[256];
    ERR_error_string_n(e, detail, sizeof detail);
    snprintf(message, sizeof message, "TLS handshake failed: %s", detail);
  }
  ERR_clear_error();
  c->reset = 1;
  conn_close(c, "error", code);
  emit_error(c, code, message);
}

/* ---- the pump ---- */

/* Sends buf[*off, len) to fd. 1: all sent; 0: the socket is full (EAGAIN); -1: closed on an error. */
static int send_queued(conn *c, int fd, const char *buf, size_t *off, size_t len, size_t *moved) {
  while (*off < len) {
    ssize_t n = send(fd, buf + *off, len - *off, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK) return 0;
      if (errno == EINTR) continue;
      conn_close(c, "error", errno_code(errno));
      return -1;
    }
    *off += (size_t)n;
    if (moved != NULL) *moved += (size_t)n;
  }
  return 1;
}

/* Writes queued TLS records to the socket. Returns -1 after closing the connection on an error. */
static int flush_tls(conn *c) {
  int sent = send_queued(c, c->tls_fd, c->out_buf, &c->out_off, c->out_len, NULL);
  if (sent <= 0) return sent;
  c->out_off = c->out_len = 0;
  if (c->out_cap > TLS_OUT_HIGH) { /* a burst grew it: give it back */
    free(c->out_buf);
    c->out_buf = NULL;
    c->out_cap = 0;
  }
  /* Our close_notify is out: the FIN follows it. */
  if (c->out_notified && !c->out_shut) {
    shutdown(c->tls_fd, SHUT_WR);
    c->out_shut = 1;
  }
  return 0;
}

static void handshake_step(conn *c) {
  ERR_clear_error();
  int r = SSL_do_handshake(c->ssl);
  if (flush_tls(c) < 0) return;
  if (r == 1) {
    c->state = HANDSHAKED;
    emit_handshake(c);
    return;
  }
  int err = SSL_get_error(c->ssl, r);
  if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) return;
  handshake_failed(c, err);
}

/* TLS -> plaintext, until it must wait (0), its turn's budget is spent (1), or it closed (-1). */
static int pump_in(conn *c) {
  size_t moved = 0;
  for (;;) {
    int sent = send_queued(c, c->plain_fd, c->in_buf, &c->in_off, c->in_len, &moved);
    if (sent <= 0) return sent;
    c->in_off = c->in_len = 0;
    if (c->in_eof) {
      if (!c->in_shut) {
        shutdown(c->plain_fd, SHUT_WR);
        c->in_shut = 1;
      }
      return 0;
    }
    if (moved >= TURN_BUDGET) return 1;
    if (c->in_buf == NULL && (c->in_buf = malloc(PLAIN_CHUNK)) == NULL) {
      conn_close(c, "error", "ENOMEM");
      return -1;
    }
    size_t got = 0;
    while (got < PLAIN_CHUNK) {
      ERR_clear_error();
      int r = SSL_read(c->ssl, c->in_buf + got, (int)(PLAIN_CHUNK - got));
      if (r > 0) {
        got += (size_t)r;
        continue;
      }
      int err = SSL_get_error(c->ssl, r);
      if (err == SSL_ERROR_ZERO_RETURN) {
        c->in_eof = 1;
      } else if (err != SSL_ERROR_WANT_READ && err != SSL_ERROR_WANT_WRITE) {
        char code[160];
        if (err == SSL_ERROR_SYSCALL) snprintf(code, sizeof code, "%s", errno == 0 ? "ECONNRESET" : errno_code(errno));
        else ssl_error_code(ERR_peek_last_error(), code, sizeof code);
        ERR_clear_error();
        conn_close(c, "error", code);
        return -1;
      }
      break;
    }
    /* SSL_read may have answered the peer (a KeyUpdate): that goes out too. */
    if (flush_tls(c) < 0) return -1;
    if (got == 0 && !c->in_eof) {
      free(c->in_buf); /* an idle connection holds no buffers */
      c->in_buf = NULL;
      return 0;
    }
    c->in_len = got;
    c->from_tls += got;
  }
}

/* Plaintext -> TLS. Same returns as pump_in. */
static int pump_out(conn *c) {
  size_t moved = 0;
  int budget_spent = 0;
  char chunk[PLAIN_CHUNK];
  c->out_throttled = 0;
  for (;;) {
    if (c->out_eof) break;
    if (c->out_len - c->out_off >= TLS_OUT_HIGH) {
      if (flush_tls(c) < 0) return -1;
      if (c->out_len - c->out_off >= TLS_OUT_HIGH) {
        c->out_throttled = 1; /* the TLS socket is full: its writability resumes us */
        break;
      }
    }
    if (moved >= TURN_BUDGET) {
      budget_spent = 1;
      break;
    }
    ssize_t n = recv(c->plain_fd, chunk, sizeof chunk, 0);
    if (n < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK) break;
      if (errno == EINTR) continue;
      conn_close(c, "error", errno_code(errno));
      return -1;
    }
    if (n == 0) {
      c->out_eof = 1;
      break;
    }
    ERR_clear_error();
    int r = SSL_write(c->ssl, chunk, (int)n);
    if (r != (int)n) {
      char code[160];
      ssl_error_code(ERR_peek_last_error(), code, sizeof code);
      ERR_clear_error();
      conn_close(c, "error", code);
      return -1;
    }
    c->to_tls += (uint64_t)n;
    moved += (size_t)n;
    /* A short read drained the socket, unless a FIN waits behind the data: edge-triggered, no event
     * would announce that one again. */
    if ((size_t)n < sizeof chunk && !c->plain_hup) break;
  }
  if (c->out_eof && !c->out_notified) {
    ERR_clear_error();
    SSL_shutdown(c->ssl); /* queues close_notify; the peer's comes by pump_in */
    ERR_clear_error();
    c->out_notified = 1;
  }
  if (flush_tls(c) < 0) return -1;
  return budget_spent;
}

/* Both directions finished and flushed: the connection is over. */
static void close_if_done(conn *c) {
  if (c->state == RELAYING && c->in_shut && c->out_shut && c->in_len == c->in_off && c->out_len == c->out_off)
    conn_close(c, "done", NULL);
}

/* Runs the given directions of a relaying connection until each must wait or has spent its turn. */
static void progress(conn *c, int run) {
  if (c->state == HANDSHAKING) {
    handshake_step(c);
    return;
  }
  if (c->state != RELAYING) {
    if (c->state == HANDSHAKED) flush_tls(c);
    return;
  }
  int more = 0;
  if (run & RUN_IN) {
    int r = pump_in(c);
    if (r < 0) return;
    more |= r;
  }
  if (run & RUN_OUT) {
    int r = pump_out(c);
    if (r < 0) return;
    more |= r;
  }
  c->last_active = uv_now(uv_handle_get_loop((uv_handle_t *)&c->idle));
  if (more) again(c);
  close_if_done(c);
}

/* The data word of an epoll registration: the connection, and in the low bit which of its sockets. */
#define SIDE_PLAIN ((uintptr_t)1)

static void dispatch(conn *c, int plain, uint32_t ev) {
  if (c->state == CLOSING || c->state == CLOSED) return; /* closed earlier in this batch */
  int readable = (ev & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) != 0;
  int run = 0;
  if (!plain) {
    if (readable || c->state != RELAYING) run |= RUN_IN;
    if ((ev & EPOLLOUT) && c->out_len > c->out_off && flush_tls(c) < 0) return;
    if ((ev & EPOLLOUT) && c->out_throttled) run |= RUN_OUT;
  } else {
    c->plain_hup = (ev & (EPOLLRDHUP | EPOLLHUP | EPOLLERR)) != 0;
    if (readable) run |= RUN_OUT;
    if ((ev & EPOLLOUT) && c->in_len > c->in_off) run |= RUN_IN;
  }
  if (run != 0) progress(c, run);
  else close_if_done(c); /* a flush may have sent the last close_notify */
}

static void on_epoll(uv_poll_t *h, int status, int events) {
  (void)h; (void)events;
  if (status < 0) return;
  struct epoll_event evs[64];
  int n;
  do {
    n = epoll_wait(relay_loop.epfd, evs, 64, 0);
    for (int i = 0; i < n; i++) {
      uintptr_t word = (uintptr_t)evs[i].data.ptr;
      dispatch((conn *)(word & ~SIDE_PLAIN), (word & SIDE_PLAIN) != 0, evs[i].events);
    }
  } while (n == 64);
}

static void on_again(uv_idle_t *h) {
  conn *list = relay_loop.again;
  relay_loop.again = NULL;
  uv_idle_stop(h);
  while (list != NULL) {
    conn *c = list;
    list = c->again_next;
    c->queued = 0;
    if (c->state == RELAYING) progress(c, RUN_IN | RUN_OUT);
    else conn_free_if_done(c);
  }
}

static void on_idle(uv_timer_t *t) {
  conn *c = t->data;
  if (c->state != RELAYING) return;
  uint64_t now = uv_now(uv_handle_get_loop((uv_handle_t *)t));
  uint64_t quiet = now - c->last_active;
  if (quiet >= c->idle_ms) {
    conn_close(c, "idle", NULL);
    return;
  }
  uv_timer_start(t, on_idle, c->idle_ms - quiet, 0);
}

/* ---- contexts ---- */

static void ctx_finalize(napi_env env, void *data, void *hint) {
  (void)env; (void)hint;
  ctx_unref(data);
}

static int new_session(SSL *ssl, SSL_SESSION *session) {
  relay_ctx *rc = SSL_CTX_get_app_data(SSL_get_SSL_CTX(ssl));
  if (!rc->resume) return 0;
  if (rc->session != NULL) SSL_SESSION_free(rc->session);
  rc->session = session;
  return 1; /* we keep the reference */
}

/* Every certificate is reported, never refused here: JavaScript decides from the verify result. */
static int accept_any(int ok, X509_STORE_CTX *store) {
  (void)ok; (void)store;
  return 1;
}

static int get_string(napi_env env, napi_value obj, const char *key, char **out, int required) {
  napi_value v;
  napi_valuetype t;
  *out = NULL;
  if (napi_get_named_property(env, obj, key, &v) != napi_ok || napi_typeof(env, v, &t) != napi_ok) return 0;
  if (t == napi_undefined && !required) return 1;
  size_t len;
  if (t == napi_string) {
    if (napi_get_value_string_utf8(env, v, NULL, 0, &len) != napi_ok) return 0;
    *out = malloc(len + 1);
    if (*out == NULL) return 0;
    napi_get_value_string_utf8(env, v, *out, len + 1, &len);
    return 1;
  }
  bool is_buf = false;
  napi_is_buffer(env, v, &is_buf);
  if (!is_buf) return 0;
  void *data;
  if (napi_get_buffer_info(env, v, &data, &len) != napi_ok) return 0;
  *out = malloc(len + 1);
  if (*out == NULL) return 0;
  memcpy(*out, data, len);
  (*out)[len] = '\0';
  return 1;
}

static int get_flag(napi_env env, napi_value obj, const char *key) {
  napi_value v;
  bool b = false;
  if (napi_get_named_property(env, obj, key, &v) == napi_ok) napi_get_value_bool(env, v, &b);
  return b;
}

/* Loads the chain (leaf first), key and trust anchors. Returns NULL or a message naming the part. */
static const char *load_material(SSL_CTX *ctx, const char *cert, const char *key, const char *ca, int server) {
  BIO *b = BIO_new_mem_buf(cert, -1);
  X509 *leaf = b == NULL ? NULL : PEM_read_bio_X509(b, NULL, NULL, NULL);
  if (leaf == NULL || SSL_CTX_use_certificate(ctx, leaf) != 1) {
    X509_free(leaf);
    BIO_free(b);
    return "cert: expected a PEM certificate chain, leaf first";
  }
  X509_free(leaf);
  X509 *next;
  while ((next = PEM_read_bio_X509(b, NULL, NULL, NULL)) != NULL) {
    if (SSL_CTX_add0_chain_cert(ctx, next) != 1) {
      X509_free(next);
      BIO_free(b);
      return "cert: an intermediate certificate was refused";
    }
  }
  BIO_free(b);
  ERR_clear_error();

  b = BIO_new_mem_buf(key, -1);
  EVP_PKEY *pkey = b == NULL ? NULL : PEM_read_bio_PrivateKey(b, NULL, NULL, NULL);
  BIO_free(b);
  if (pkey == NULL || SSL_CTX_use_PrivateKey(ctx, pkey) != 1 || SSL_CTX_check_private_key(ctx) != 1) {
    EVP_PKEY_free(pkey);
    return "key: expected the PEM private key of the chain's first certificate";
  }
  EVP_PKEY_free(pkey);

  b = BIO_new_mem_buf(ca, -1);
  STACK_OF(X509_INFO) *infos = b == NULL ? NULL : PEM_X509_INFO_read_bio(b, NULL, NULL, NULL);
  BIO_free(b);
  X509_STORE *store = SSL_CTX_get_cert_store(ctx);
  int anchors = 0;
  for (int i = 0; infos != NULL && i < sk_X509_INFO_num(infos); i++) {
    X509_INFO *info = sk_X509_INFO_value(infos, i);
    if (info->x509 == NULL) continue;
    if (X509_STORE_add_cert(store, info->x509) != 1) continue;
    if (server) SSL_CTX_add_client_CA(ctx, info->x509);
    anchors++;
  }
  sk_X509_INFO_pop_free(infos, X509_INFO_free);
  if (anchors == 0) return "ca: expected at least one PEM certificate";
  return NULL;
}

static napi_value relay_context(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_valuetype t;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc != 1 ||
      napi_typeof(env, argv[0], &t) != napi_ok || t != napi_object)
    return contrast_throw_type(env, "ERR_INVALID_ARG_TYPE", "relayContext(options): options must be an object");
  char *cert = NULL, *key = NULL, *ca = NULL, *groups = NULL, *ciphers = NULL, *suites = NULL;
  const char *problem = NULL;
  if (!get_string(env, argv[0], "cert", &cert, 1) || !get_string(env, argv[0], "key", &key, 1) ||
      !get_string(env, argv[0], "ca", &ca, 1) || !get_string(env, argv[0], "groups", &groups, 0) ||
      !get_string(env, argv[0], "ciphers", &ciphers, 0) || !get_string(env, argv[0], "ciphersuites", &suites, 0))
    problem = "cert, key and ca must be strings or Buffers (groups, ciphers, ciphersuites: strings)";
  int server = get_flag(env, argv[0], "server");
  relay_ctx *rc = NULL;
  SSL_CTX *ctx = NULL;
  ERR_clear_error();
  if (problem == NULL) {
    ctx = SSL_CTX_new(server ? TLS_server_method() : TLS_client_method());
    if (ctx == NULL) problem = "could not create an SSL_CTX";
  }
  if (problem == NULL) {
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    SSL_CTX_set_mode(ctx, SSL_MODE_NO_AUTO_CHAIN | SSL_MODE_RELEASE_BUFFERS);
    SSL_CTX_set_options(ctx, SSL_OP_IGNORE_UNEXPECTED_EOF | SSL_OP_NO_RENEGOTIATION);
    SSL_CTX_set_read_ahead(ctx, 1);
    SSL_CTX_set_default_read_buffer_len(ctx, 64 * 1024);
    SSL_CTX_set_verify(ctx, server ? SSL_VERIFY_PEER | SSL_VERIFY_CLIENT_ONCE : SSL_VERIFY_PEER, accept_any);
    if (groups != NULL && SSL_CTX_set1_groups_list(ctx, groups) != 1) problem = "groups: not a groups list this OpenSSL knows";
    else if (ciphers != NULL && SSL_CTX_set_cipher_list(ctx, ciphers) != 1) problem = "ciphers: no usable TLS 1.2 cipher";
    else if (suites != NULL && SSL_CTX_set_ciphersuites(ctx, suites) != 1) problem = "ciphersuites: no usable TLS 1.3 suite";
    else problem = load_material(ctx, cert, key, ca, server);
    /* OpenSSL 3.5 compresses our chain for every handshake with a peer that offers RFC 8879
     * (brotli at its highest quality: a quarter of a full handshake's CPU). Compress it once here;
     * without that, send it uncompressed. */
    if (problem == NULL && SSL_CTX_compress_certs(ctx, 0) != 1)
      SSL_CTX_set_options(ctx, SSL_OP_NO_TX_CERTIFICATE_COMPRESSION);
  }
  if (problem == NULL) {
    rc = calloc(1, sizeof *rc);
    if (rc == NULL) problem = "out of memory";
  }
  free(cert);
  free(key);
  free(ca);
  free(groups);
  free(ciphers);
  free(suites);
  ERR_clear_error();
  if (problem != NULL) {
    SSL_CTX_free(ctx);
    return contrast_throw_code(env, "ERR_RELAY_CONTEXT", problem);
  }
  rc->ctx = ctx;
  rc->server = server;
  rc->resume = get_flag(env, argv[0], "resume");
  rc->refs = 1;
  SSL_CTX_set_app_data(ctx, rc);
  if (server) {
    /* Tickets resume with client authentication only under a session id context. */
    SSL_CTX_set_session_id_context(ctx, SESSION_ID_CONTEXT, sizeof SESSION_ID_CONTEXT - 1);
  } else {
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
    SSL_CTX_sess_set_new_cb(ctx, new_session);
  }
  napi_value handle;
  if (napi_create_external(env, rc, ctx_finalize, NULL, &handle) != napi_ok) {
    ctx_unref(rc);
    return contrast_throw_code(env, "ERR_RELAY_CONTEXT", "could not create the context handle");
  }
  return handle;
}

/* ---- connections ---- */

static void conn_finalize(napi_env env, void *data, void *hint) {
  (void)env; (void)hint;
  conn *c = data;
  c->js_alive = 0;
  conn_free_if_done(c);
}

static conn *get_conn(napi_env env, napi_value v) {
  void *data = NULL;
  napi_valuetype t;
  if (napi_typeof(env, v, &t) != napi_ok || t != napi_external) return NULL;
  if (napi_get_value_external(env, v, &data) != napi_ok) return NULL;
  return data;
}

/* A non-blocking, close-on-exec duplicate of fd; -1 (dup) or -2 (flags) with errno set. */
static int adopt_fd(int fd) {
  int own = fcntl(fd, F_DUPFD_CLOEXEC, 3);
  if (own < 0) return -1;
  int fl = fcntl(own, F_GETFL);
  if (fl < 0 || fcntl(own, F_SETFL, fl | O_NONBLOCK) < 0) {
    int e = errno;
    close(own);
    errno = e;
    return -2;
  }
  return own;
}

static napi_value relay_start(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  napi_valuetype t0 = napi_undefined, t2 = napi_undefined;
  int32_t fd;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc != 3 ||
      napi_typeof(env, argv[0], &t0) != napi_ok || t0 != napi_external || !contrast_get_int32(env, argv[1], &fd) ||
      fd < 0 || napi_typeof(env, argv[2], &t2) != napi_ok || t2 != napi_function)
    return contrast_throw_type(env, "ERR_INVALID_ARG_TYPE", "relayStart(context, fd, onEvent)");
  relay_ctx *rc;
  napi_get_value_external(env, argv[0], (void **)&rc);
  uv_loop_t *loop;
  if (napi_get_uv_event_loop(env, &loop) != napi_ok) return contrast_throw_code(env, "ERR_RELAY", "no event loop");
  int lerr = loop_init(loop);
  if (lerr == -EXDEV)
    return contrast_throw_code(env, "ERR_RELAY", "the relay runs on the main thread's event loop only, not in a worker");
  if (lerr < 0) return contrast_throw_errno(env, "epoll_create1", -lerr);
  int own = adopt_fd(fd);
  if (own < 0) return contrast_throw_errno(env, own == -1 ? "fcntl(F_DUPFD_CLOEXEC)" : "fcntl(O_NONBLOCK)", errno);
  conn *c = calloc(1, sizeof *c);
  SSL *ssl = SSL_new(rc->ctx);
  BIO *rbio = BIO_new_socket(own, BIO_NOCLOSE);
  BIO *wbio = BIO_new(out_method);
  if (c == NULL || ssl == NULL || rbio == NULL || wbio == NULL) {
    free(c);
    SSL_free(ssl);
    BIO_free(rbio);
    BIO_free(wbio);
    close(own);
    ERR_clear_error();
    return contrast_throw_code(env, "ERR_RELAY", "out of memory");
  }
  BIO_set_data(wbio, c);
  SSL_set_bio(ssl, rbio, wbio);
  c->env = env;
  c->rc = rc;
  c->ssl = ssl;
  c->tls_fd = own;
  c->plain_fd = -1;
  c->state = HANDSHAKING;
  c->js_alive = 1;
  c->close_reason = "destroyed";
  rc->refs++;
  if (rc->server) {
    SSL_set_accept_state(ssl);
  } else {
    SSL_set_connect_state(ssl);
    /* A TLS 1.3 session is single-use once offered: each connection offers a copy of the newest. */
    SSL_SESSION *copy = rc->resume && rc->session != NULL ? SSL_SESSION_dup(rc->session) : NULL;
    if (copy != NULL) {
      SSL_set_session(ssl, copy);
      SSL_SESSION_free(copy); /* the SSL holds its own reference */
    }
  }
  napi_value resource_name;
  napi_create_string_utf8(env, "ContrastRelay", NAPI_AUTO_LENGTH, &resource_name);
  napi_create_reference(env, argv[2], 1, &c->on_event);
  napi_async_init(env, NULL, resource_name, &c->async);
  uv_timer_init(loop, &c->idle);
  uv_unref((uv_handle_t *)&c->idle);
  c->idle.data = c;
  loop_active(1);
  /* Writable at once: a client's ClientHello goes out from the loop, so events never come from inside
   * this call; a server just waits for the ClientHello. */
  int werr = watch(c, own, 0);
  napi_value handle;
  napi_create_external(env, c, conn_finalize, NULL, &handle);
  if (werr < 0) {
    snprintf(c->close_code, sizeof c->close_code, "%s", errno_code(-werr));
    conn_close(c, "error", c->close_code);
  }
  return handle;
}

static napi_value relay_attach(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  int32_t fd;
  double idle;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc != 3 ||
      !contrast_get_int32(env, argv[1], &fd) || fd < 0 || napi_get_value_double(env, argv[2], &idle) != napi_ok ||
      !(idle > 0))
    return contrast_throw_type(env, "ERR_INVALID_ARG_TYPE", "relayAttach(connection, plainFd, idleMs > 0)");
  conn *c = get_conn(env, argv[0]);
  if (c == NULL) return contrast_throw_type(env, "ERR_INVALID_ARG_TYPE", "relayAttach: not a relay connection");
  if (c->state == CLOSING || c->state == CLOSED) return NULL; /* closed meanwhile: the close event tells */
  if (c->state != HANDSHAKED) return contrast_throw_code(env, "ERR_RELAY_STATE", "relayAttach before the handshake event");
  int own = adopt_fd(fd);
  if (own < 0) return contrast_throw_errno(env, own == -1 ? "fcntl(F_DUPFD_CLOEXEC)" : "fcntl(O_NONBLOCK)", errno);
  uv_loop_t *loop;
  napi_get_uv_event_loop(env, &loop);
  c->plain_fd = own;
  c->plain_hup = 1; /* the first pass reads to EAGAIN */
  c->idle_ms = (uint64_t)idle;
  c->last_active = uv_now(loop);
  uv_timer_start(&c->idle, on_idle, c->idle_ms, 0);
  c->state = RELAYING;
  int werr = watch(c, own, 1);
  if (werr < 0) {
    conn_close(c, "error", errno_code(-werr));
    return NULL;
  }
  /* Whatever either side sent meanwhile is already waiting: no edge will announce it. */
  progress(c, RUN_IN | RUN_OUT);
  return NULL;
}

static napi_value relay_destroy(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  bool reset = false;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 1)
    return contrast_throw_type(env, "ERR_INVALID_ARG_TYPE", "relayDestroy(connection, reset?)");
  conn *c = get_conn(env, argv[0]);
  if (c == NULL) return contrast_throw_type(env, "ERR_INVALID_ARG_TYPE", "relayDestroy: not a relay connection");
  if (argc == 2) napi_get_value_bool(env, argv[1], &reset);
  if (c->state == CLOSING || c->state == CLOSED) return NULL;
  c->reset = reset;
  conn_close(c, "destroyed", NULL);
  return NULL;
}

napi_value contrast_init_relay(napi_env env, napi_value exports) {
  if (out_method == NULL) {
    out_method = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "contrast relay output");
    if (out_method == NULL || BIO_meth_set_write(out_method, out_write) != 1 ||
        BIO_meth_set_ctrl(out_method, out_ctrl) != 1 || BIO_meth_set_create(out_method, out_create) != 1) {
      contrast_throw_code(env, "ERR_RELAY", "could not create the relay's BIO method");
      return NULL;
    }
  }
  if (!contrast_export(env, exports, "relayContext", relay_context)) return NULL;
  if (!contrast_export(env, exports, "relayStart", relay_start)) return NULL;
  if (!contrast_export(env, exports, "relayAttach", relay_attach)) return NULL;
  if (!contrast_export(env, exports, "relayDestroy", relay_destroy)) return NULL;
  return exports;
}
