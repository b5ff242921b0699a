/*
 * SEV-SNP: builds ATTESTATION_REPORTs signed like AMD's firmware (ECDSA P-384 / SHA-384 over
 * [0, 0x2A0), R and S little-endian in 72-byte fields) and answers the /dev/sev-guest ioctls with
 * the kernel's observable behaviour: errno, exitinfo2 write-back, MSG_REPORT_RSP status and the
 * extended-report certificate-buffer protocol.
 */
#include <errno.h>
#include <string.h>
#include "emu.h"

#define SNP_GET_REPORT 0xC0205300u
#define SNP_GET_EXT_REPORT 0xC0205302u
#define CERTS_MAX 0x4000u
#define PAGE 4096u
#define FW_INVALID_PARAM 0x16u
#define FW_HW_ERROR 0x13u
#define VMM_INVALID_LEN (1ull << 32)
#define VMM_BUSY (2ull << 32)
#define NO_FW_CALL 0xffull

static void put32(uint8_t *p, uint32_t v) { memcpy(p, &v, 4); }
static void put64(uint8_t *p, uint64_t v) { memcpy(p, &v, 8); }
static uint32_t get32(const uint8_t *p) { uint32_t v; memcpy(&v, p, 4); return v; }
static uint64_t get64(const uint8_t *p) { uint64_t v; memcpy(&v, p, 8); return v; }

int snp_build_report(struct emu *e, const uint8_t user_data[64], uint32_t vmpl, uint8_t r[SNP_REPORT_SIZE]) {
  memset(r, 0, SNP_REPORT_SIZE);
  uint32_t version = e->cfg.report_version;
  put32(r + 0x000, version);
  put32(r + 0x004, 1);                      /* GUEST_SVN */
  put64(r + 0x008, 0x30000);                /* POLICY: SMT allowed, reserved bit 17 */
  put32(r + 0x030, vmpl);
  put32(r + 0x034, 1);                      /* SIGNATURE_ALGO: ECDSA P-384 with SHA-384 */
  memcpy(r + 0x038, e->cfg.tcb, 8);         /* CURRENT_TCB */
  put64(r + 0x040, 0x3);                    /* PLATFORM_INFO: SMT_EN, TSME_EN */
  put32(r + 0x048, 0);                      /* signer info: VCEK */
  memcpy(r + 0x050, user_data, 64);
  memcpy(r + 0x090, e->cfg.measurement, 48);
  memcpy(r + 0x0C0, e->cfg.host_data, 32);
  random_bytes(r + 0x140, 32);              /* REPORT_ID */
  memset(r + 0x160, 0xff, 32);              /* REPORT_ID_MA: no migration agent */
  memcpy(r + 0x180, e->cfg.tcb, 8);         /* REPORTED_TCB: the VCEK's TCB */
  if (version >= 3) {
    r[0x188] = 0x19;                        /* Milan: family 0x19, model 0x01, stepping 1 */
    r[0x189] = 0x01;
    r[0x18A] = 0x01;
  }
  memcpy(r + 0x1A0, e->cfg.chip_id, 64);
  memcpy(r + 0x1E0, e->cfg.tcb, 8);         /* COMMITTED_TCB */
  r[0x1E8] = 21; r[0x1E9] = 55; r[0x1EA] = 1; /* current build/minor/major: 1.55.21 */
  r[0x1EC] = 21; r[0x1ED] = 55; r[0x1EE] = 1;
  memcpy(r + 0x1F0, e->cfg.tcb, 8);         /* LAUNCH_TCB */
  return ecdsa_sign(e->vcek, EVP_sha384(), r, SNP_SIGNED_SIZE, r + 0x2A0, r + 0x2E8, 72, 1);
}

