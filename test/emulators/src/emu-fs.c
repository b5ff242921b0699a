/*
 * The FUSE file system (low-level API: an ioctl may fail with an errno and still write its struct
 * back, which the high-level API cannot express).
 *
 *   /dev/sev-guest            SNP_GET_REPORT, SNP_GET_EXT_REPORT
 *   /dev/tdx_guest            TDX_CMD_GET_REPORT0
 *   /tsm-snp/report/<entry>/  configfs-tsm, provider sev_guest (mkdir an entry, rmdir it afterwards)
 *   /tsm-tdx/report/<entry>/  configfs-tsm, provider tdx_guest
 *   /control/{snp,tdx,tsm}-fault  write none|firmware|busy|eio|certs-quirk
 *   /control/stats            counters, one "name value" per line
 */
#define FUSE_USE_VERSION 35
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <fuse_lowlevel.h>
#include "emu-control.h"
#include "emu-tsm.h"

enum {
  I_ROOT = 1, I_DEV, I_SEV, I_TDX, I_CONTROL, I_C_SNP, I_C_TDX, I_C_TSM, I_C_STATS,
  I_TSM_SNP, I_TSM_SNP_REPORT, I_TSM_TDX, I_TSM_TDX_REPORT, I_FIXED_END,
};
#define ENTRY_BASE 1000
#define ENTRY_STRIDE 16
#define MAX_ENTRIES 128

struct fixed { fuse_ino_t ino, parent; const char *name; mode_t mode; };
static const struct fixed FIXED[] = {
  { I_ROOT, I_ROOT, "", S_IFDIR | 0755 },
  { I_DEV, I_ROOT, "dev", S_IFDIR | 0755 },
  { I_SEV, I_DEV, "sev-guest", S_IFREG | 0600 },
  { I_TDX, I_DEV, "tdx_guest", S_IFREG | 0600 },
  { I_CONTROL, I_ROOT, "control", S_IFDIR | 0755 },
  { I_C_SNP, I_CONTROL, "snp-fault", S_IFREG | 0600 },
  { I_C_TDX, I_CONTROL, "tdx-fault", S_IFREG | 0600 },
  { I_C_TSM, I_CONTROL, "tsm-fault", S_IFREG | 0600 },
  { I_C_STATS, I_CONTROL, "stats", S_IFREG | 0444 },
  { I_TSM_SNP, I_ROOT, "tsm-snp", S_IFDIR | 0755 },
  { I_TSM_SNP_REPORT, I_TSM_SNP, "report", S_IFDIR | 0755 },
  { I_TSM_TDX, I_ROOT, "tsm-tdx", S_IFDIR | 0755 },
  { I_TSM_TDX_REPORT, I_TSM_TDX, "report", S_IFDIR | 0755 },
};
#define NFIXED (sizeof FIXED / sizeof FIXED[0])

struct fs {
  struct emu *e;
  struct tsm_entry entries[MAX_ENTRIES];
  uint64_t next_generation;
};

struct handle {
  fuse_ino_t ino;
  uint8_t *buf;
  size_t len, cap;
  int loaded, dirty;
};

static struct fs *FS(fuse_req_t req) { return fuse_req_userdata(req); }

/* ---- inode helpers ---- */

static struct tsm_entry *entry_of(struct fs *fs, fuse_ino_t ino, int *attr) {
  if (ino < ENTRY_BASE) return NULL;
  size_t slot = (ino - ENTRY_BASE) / ENTRY_STRIDE, off = (ino - ENTRY_BASE) % ENTRY_STRIDE;
  if (slot >= MAX_ENTRIES || !fs->entries[slot].used || off > A_COUNT) return NULL;
  *attr = (int)off - 1; /* -1: the entry directory itself */
  if (*attr >= 0 && !tsm_attr_visible(&fs->entries[slot], (enum tsm_attr)*attr)) return NULL;
  return &fs->entries[slot];
}

static fuse_ino_t entry_ino(struct fs *fs, struct tsm_entry *t) {
  return ENTRY_BASE + (fuse_ino_t)(t - fs->entries) * ENTRY_STRIDE;
}

