/* Shared declarations of the TEE device emulator (see emu-main.c for the file system layout). */
#ifndef CONTRAST_EMU_H
#define CONTRAST_EMU_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <openssl/evp.h>

enum fault { FAULT_NONE, FAULT_FIRMWARE, FAULT_BUSY, FAULT_EIO, FAULT_CERTS_QUIRK };

struct emu_config {
  uint8_t measurement[48];
  uint8_t host_data[32];
  uint8_t mr_config_id[48];
  uint8_t mr_td[48];
  uint8_t chip_id[64];
  uint8_t tcb[8];
  uint32_t report_version;
};

struct emu_stats {
  unsigned snp_report, snp_ext_report, snp_ext_too_small, tdx_report, tsm_generate;
};

struct emu {
  struct emu_config cfg;
  EVP_PKEY *vcek;              /* P-384, signs SNP reports */
  EVP_PKEY *attestation_key;   /* P-256, signs TDX quotes */
  EVP_PKEY *pck;               /* P-256, signs the QE report */
  uint8_t *cert_table;         /* SNP certificate table (GUID entries + DER) */
  size_t cert_table_len;
  char *pck_chain;             /* PEM: PCK leaf, intermediate, root */
  size_t pck_chain_len;
  uint8_t tdx_mac_key[32];
  enum fault snp_fault, tdx_fault, tsm_fault;
  struct emu_stats stats;
};

#define SNP_REPORT_SIZE 0x4a0
#define SNP_SIGNED_SIZE 0x2a0
#define SNP_RESP_SIZE 4000
#define TDX_REPORT_SIZE 1024
#define TDX_QUOTE_MAX 16384

/* emu-util.c */
int read_file(const char *path, uint8_t **out, size_t *len);
int parse_hex(const char *hex, uint8_t *out, size_t len);
EVP_PKEY *load_private_key(const char *path);
/* ECDSA over data with digest md; writes r and s (each `width` bytes) in big- or little-endian. */
int ecdsa_sign(EVP_PKEY *key, const EVP_MD *md, const uint8_t *data, size_t len, uint8_t *r, uint8_t *s, size_t width, int little_endian);
int ec_public_xy(EVP_PKEY *key, uint8_t *xy, size_t coord);
void sha256(const uint8_t *data, size_t len, uint8_t out[32]);
void sha384(const uint8_t *data, size_t len, uint8_t out[48]);
ssize_t peer_read(pid_t pid, uint64_t addr, void *buf, size_t len);
ssize_t peer_write(pid_t pid, uint64_t addr, const void *buf, size_t len);
void random_bytes(uint8_t *buf, size_t len);

/* emu-snp.c */
int snp_build_report(struct emu *e, const uint8_t user_data[64], uint32_t vmpl, uint8_t out[SNP_REPORT_SIZE]);
/* Handles SNP_GET_REPORT / SNP_GET_EXT_REPORT; io is the 32-byte ioctl struct. Returns 0 or -errno. */
int snp_ioctl(struct emu *e, pid_t pid, unsigned int cmd, uint8_t io[32]);

/* emu-tdx.c */
void tdx_build_report(struct emu *e, const uint8_t report_data[64], uint8_t out[TDX_REPORT_SIZE]);
int tdx_ioctl(struct emu *e, unsigned int cmd, uint8_t *req, size_t len);
/* Builds a v4 quote over report_data into out (TDX_QUOTE_MAX bytes); returns its length or -errno. */
long tdx_build_quote(struct emu *e, const uint8_t report_data[64], uint8_t *out);

#endif
