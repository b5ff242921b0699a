/*
 * contrast-tee-emu: emulated SEV-SNP / TDX guest devices and configfs-tsm on a FUSE mount.
 *
 *   contrast-tee-emu --keys DIR [--measurement HEX48] [--host-data HEX32] [--mr-config-id HEX48]
 *                    [--mr-td HEX48] [--chip-id HEX64] [--tcb HEX8] [--report-version N]
 *                    [--no-host-certs] [--rmdir-on-exit] MOUNTPOINT
 *
 * DIR holds vcek.key (P-384), certs.bin (SNP certificate table), attestation.key and pck.key (P-256)
 * and pck-chain.pem. Prints "ready" on stdout once mounted; unmounts on SIGTERM/SIGINT/SIGHUP and
 * when its parent dies. Runs as root: it reads and writes the caller's memory (process_vm_readv).
 */
#define FUSE_USE_VERSION 35
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>
#include <fuse_lowlevel.h>
#include "emu.h"

extern const struct fuse_lowlevel_ops EMU_OPS;
void *emu_fs_new(struct emu *e);

static void die(const char *what) {
  fprintf(stderr, "contrast-tee-emu: %s\n", what);
  exit(2);
}

static void hex_opt(const char *name, const char *val, uint8_t *out, size_t len) {
  if (parse_hex(val, out, len) != 0) {
    fprintf(stderr, "contrast-tee-emu: --%s %s: expected %zu bytes as hex\n", name, val, len);
    exit(2);
  }
}

static EVP_PKEY *key_in(const char *dir, const char *file) {
  char path[4096];
  snprintf(path, sizeof path, "%s/%s", dir, file);
  EVP_PKEY *k = load_private_key(path);
  if (k == NULL) {
    fprintf(stderr, "contrast-tee-emu: %s: expected a PEM private key\n", path);
    exit(2);
  }
  return k;
}

static void file_in(const char *dir, const char *file, uint8_t **out, size_t *len) {
  char path[4096];
  snprintf(path, sizeof path, "%s/%s", dir, file);
  if (read_file(path, out, len) != 0) {
    fprintf(stderr, "contrast-tee-emu: %s: cannot read\n", path);
    exit(2);
  }
}

int main(int argc, char **argv) {
  static struct emu e;
  const char *keys = NULL;
  int rmdir_on_exit = 0, host_certs = 1;
  memset(e.cfg.measurement, 0x4d, 48);
  memset(e.cfg.mr_td, 0x7d, 48);
  memset(e.cfg.chip_id, 0xc1, 64);
  e.cfg.report_version = 3;
  static const struct option opts[] = {
    { "keys", required_argument, 0, 'k' }, { "measurement", required_argument, 0, 'm' },
    { "host-data", required_argument, 0, 'h' }, { "mr-config-id", required_argument, 0, 'c' },
    { "mr-td", required_argument, 0, 't' }, { "chip-id", required_argument, 0, 'i' },
    { "tcb", required_argument, 0, 'b' }, { "report-version", required_argument, 0, 'v' },
    { "rmdir-on-exit", no_argument, 0, 'r' }, { "no-host-certs", no_argument, 0, 'n' }, { 0, 0, 0, 0 },
  };
  int c;
  while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
    switch (c) {
      case 'k': keys = optarg; break;
      case 'r': rmdir_on_exit = 1; break;
      case 'n': host_certs = 0; break;
      case 'm': hex_opt("measurement", optarg, e.cfg.measurement, 48); break;
      case 'h': hex_opt("host-data", optarg, e.cfg.host_data, 32); break;
      case 'c': hex_opt("mr-config-id", optarg, e.cfg.mr_config_id, 48); break;
      case 't': hex_opt("mr-td", optarg, e.cfg.mr_td, 48); break;
      case 'i': hex_opt("chip-id", optarg, e.cfg.chip_id, 64); break;
      case 'b': hex_opt("tcb", optarg, e.cfg.tcb, 8); break;
      case 'v': {
        long v = strtol(optarg, NULL, 10);
        if (v < 2 || v > 5) die("--report-version: expected 2..5");
        e.cfg.report_version = (uint32_t)v;
        break;
      }
      default: die("usage: contrast-tee-emu --keys DIR [options] MOUNTPOINT");
    }
  }
  if (keys == NULL || optind != argc - 1) die("usage: contrast-tee-emu --keys DIR [options] MOUNTPOINT");
  const char *mountpoint = argv[optind];

  e.vcek = key_in(keys, "vcek.key");
  e.attestation_key = key_in(keys, "attestation.key");
  e.pck = key_in(keys, "pck.key");
  file_in(keys, "certs.bin", &e.cert_table, &e.cert_table_len);
  uint8_t *chain;
  file_in(keys, "pck-chain.pem", &chain, &e.pck_chain_len);
  e.pck_chain = (char *)chain;
  if (e.cert_table_len > 0x4000) die("certs.bin: expected at most 16 KiB");
  if (!host_certs) e.cert_table_len = 0; /* like many clouds: extended reports carry no certificates */
  random_bytes(e.tdx_mac_key, sizeof e.tdx_mac_key);

  prctl(PR_SET_PDEATHSIG, SIGTERM);
  if (getppid() == 1) die("parent already gone");

  char *fargv[] = { argv[0], "-o", "fsname=contrast-tee-emu,subtype=contrast-tee-emu", NULL };
  struct fuse_args args = FUSE_ARGS_INIT(3, fargv);
  struct fuse_session *se = fuse_session_new(&args, &EMU_OPS, sizeof EMU_OPS, emu_fs_new(&e));
  if (se == NULL) die("fuse_session_new failed");
  if (fuse_set_signal_handlers(se) != 0) die("cannot install signal handlers");
  if (fuse_session_mount(se, mountpoint) != 0) die("cannot mount");
  printf("ready\n");
  fflush(stdout);
  int rc = fuse_session_loop(se);
  fuse_session_unmount(se);
  fuse_remove_signal_handlers(se);
  fuse_session_destroy(se);
  if (rmdir_on_exit) rmdir(mountpoint);
  return rc < 0 ? 1 : 0;
}
