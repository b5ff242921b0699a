/*
 * Intel TDX: TDREPORT_STRUCT for TDX_CMD_GET_REPORT0 and DCAP v4 quotes for configfs-tsm, signed by a
 * test attestation key whose binding sits in a QE report signed by a test PCK key.
 */
#include <errno.h>
#include <string.h>
#include <openssl/hmac.h>
#include "emu.h"

#define TDX_CMD_GET_REPORT0 0xC4405401u
#define QUOTE_SIGNED 0x278
#define QE_REPORT 384
#define AUTH_DATA 32

static const uint8_t INTEL_QE_VENDOR[16] = { 0x93, 0x9a, 0x72, 0x33, 0xf7, 0x9c, 0x4c, 0xa9,
                                             0x94, 0x0a, 0x0d, 0xb3, 0x95, 0x7f, 0x06, 0x07 };

static void put16(uint8_t *p, uint16_t v) { memcpy(p, &v, 2); }
static void put32(uint8_t *p, uint32_t v) { memcpy(p, &v, 4); }
static void put64(uint8_t *p, uint64_t v) { memcpy(p, &v, 8); }

static void fill(uint8_t *p, size_t n, uint8_t seed) {
  for (size_t i = 0; i < n; i++) p[i] = (uint8_t)(seed + i);
}

void tdx_build_report(struct emu *e, const uint8_t report_data[64], uint8_t r[TDX_REPORT_SIZE]) {
  memset(r, 0, TDX_REPORT_SIZE);
  /* TEE_TCB_INFO @0x100 (239 bytes) */
  put64(r + 0x100, 0x301ff);               /* VALID */
  r[0x108] = 3; r[0x109] = 1; r[0x10A] = 2; /* TEE_TCB_SVN: module 1.3, SEAM last patch 2 */
  fill(r + 0x118, 48, 0x51);               /* MRSEAM */
  /* MRSIGNERSEAM zero (Intel-signed module), SEAM ATTRIBUTES zero */
  /* TDINFO @0x200 (512 bytes) */
  put64(r + 0x200, 0x10000000);            /* ATTRIBUTES: SEPT_VE_DISABLE */
  put64(r + 0x208, 0x61ae7);               /* XFAM */
  memcpy(r + 0x210, e->cfg.mr_td, 48);
  memcpy(r + 0x240, e->cfg.mr_config_id, 48);
  fill(r + 0x2D0, 48, 0xA0);               /* RTMR0 */
  fill(r + 0x300, 48, 0xB0);               /* RTMR1 */
  fill(r + 0x330, 48, 0xC0);               /* RTMR2 */
  /* REPORTMACSTRUCT @0x000 (256 bytes) */
  r[0] = 0x81;                             /* REPORTTYPE: TDX */
  fill(r + 0x010, 16, 0x01);               /* CPUSVN */
  sha384(r + 0x100, 239, r + 0x020);       /* TEE_TCB_INFO_HASH */
  sha384(r + 0x200, 512, r + 0x050);       /* TEE_INFO_HASH */
  memcpy(r + 0x080, report_data, 64);
  unsigned int mac_len = 32;
  HMAC(EVP_sha256(), e->tdx_mac_key, sizeof e->tdx_mac_key, r, 0xE0, r + 0xE0, &mac_len);
}

int tdx_ioctl(struct emu *e, unsigned int cmd, uint8_t *req, size_t len) {
  if (cmd != TDX_CMD_GET_REPORT0 || len != 1088) return -ENOTTY;
  if (e->tdx_fault == FAULT_EIO || e->tdx_fault == FAULT_FIRMWARE) return -EIO; /* TDG.MR.REPORT failed */
  if (e->tdx_fault == FAULT_BUSY) return -EBUSY;
  e->stats.tdx_report++;
  tdx_build_report(e, req, req + 64);
  return 0;
}