static int stat_of(struct fs *fs, fuse_ino_t ino, struct stat *st) {
  memset(st, 0, sizeof *st);
  st->st_ino = ino;
  st->st_nlink = 1;
  for (size_t i = 0; i < NFIXED; i++) {
    if (FIXED[i].ino == ino) {
      st->st_mode = FIXED[i].mode;
      st->st_nlink = S_ISDIR(st->st_mode) ? 2 : 1;
      return 0;
    }
  }
  int attr;
  struct tsm_entry *t = entry_of(fs, ino, &attr);
  if (t == NULL) return -ENOENT;
  if (attr < 0) {
    st->st_mode = S_IFDIR | 0755;
    st->st_nlink = 2;
  } else {
    enum tsm_attr a = (enum tsm_attr)attr;
    st->st_mode = S_IFREG | (tsm_attr_readable(a) ? 0444 : 0) | (tsm_attr_writable(a) ? 0200 : 0);
  }
  return 0;
}

static int reply_entry(fuse_req_t req, struct fs *fs, fuse_ino_t ino, uint64_t generation) {
  struct fuse_entry_param ep;
  memset(&ep, 0, sizeof ep);
  ep.ino = ino;
  ep.generation = generation;
  if (stat_of(fs, ino, &ep.attr) != 0) return fuse_reply_err(req, ENOENT);
  return fuse_reply_entry(req, &ep);
}

static int is_report_dir(fuse_ino_t ino) { return ino == I_TSM_SNP_REPORT || ino == I_TSM_TDX_REPORT; }

static struct tsm_entry *find_entry(struct fs *fs, fuse_ino_t parent, const char *name) {
  for (size_t i = 0; i < MAX_ENTRIES; i++) {
    struct tsm_entry *t = &fs->entries[i];
    if (t->used && t->tdx == (parent == I_TSM_TDX_REPORT) && strcmp(t->name, name) == 0) return t;
  }
  return NULL;
}

/* ---- operations ---- */

static void op_lookup(fuse_req_t req, fuse_ino_t parent, const char *name) {
  struct fs *fs = FS(req);
  for (size_t i = 1; i < NFIXED; i++) {
    if (FIXED[i].parent == parent && strcmp(FIXED[i].name, name) == 0) {
      reply_entry(req, fs, FIXED[i].ino, 0);
      return;
    }
  }
  if (is_report_dir(parent)) {
    struct tsm_entry *t = find_entry(fs, parent, name);
    if (t != NULL) {
      reply_entry(req, fs, entry_ino(fs, t), t->nodeid_generation);
      return;
    }
  }
  int attr;
  struct tsm_entry *t = entry_of(fs, parent, &attr);
  if (t != NULL && attr < 0) {
    for (int a = 0; a < A_COUNT; a++) {
      if (tsm_attr_visible(t, (enum tsm_attr)a) && strcmp(TSM_ATTR_NAMES[a], name) == 0) {
        reply_entry(req, fs, parent + 1 + (fuse_ino_t)a, t->nodeid_generation);
        return;
      }
    }
  }
  fuse_reply_err(req, ENOENT);
}

static void op_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi) {
  (void)fi;
  struct stat st;
  if (stat_of(FS(req), ino, &st) != 0) fuse_reply_err(req, ENOENT);
  else fuse_reply_attr(req, &st, 0);
}

/* Truncation on open(O_TRUNC) and the like: nothing to change, answer with the attributes. */
static void op_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr, int to_set, struct fuse_file_info *fi) {
  (void)attr; (void)to_set;
  op_getattr(req, ino, fi);
}

static void add_dirent(fuse_req_t req, char *buf, size_t *used, size_t size, const char *name, fuse_ino_t ino, mode_t mode, off_t next) {
  struct stat st;
  memset(&st, 0, sizeof st);
  st.st_ino = ino;
  st.st_mode = mode;
  size_t need = fuse_add_direntry(req, NULL, 0, name, NULL, 0);
  if (*used + need > size) return;
  fuse_add_direntry(req, buf + *used, size - *used, name, &st, next);
  *used += need;
}

static void op_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi) {
  (void)fi;
  struct fs *fs = FS(req);
  char *buf = calloc(1, size);
  size_t used = 0;
  off_t n = 0;
  /* Each entry gets an index n; entries before `off` are skipped. */
#define EMIT(name, ino_, mode) do { n++; if (n > off) add_dirent(req, buf, &used, size, (name), (ino_), (mode), n); } while (0)
  EMIT(".", ino, S_IFDIR);
  EMIT("..", ino, S_IFDIR);
  for (size_t i = 1; i < NFIXED; i++) {
    if (FIXED[i].parent == ino) EMIT(FIXED[i].name, FIXED[i].ino, FIXED[i].mode);
  }
  if (is_report_dir(ino)) {
    for (size_t i = 0; i < MAX_ENTRIES; i++) {
      struct tsm_entry *t = &fs->entries[i];
      if (t->used && t->tdx == (ino == I_TSM_TDX_REPORT)) EMIT(t->name, entry_ino(fs, t), S_IFDIR);
    }
  }
  int attr;
  struct tsm_entry *t = entry_of(fs, ino, &attr);
  if (t != NULL && attr < 0) {
    for (int a = 0; a < A_COUNT; a++) {
      if (tsm_attr_visible(t, (enum tsm_attr)a)) EMIT(TSM_ATTR_NAMES[a], ino + 1 + (fuse_ino_t)a, S_IFREG);
    }
  }
#undef EMIT
  fuse_reply_buf(req, buf, used);
  free(buf);
}

