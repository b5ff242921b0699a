/* The control files of the emulator: fault injection and counters (see emu-control.c). */
#ifndef CONTRAST_EMU_CONTROL_H
#define CONTRAST_EMU_CONTROL_H

#include "emu.h"

/* "none\n", "firmware\n", ... as a malloc'd buffer. */
int control_fault_text(enum fault f, uint8_t **out, size_t *len);
/* "name value\n" lines of the counters as a malloc'd buffer. */
int control_stats_text(const struct emu *e, uint8_t **out, size_t *len);
/* Parses none|firmware|busy|eio|certs-quirk (trailing newline allowed); -EINVAL otherwise. */
int control_set_fault(enum fault *f, const uint8_t *buf, size_t len);

#endif
