/*
 * configfs-tsm report entries: inblob / outblob / auxblob / provider / generation / privlevel /
 * privlevel_floor with the kernel's generation protocol. Every committed write increments the
 * write generation; reading a blob regenerates all blobs together when the cache is stale and then
 * sets the read generation to the write generation.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "emu-tsm.h"

const char *const TSM_ATTR_NAMES[A_COUNT] = {
  "inblob", "outblob", "auxblob", "provider", "generation", "privlevel", "privlevel_floor",
};

int tsm_attr_visible(const struct tsm_entry *t, enum tsm_attr a) {
  if (!t->tdx) return 1;
  return a == A_INBLOB || a == A_OUTBLOB || a == A_PROVIDER || a == A_GENERATION;
}

int tsm_attr_readable(enum tsm_attr a) { return a != A_INBLOB && a != A_PRIVLEVEL; }
int tsm_attr_writable(enum tsm_attr a) { return a == A_INBLOB || a == A_PRIVLEVEL; }

void tsm_reset(struct tsm_entry *t) {
  free(t->outblob);
  free(t->auxblob);
  memset(t, 0, sizeof *t);
}

static uint8_t *dup_bytes(const uint8_t *p, size_t n) {
  uint8_t *d = malloc(n == 0 ? 1 : n);
  if (d != NULL && n > 0) memcpy(d, p, n);
  return d;
}

static int generate(struct emu *e, struct tsm_entry *t) {
  if (t->inblob_len == 0 || t->inblob_len != 64) return -EINVAL; /* sev_guest and tdx_guest need 64 bytes */
  if (e->tsm_fault == FAULT_FIRMWARE) return -EINVAL;  /* firmware status 0x16 -> EINVAL */
  if (e->tsm_fault == FAULT_BUSY) return -EBUSY;
  if (e->tsm_fault == FAULT_EIO) return -EIO;
  uint8_t *out = NULL, *aux = NULL;
  size_t out_len = 0, aux_len = 0;
  if (t->tdx) {
    out = malloc(TDX_QUOTE_MAX);
    if (out == NULL) return -ENOMEM;
    long n = tdx_build_quote(e, t->inblob, out);
    if (n < 0) {
      free(out);
      return (int)n;
    }
    out_len = (size_t)n;
  } else {
    out = malloc(SNP_REPORT_SIZE);
    if (out == NULL) return -ENOMEM;
    if (t->privlevel > 3 || snp_build_report(e, t->inblob, t->privlevel, out) != 0) {
      free(out);
      return -EINVAL;
    }
    out_len = SNP_REPORT_SIZE;
    aux = dup_bytes(e->cert_table, e->cert_table_len);
    aux_len = e->cert_table_len;
  }
  free(t->outblob);
  free(t->auxblob);
  t->outblob = out;
  t->outblob_len = out_len;
  t->auxblob = aux;
  t->auxblob_len = aux_len;
  t->cached = 1;
  t->read_gen = t->write_gen;
  e->stats.tsm_generate++;
  return 0;
}

static int text(uint8_t **out, size_t *len, const char *s) {
  *out = dup_bytes((const uint8_t *)s, strlen(s));
  *len = strlen(s);
  return *out == NULL ? -ENOMEM : 0;
}

int tsm_read(struct emu *e, struct tsm_entry *t, enum tsm_attr a, uint8_t **out, size_t *len) {
  char buf[32];
  switch (a) {
    case A_PROVIDER: return text(out, len, t->tdx ? "tdx_guest\n" : "sev_guest\n");
    case A_GENERATION:
      snprintf(buf, sizeof buf, "%u\n", t->write_gen);
      return text(out, len, buf);
    case A_PRIVLEVEL_FLOOR: return text(out, len, "0\n");
    case A_OUTBLOB:
    case A_AUXBLOB: {
      if (!t->cached || t->read_gen != t->write_gen) {
        int rc = generate(e, t);
        if (rc != 0) return rc;
      }
      const uint8_t *src = a == A_OUTBLOB ? t->outblob : t->auxblob;
      *len = a == A_OUTBLOB ? t->outblob_len : t->auxblob_len;
      *out = dup_bytes(src, *len);
      return *out == NULL ? -ENOMEM : 0;
    }
    default: return -EACCES;
  }
}

int tsm_write(struct tsm_entry *t, enum tsm_attr a, const uint8_t *buf, size_t len) {
  if (t->write_gen + 1 == t->read_gen - 1) return -EBUSY; /* would wrap onto the read generation */
  if (a == A_INBLOB) {
    if (len > sizeof t->inblob) return -EINVAL;
    memcpy(t->inblob, buf, len);
    t->inblob_len = len;
  } else if (a == A_PRIVLEVEL) {
    char s[16];
    if (len == 0 || len >= sizeof s) return -EINVAL;
    memcpy(s, buf, len);
    s[len] = 0;
    char *end;
    unsigned long v = strtoul(s, &end, 10);
    if (end == s || (*end != 0 && *end != '\n') || v > 3) return -EINVAL;
    t->privlevel = (uint32_t)v;
  } else {
    return -EACCES;
  }
  t->write_gen++;
  return 0;
}