static void op_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode) {
  (void)mode;
  struct fs *fs = FS(req);
  if (!is_report_dir(parent)) {
    fuse_reply_err(req, EPERM);
    return;
  }
  if (strlen(name) >= sizeof fs->entries[0].name) {
    fuse_reply_err(req, ENAMETOOLONG);
    return;
  }
  if (find_entry(fs, parent, name) != NULL) {
    fuse_reply_err(req, EEXIST);
    return;
  }
  for (size_t i = 0; i < MAX_ENTRIES; i++) {
    struct tsm_entry *t = &fs->entries[i];
    if (t->used) continue;
    tsm_reset(t);
    t->used = 1;
    t->tdx = parent == I_TSM_TDX_REPORT;
    t->nodeid_generation = ++fs->next_generation;
    strcpy(t->name, name);
    reply_entry(req, fs, entry_ino(fs, t), t->nodeid_generation);
    return;
  }
  fuse_reply_err(req, ENOSPC);
}

static void op_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name) {
  struct fs *fs = FS(req);
  struct tsm_entry *t = is_report_dir(parent) ? find_entry(fs, parent, name) : NULL;
  if (t == NULL) {
    fuse_reply_err(req, is_report_dir(parent) ? ENOENT : EPERM);
    return;
  }
  tsm_reset(t);
  fuse_reply_err(req, 0);
}

static void op_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi) {
  struct fs *fs = FS(req);
  int acc = fi->flags & O_ACCMODE, attr = -1;
  struct tsm_entry *t = entry_of(fs, ino, &attr);
  if (t != NULL && attr >= 0) {
    enum tsm_attr a = (enum tsm_attr)attr;
    if ((acc != O_WRONLY && !tsm_attr_readable(a)) || (acc != O_RDONLY && !tsm_attr_writable(a))) {
      fuse_reply_err(req, EACCES);
      return;
    }
  } else if (ino == I_C_STATS && acc != O_RDONLY) {
    fuse_reply_err(req, EACCES);
    return;
  } else if (ino < I_SEV || ino >= I_FIXED_END || ino == I_CONTROL || ino == I_DEV) {
    fuse_reply_err(req, ino < I_FIXED_END ? EISDIR : ENOENT);
    return;
  }
  struct handle *h = calloc(1, sizeof *h);
  h->ino = ino;
  fi->fh = (uint64_t)(uintptr_t)h;
  fi->direct_io = 1;
  fuse_reply_open(req, fi);
}

static int load(struct fs *fs, struct handle *h) {
  int attr;
  struct tsm_entry *t = entry_of(fs, h->ino, &attr);
  if (t != NULL && attr >= 0) return tsm_read(fs->e, t, (enum tsm_attr)attr, &h->buf, &h->len);
  switch (h->ino) {
    case I_C_SNP: return control_fault_text(fs->e->snp_fault, &h->buf, &h->len);
    case I_C_TDX: return control_fault_text(fs->e->tdx_fault, &h->buf, &h->len);
    case I_C_TSM: return control_fault_text(fs->e->tsm_fault, &h->buf, &h->len);
    case I_C_STATS: return control_stats_text(fs->e, &h->buf, &h->len);
    default: return -EINVAL; /* the devices have no read() */
  }
}

static void op_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi) {
  (void)ino;
  struct handle *h = (struct handle *)(uintptr_t)fi->fh;
  if (!h->loaded) {
    int rc = load(FS(req), h);
    if (rc != 0) {
      fuse_reply_err(req, -rc);
      return;
    }
    h->loaded = 1;
  }
  if ((size_t)off >= h->len) fuse_reply_buf(req, NULL, 0);
  else fuse_reply_buf(req, (const char *)h->buf + off, h->len - (size_t)off < size ? h->len - (size_t)off : size);
}

/* A text attribute (privlevel, control files) takes effect at write(2), each write on its own, like a
 * configfs text attribute. */