/* TD quote body v4 (584 bytes) from a TDREPORT. */
static void quote_body(const uint8_t *rep, uint8_t *b) {
  memcpy(b + 0x000, rep + 0x108, 16);  /* TEE_TCB_SVN */
  memcpy(b + 0x010, rep + 0x118, 48);  /* MRSEAM */
  memcpy(b + 0x040, rep + 0x148, 48);  /* MRSIGNERSEAM */
  memcpy(b + 0x070, rep + 0x178, 8);   /* SEAMATTRIBUTES */
  memcpy(b + 0x078, rep + 0x200, 8);   /* TDATTRIBUTES */
  memcpy(b + 0x080, rep + 0x208, 8);   /* XFAM */
  memcpy(b + 0x088, rep + 0x210, 48 * 8); /* MRTD, MRCONFIGID, MROWNER, MROWNERCONFIG, RTMR0..3 */
  memcpy(b + 0x208, rep + 0x080, 64);  /* REPORTDATA */
}

long tdx_build_quote(struct emu *e, const uint8_t report_data[64], uint8_t *q) {
  uint8_t rep[TDX_REPORT_SIZE];
  tdx_build_report(e, report_data, rep);
  size_t chain = e->pck_chain_len + 1; /* the PEM chain carries a trailing NUL, as Intel's does */
  size_t cert_size = QE_REPORT + 64 + 2 + AUTH_DATA + 2 + 4 + chain;
  size_t sig_len = 64 + 64 + 2 + 4 + cert_size;
  size_t total = QUOTE_SIGNED + 4 + sig_len;
  if (total > TDX_QUOTE_MAX) return -EFBIG;
  memset(q, 0, total);
  /* header */
  put16(q + 0x00, 4);
  put16(q + 0x02, 2);            /* ECDSA-256 with P-256 */
  put32(q + 0x04, 0x81);         /* TDX */
  memcpy(q + 0x0C, INTEL_QE_VENDOR, 16);
  fill(q + 0x1C, 20, 0xE0);      /* user data */
  quote_body(rep, q + 0x30);
  put32(q + QUOTE_SIGNED, (uint32_t)sig_len);
  uint8_t *s = q + QUOTE_SIGNED + 4;
  uint8_t *att_pub = s + 64;
  if (ec_public_xy(e->attestation_key, att_pub, 32) != 0) return -EIO;
  put16(s + 128, 6);             /* QE report certification data */
  put32(s + 130, (uint32_t)cert_size);
  uint8_t *qe = s + 134;
  fill(qe, 16, 0x11);            /* CPUSVN */
  put64(qe + 0x30, 0x11);        /* ATTRIBUTES */
  fill(qe + 0x40, 32, 0x40);     /* MRENCLAVE */
  fill(qe + 0x80, 32, 0x80);     /* MRSIGNER */
  put16(qe + 0x100, 1);          /* ISVPRODID */
  put16(qe + 0x102, 8);          /* ISVSVN */
  uint8_t *auth = qe + QE_REPORT + 64 + 2;
  fill(auth, AUTH_DATA, 0x00);
  uint8_t bind[64 + AUTH_DATA];
  memcpy(bind, att_pub, 64);
  memcpy(bind + 64, auth, AUTH_DATA);
  sha256(bind, sizeof bind, qe + 0x140); /* REPORTDATA[0:32]; [32:64] stays zero */
  if (ecdsa_sign(e->pck, EVP_sha256(), qe, QE_REPORT, qe + QE_REPORT, qe + QE_REPORT + 32, 32, 0) != 0) return -EIO;
  put16(qe + QE_REPORT + 64, AUTH_DATA);
  uint8_t *inner = auth + AUTH_DATA;
  put16(inner, 5);               /* PCK certificate chain */
  put32(inner + 2, (uint32_t)chain);
  memcpy(inner + 6, e->pck_chain, e->pck_chain_len);
  if (ecdsa_sign(e->attestation_key, EVP_sha256(), q, QUOTE_SIGNED, s, s + 32, 32, 0) != 0) return -EIO;
  return (long)total;
}
