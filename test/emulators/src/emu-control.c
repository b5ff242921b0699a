/*
 * Control files: /control/{snp,tdx,tsm}-fault select an injected fault (none, firmware, busy, eio,
 * certs-quirk); /control/stats counts the requests served, so tests can observe protocol steps such as
 * the certificate-buffer retry.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "emu-control.h"

static const char *const FAULT_NAMES[] = { "none", "firmware", "busy", "eio", "certs-quirk" };
#define NFAULTS (sizeof FAULT_NAMES / sizeof FAULT_NAMES[0])

static int text(const char *s, uint8_t **out, size_t *len) {
  *len = strlen(s);
  *out = malloc(*len + 1);
  if (*out == NULL) return -ENOMEM;
  memcpy(*out, s, *len + 1);
  return 0;
}

int control_fault_text(enum fault f, uint8_t **out, size_t *len) {
  char buf[32];
  snprintf(buf, sizeof buf, "%s\n", (size_t)f < NFAULTS ? FAULT_NAMES[f] : "?");
  return text(buf, out, len);
}

int control_stats_text(const struct emu *e, uint8_t **out, size_t *len) {
  char buf[512];
  const struct emu_stats *s = &e->stats;
  snprintf(buf, sizeof buf, "snp_report %u\nsnp_ext_report %u\nsnp_ext_too_small %u\ntdx_report %u\ntsm_generate %u\n",
           s->snp_report, s->snp_ext_report, s->snp_ext_too_small, s->tdx_report, s->tsm_generate);
  return text(buf, out, len);
}

int control_set_fault(enum fault *f, const uint8_t *buf, size_t len) {
  while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == ' ')) len--;
  for (size_t i = 0; i < NFAULTS; i++) {
    if (strlen(FAULT_NAMES[i]) == len && memcmp(FAULT_NAMES[i], buf, len) == 0) {
      *f = (enum fault)i;
      return 0;
    }
  }
  return -EINVAL;
}