static int write_text(struct fs *fs, fuse_ino_t ino, struct tsm_entry *t, int attr, const uint8_t *buf, size_t len) {
  if (t != NULL) return tsm_write(t, (enum tsm_attr)attr, buf, len);
  if (ino == I_C_SNP) return control_set_fault(&fs->e->snp_fault, buf, len);
  if (ino == I_C_TDX) return control_set_fault(&fs->e->tdx_fault, buf, len);
  if (ino == I_C_TSM) return control_set_fault(&fs->e->tsm_fault, buf, len);
  return -EINVAL; /* the devices have no write() */
}

/* inblob is a binary attribute: bounded at write(2) (EFBIG past 64 bytes, configfs' cb_max_size),
 * committed when the file is closed. */
static void op_write(fuse_req_t req, fuse_ino_t ino, const char *buf, size_t size, off_t off, struct fuse_file_info *fi) {
  struct fs *fs = FS(req);
  struct handle *h = (struct handle *)(uintptr_t)fi->fh;
  int attr = -1;
  struct tsm_entry *t = entry_of(fs, ino, &attr);
  if (t == NULL || attr != A_INBLOB) {
    int rc = write_text(fs, ino, t, attr, (const uint8_t *)buf, size);
    if (rc != 0) fuse_reply_err(req, -rc);
    else fuse_reply_write(req, size);
    return;
  }
  size_t end = (size_t)off + size;
  if (end > sizeof t->inblob) {
    fuse_reply_err(req, EFBIG);
    return;
  }
  if (end > h->cap) {
    h->cap = end;
    h->buf = realloc(h->buf, h->cap);
  }
  if ((size_t)off > h->len) memset(h->buf + h->len, 0, (size_t)off - h->len);
  memcpy(h->buf + off, buf, size);
  if (end > h->len) h->len = end;
  h->dirty = 1;
  fuse_reply_write(req, size);
}

/* Commits inblob at the first flush after a write: flush is synchronous with close(2), and a copy of
 * the descriptor closed by a forked child before exec counts too (the commit happens once). */
static void op_flush(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi) {
  struct fs *fs = FS(req);
  struct handle *h = (struct handle *)(uintptr_t)fi->fh;
  int rc = 0, attr;
  struct tsm_entry *t = entry_of(fs, ino, &attr);
  if (h->dirty && t != NULL && attr == A_INBLOB) rc = tsm_write(t, A_INBLOB, h->buf, h->len);
  h->dirty = 0;
  h->len = 0;
  fuse_reply_err(req, -rc);
}

static void op_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi) {
  (void)ino;
  struct handle *h = (struct handle *)(uintptr_t)fi->fh;
  free(h->buf);
  free(h);
  fuse_reply_err(req, 0);
}

static void op_ioctl(fuse_req_t req, fuse_ino_t ino, unsigned int cmd, void *arg, struct fuse_file_info *fi, unsigned flags,
                     const void *in_buf, size_t in_bufsz, size_t out_bufsz) {
  (void)arg; (void)fi; (void)flags;
  struct fs *fs = FS(req);
  uint8_t buf[1088];
  if ((ino != I_SEV && ino != I_TDX) || in_bufsz != out_bufsz || in_bufsz > sizeof buf || in_bufsz == 0) {
    fuse_reply_err(req, ENOTTY);
    return;
  }
  memcpy(buf, in_buf, in_bufsz);
  int rc;
  if (ino == I_SEV) {
    if (in_bufsz != 32) rc = -ENOTTY;
    else rc = snp_ioctl(fs->e, fuse_req_ctx(req)->pid, cmd, buf);
  } else {
    rc = tdx_ioctl(fs->e, cmd, buf, in_bufsz);
  }
  if (rc == -ENOTTY) {
    fuse_reply_err(req, ENOTTY);
    return;
  }
  /* A negative result with data: the caller sees -1/errno and the struct written back. */
  fuse_reply_ioctl(req, rc, buf, out_bufsz);
}

const struct fuse_lowlevel_ops EMU_OPS = {
  .lookup = op_lookup,
  .getattr = op_getattr,
  .setattr = op_setattr,
  .readdir = op_readdir,
  .mkdir = op_mkdir,
  .rmdir = op_rmdir,
  .open = op_open,
  .read = op_read,
  .write = op_write,
  .flush = op_flush,
  .release = op_release,
  .ioctl = op_ioctl,
};

void *emu_fs_new(struct emu *e) {
  struct fs *fs = calloc(1, sizeof *fs);
  fs->e = e;
  return fs;
}
