/* configfs-tsm report entries (see emu-tsm.c). */
#ifndef CONTRAST_EMU_TSM_H
#define CONTRAST_EMU_TSM_H

#include "emu.h"

enum tsm_attr { A_INBLOB, A_OUTBLOB, A_AUXBLOB, A_PROVIDER, A_GENERATION, A_PRIVLEVEL, A_PRIVLEVEL_FLOOR, A_COUNT };

struct tsm_entry {
  int used;
  int tdx;                 /* provider: 0 sev_guest, 1 tdx_guest */
  char name[256];
  uint64_t nodeid_generation;
  uint8_t inblob[64];
  size_t inblob_len;
  uint32_t privlevel;
  unsigned write_gen, read_gen;
  int cached;
  uint8_t *outblob, *auxblob;
  size_t outblob_len, auxblob_len;
};

extern const char *const TSM_ATTR_NAMES[A_COUNT];
int tsm_attr_visible(const struct tsm_entry *t, enum tsm_attr a);
int tsm_attr_readable(enum tsm_attr a);
int tsm_attr_writable(enum tsm_attr a);
/* Snapshot of an attribute for reading (malloc'd); -errno on failure. */
int tsm_read(struct emu *e, struct tsm_entry *t, enum tsm_attr a, uint8_t **out, size_t *len);
/* Commits a completed write; -errno on failure. */
int tsm_write(struct tsm_entry *t, enum tsm_attr a, const uint8_t *buf, size_t len);
void tsm_reset(struct tsm_entry *t);

#endif