/* Writes MSG_REPORT_RSP (status, report_size, report) to the caller's response buffer. */
static int write_response(struct emu *e, pid_t pid, uint64_t resp_addr, const uint8_t *req96) {
  static uint8_t resp[SNP_RESP_SIZE];
  memset(resp, 0, sizeof resp);
  uint32_t vmpl = get32(req96 + 64);
  if (e->snp_fault == FAULT_FIRMWARE || vmpl > 3) {
    put32(resp, FW_INVALID_PARAM);
  } else {
    put32(resp + 4, SNP_REPORT_SIZE);
    if (snp_build_report(e, req96, vmpl, resp + 0x20) != 0) return -EIO;
  }
  return peer_write(pid, resp_addr, resp, sizeof resp) < 0 ? -EFAULT : 0;
}

/* The kernel copies the ioctl struct back only when its exitinfo2 (initially 0xff) is non-zero. */
static int finish(uint8_t io[32], uint64_t exitinfo2, int rc) {
  if (exitinfo2 != 0) put64(io + 0x18, exitinfo2);
  return rc;
}

static int ext_report(struct emu *e, pid_t pid, uint8_t io[32], uint64_t req_addr, uint64_t resp_addr) {
  uint8_t req[112];
  if (peer_read(pid, req_addr, req, sizeof req) < 0) return finish(io, NO_FW_CALL, -EFAULT);
  uint64_t certs_addr = get64(req + 0x60);
  uint32_t certs_len = get32(req + 0x68);
  uint32_t needed = (uint32_t)((e->cert_table_len + PAGE - 1) / PAGE * PAGE);
  int query = certs_len == 0 || certs_addr == 0;
  if (!query && (certs_len > CERTS_MAX || certs_len % PAGE != 0)) return finish(io, NO_FW_CALL, -EINVAL);
  if (needed > 0 && (query || certs_len < needed)) {
    e->stats.snp_ext_too_small++;
    put32(req + 0x68, needed);
    if (peer_write(pid, req_addr, req, sizeof req) < 0) return finish(io, NO_FW_CALL, -EFAULT);
    /* Early-2023 kernels returned 0 here; current ones EIO. */
    return finish(io, VMM_INVALID_LEN, e->snp_fault == FAULT_CERTS_QUIRK ? 0 : -EIO);
  }
  int rc = write_response(e, pid, resp_addr, req);
  if (rc != 0) return finish(io, NO_FW_CALL, rc);
  if (query) return 0; /* the host has no certificates: nothing to copy */
  static uint8_t certs[CERTS_MAX];
  memset(certs, 0, certs_len);
  memcpy(certs, e->cert_table, e->cert_table_len);
  if (peer_write(pid, certs_addr, certs, certs_len) < 0) return finish(io, NO_FW_CALL, -EFAULT);
  return 0;
}

int snp_ioctl(struct emu *e, pid_t pid, unsigned int cmd, uint8_t io[32]) {
  if (cmd != SNP_GET_REPORT && cmd != SNP_GET_EXT_REPORT) return -ENOTTY;
  if (io[0] == 0) return -EINVAL; /* msg_version: returned before any write-back */
  uint64_t req_addr = get64(io + 0x08), resp_addr = get64(io + 0x10);
  if (req_addr == 0 || resp_addr == 0) return finish(io, NO_FW_CALL, -EINVAL);
  if (e->snp_fault == FAULT_BUSY) return finish(io, VMM_BUSY, -ETIMEDOUT);
  if (e->snp_fault == FAULT_EIO) return finish(io, FW_HW_ERROR, -EIO);
  if (cmd == SNP_GET_EXT_REPORT) {
    e->stats.snp_ext_report++;
    return ext_report(e, pid, io, req_addr, resp_addr);
  }
  e->stats.snp_report++;
  uint8_t req[96];
  if (peer_read(pid, req_addr, req, sizeof req) < 0) return finish(io, NO_FW_CALL, -EFAULT);
  int rc = write_response(e, pid, resp_addr, req);
  return rc == 0 ? 0 : finish(io, NO_FW_CALL, rc);
}
