/* Helpers of the TEE emulator: files, hex, keys, ECDSA, access to the caller's memory. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include "emu.h"

int read_file(const char *path, uint8_t **out, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (f == NULL) return -1;
  size_t cap = 4096, n = 0;
  uint8_t *buf = malloc(cap + 1);
  for (;;) {
    if (n == cap) {
      cap *= 2;
      buf = realloc(buf, cap + 1);
    }
    size_t r = fread(buf + n, 1, cap - n, f);
    if (r == 0) break;
    n += r;
  }
  fclose(f);
  buf[n] = 0;
  *out = buf;
  *len = n;
  return 0;
}

int parse_hex(const char *hex, uint8_t *out, size_t len) {
  if (strlen(hex) != len * 2) return -1;
  for (size_t i = 0; i < len; i++) {
    unsigned int b;
    if (sscanf(hex + 2 * i, "%2x", &b) != 1) return -1;
    out[i] = (uint8_t)b;
  }
  return 0;
}

EVP_PKEY *load_private_key(const char *path) {
  FILE *f = fopen(path, "r");
  if (f == NULL) return NULL;
  EVP_PKEY *k = PEM_read_PrivateKey(f, NULL, NULL, NULL);
  fclose(f);
  return k;
}

static void bn_out(const BIGNUM *bn, uint8_t *out, size_t width, int little_endian) {
  if (little_endian) BN_bn2lebinpad(bn, out, (int)width);
  else BN_bn2binpad(bn, out, (int)width);
}

int ecdsa_sign(EVP_PKEY *key, const EVP_MD *md, const uint8_t *data, size_t len, uint8_t *r, uint8_t *s, size_t width, int little_endian) {
  EVP_MD_CTX *ctx = EVP_MD_CTX_new();
  uint8_t der[256];
  size_t der_len = sizeof der;
  int ok = ctx != NULL && EVP_DigestSignInit(ctx, NULL, md, NULL, key) == 1 && EVP_DigestSign(ctx, der, &der_len, data, len) == 1;
  EVP_MD_CTX_free(ctx);
  if (!ok) return -1;
  const uint8_t *p = der;
  ECDSA_SIG *sig = d2i_ECDSA_SIG(NULL, &p, (long)der_len);
  if (sig == NULL) return -1;
  memset(r, 0, width);
  memset(s, 0, width);
  bn_out(ECDSA_SIG_get0_r(sig), r, width, little_endian);
  bn_out(ECDSA_SIG_get0_s(sig), s, width, little_endian);
  ECDSA_SIG_free(sig);
  return 0;
}

int ec_public_xy(EVP_PKEY *key, uint8_t *xy, size_t coord) {
  uint8_t pub[133];
  size_t n = 0;
  if (EVP_PKEY_get_octet_string_param(key, OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, pub, sizeof pub, &n) != 1) return -1;
  if (n != 1 + 2 * coord || pub[0] != 4) return -1;
  memcpy(xy, pub + 1, 2 * coord);
  return 0;
}

void sha256(const uint8_t *data, size_t len, uint8_t out[32]) {
  EVP_Digest(data, len, out, NULL, EVP_sha256(), NULL);
}

void sha384(const uint8_t *data, size_t len, uint8_t out[48]) {
  EVP_Digest(data, len, out, NULL, EVP_sha384(), NULL);
}

ssize_t peer_read(pid_t pid, uint64_t addr, void *buf, size_t len) {
  struct iovec local = { buf, len }, remote = { (void *)(uintptr_t)addr, len };
  ssize_t n = process_vm_readv(pid, &local, 1, &remote, 1, 0);
  return n == (ssize_t)len ? n : -1;
}

ssize_t peer_write(pid_t pid, uint64_t addr, const void *buf, size_t len) {
  struct iovec local = { (void *)buf, len }, remote = { (void *)(uintptr_t)addr, len };
  ssize_t n = process_vm_writev(pid, &local, 1, &remote, 1, 0);
  return n == (ssize_t)len ? n : -1;
}

void random_bytes(uint8_t *buf, size_t len) {
  RAND_bytes(buf, (int)len);
}
