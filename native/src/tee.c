/*
 * tee: SEV-SNP and TDX guest report ioctls.
 *
 * Every call runs on the libuv thread pool (napi_async_work): an SNP request can block for about a
 * minute while the kernel retries a busy host. The native side only performs the system calls and
 * reports what happened (errno captured right after the failing call, exitinfo2, firmware status);
 * native/tee.ts turns that into typed errors. Layouts follow include/uapi/linux/sev-guest.h and
 * tdx-guest.h; the TypeScript tests check sizes and numbers against the installed uapi headers.
 */
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>
#include "addon.h"
#include "napi-util.h"

/* ---- ABI (mirrors the uapi headers; checked by test/native/tee-abi.test.ts) ---- */

struct snp_report_req {
  uint8_t user_data[64];
  uint32_t vmpl;
  uint8_t rsvd[28];
};

struct snp_report_resp {
  uint8_t data[4000];
};

struct snp_guest_request_ioctl {
  uint8_t msg_version;
  uint64_t req_data;
  uint64_t resp_data;
  union {
    uint64_t exitinfo2;
    struct {
      uint32_t fw_error;
      uint32_t vmm_error;
    };
  };
};

struct snp_ext_report_req {
  struct snp_report_req data;
  uint64_t certs_address;
  uint32_t certs_len;
};

struct tdx_report_req {
  uint8_t reportdata[64];
  uint8_t tdreport[1024];
};

#define CT_IOWR(type, nr, size) ((3UL << 30) | ((unsigned long)(size) << 16) | ((unsigned long)(type) << 8) | (nr))
#define CT_SNP_GET_REPORT CT_IOWR('S', 0x0, sizeof(struct snp_guest_request_ioctl))
#define CT_SNP_GET_EXT_REPORT CT_IOWR('S', 0x2, sizeof(struct snp_guest_request_ioctl))
#define CT_TDX_CMD_GET_REPORT0 CT_IOWR('T', 0x1, sizeof(struct tdx_report_req))

#define SNP_VMM_ERR_INVALID_LEN 1
#define SNP_EXT_MAX_ATTEMPTS 4

_Static_assert(sizeof(struct snp_report_req) == 96, "snp_report_req");
_Static_assert(sizeof(struct snp_report_resp) == 4000, "snp_report_resp");
_Static_assert(sizeof(struct snp_guest_request_ioctl) == 32, "snp_guest_request_ioctl");
_Static_assert(sizeof(struct snp_ext_report_req) == 112, "snp_ext_report_req");
_Static_assert(sizeof(struct tdx_report_req) == 1088, "tdx_report_req");

/* ---- the work item shared by all three calls ---- */

enum tee_op { OP_SNP_REPORT, OP_SNP_EXT_REPORT, OP_TDX_REPORT0 };

struct tee_work {
  napi_async_work work;
  napi_deferred deferred;
  enum tee_op op;
  char *device;
  uint8_t report_data[64];
  uint32_t vmpl;
  uint32_t initial_certs_len;
  /* results */
  int err;                 /* errno of the failing call, 0 on success */
  const char *syscall;     /* "open" or "ioctl" */
  uint64_t exitinfo2;      /* as written back by the kernel (zeroed before each call) */
  uint32_t attempts;       /* ioctl calls made (ext report: length negotiation) */
  uint8_t *out;            /* SNP: the 4000-byte response; TDX: the 1024-byte TDREPORT */
  size_t out_len;
  uint8_t *certs;          /* ext report: certificate buffer as filled by the kernel */
  uint32_t certs_len;
};

static int open_device(struct tee_work *w) {
  int fd = open(w->device, O_RDWR | O_CLOEXEC);
  if (fd < 0) {
    w->err = errno;
    w->syscall = "open";
  }
  return fd;
}

static void do_snp(struct tee_work *w) {
  int fd = open_device(w);
  if (fd < 0) return;
  struct snp_report_resp *resp = calloc(1, sizeof *resp);
  if (resp == NULL) {
    w->err = ENOMEM;
    w->syscall = "calloc";
    close(fd);
    return;
  }
  uint32_t certs_len = w->op == OP_SNP_EXT_REPORT ? w->initial_certs_len : 0;
  uint8_t *certs = NULL;
  for (;;) {
    struct snp_ext_report_req ext;
    memset(&ext, 0, sizeof ext);
    memcpy(ext.data.user_data, w->report_data, 64);
    ext.data.vmpl = w->vmpl;
    struct snp_guest_request_ioctl io;
    memset(&io, 0, sizeof io);
    io.msg_version = 1;
    io.resp_data = (uint64_t)(uintptr_t)resp;
    io.exitinfo2 = 0;
    memset(resp, 0, sizeof *resp);
    unsigned long cmd;
    if (w->op == OP_SNP_EXT_REPORT) {
      free(certs);
      certs = certs_len > 0 ? calloc(1, certs_len) : NULL;
      if (certs_len > 0 && certs == NULL) {
        w->err = ENOMEM;
        w->syscall = "calloc";
        break;
      }
      ext.certs_address = (uint64_t)(uintptr_t)certs;
      ext.certs_len = certs_len;
      io.req_data = (uint64_t)(uintptr_t)&ext;
      cmd = CT_SNP_GET_EXT_REPORT;
    } else {
      io.req_data = (uint64_t)(uintptr_t)&ext.data;
      cmd = CT_SNP_GET_REPORT;
    }
    w->attempts++;
    int rc = ioctl(fd, cmd, &io);
    int err = rc < 0 ? errno : 0;
    w->exitinfo2 = io.exitinfo2;
    /* Too-small certificate buffer: EIO (or 0 on early-2023 kernels) with vmm_error 1 and the needed
     * length written back into certs_len. Retry with fresh buffers of that size. */
    if (w->op == OP_SNP_EXT_REPORT && (err == EIO || err == 0) && io.vmm_error == SNP_VMM_ERR_INVALID_LEN) {
      if (ext.certs_len > certs_len && w->attempts < SNP_EXT_MAX_ATTEMPTS) {
        certs_len = ext.certs_len;
        continue;
      }
      /* The kernel asked for no more than we offered, or we gave up: report as an I/O error. */
      w->err = err == 0 ? EIO : err;
      w->syscall = "ioctl";
      w->certs_len = ext.certs_len;
      break;
    }
    if (err != 0) {
      w->err = err;
      w->syscall = "ioctl";
      break;
    }
    w->out = (uint8_t *)resp;
    w->out_len = sizeof *resp;
    resp = NULL;
    if (w->op == OP_SNP_EXT_REPORT) {
      w->certs = certs;
      w->certs_len = certs_len;
      certs = NULL;
    }
    break;
  }
  free(certs);
  free(resp);
  close(fd);
}

static void do_tdx(struct tee_work *w) {
  int fd = open_device(w);
  if (fd < 0) return;
  struct tdx_report_req *req = calloc(1, sizeof *req);
  if (req == NULL) {
    w->err = ENOMEM;
    w->syscall = "calloc";
    close(fd);
    return;
  }
  memcpy(req->reportdata, w->report_data, 64);
  w->attempts = 1;
  if (ioctl(fd, CT_TDX_CMD_GET_REPORT0, req) < 0) {
    w->err = errno;
    w->syscall = "ioctl";
  } else {
    w->out = malloc(sizeof req->tdreport);
    if (w->out == NULL) {
      w->err = ENOMEM;
      w->syscall = "malloc";
    } else {
      memcpy(w->out, req->tdreport, sizeof req->tdreport);
      w->out_len = sizeof req->tdreport;
    }
  }
  free(req);
  close(fd);
}

static void execute(napi_env env, void *data) {
  (void)env;
  struct tee_work *w = data;
  if (w->op == OP_TDX_REPORT0) do_tdx(w);
  else do_snp(w);
}

static void free_work(struct tee_work *w) {
  free(w->device);
  free(w->out);
  free(w->certs);
  free(w);
}

static void set_u32(napi_env env, napi_value obj, const char *name, uint32_t v) {
  napi_value n;
  napi_create_uint32(env, v, &n);
  napi_set_named_property(env, obj, name, n);
}

static void set_buffer(napi_env env, napi_value obj, const char *name, const uint8_t *p, size_t len) {
  napi_value b;
  void *dst;
  if (napi_create_buffer_copy(env, len, p, &dst, &b) == napi_ok) napi_set_named_property(env, obj, name, b);
}

/* Resolves with { errno, syscall, fwError, vmmError, attempts, certsLength, response?, certs? }. */
static void complete(napi_env env, napi_status status, void *data) {
  struct tee_work *w = data;
  napi_value result;
  if (status != napi_ok) {
    napi_value msg, error;
    napi_create_string_utf8(env, "tee: async work cancelled", NAPI_AUTO_LENGTH, &msg);
    napi_create_error(env, NULL, msg, &error);
    napi_reject_deferred(env, w->deferred, error);
  } else {
    napi_create_object(env, &result);
    set_u32(env, result, "errno", (uint32_t)w->err);
    napi_value sys;
    napi_create_string_utf8(env, w->syscall == NULL ? "" : w->syscall, NAPI_AUTO_LENGTH, &sys);
    napi_set_named_property(env, result, "syscall", sys);
    set_u32(env, result, "fwError", (uint32_t)(w->exitinfo2 & 0xffffffffu));
    set_u32(env, result, "vmmError", (uint32_t)(w->exitinfo2 >> 32));
    set_u32(env, result, "attempts", w->attempts);
    set_u32(env, result, "certsLength", w->certs_len);
    if (w->out != NULL) set_buffer(env, result, "response", w->out, w->out_len);
    if (w->certs != NULL) set_buffer(env, result, "certs", w->certs, w->certs_len);
    napi_resolve_deferred(env, w->deferred, result);
  }
  napi_delete_async_work(env, w->work);
  free_work(w);
}

static napi_value type_error(napi_env env, const char *msg) {
  return contrast_throw_type(env, "ERR_INVALID_ARG_TYPE", msg);
}

/* Reads (device: string, reportData: 64-byte buffer) into a new work item. */
static struct tee_work *parse_common(napi_env env, napi_value *argv, size_t argc, size_t want) {
  if (argc < want) {
    type_error(env, "tee: too few arguments");
    return NULL;
  }
  size_t len = 0;
  if (napi_get_value_string_utf8(env, argv[0], NULL, 0, &len) != napi_ok) {
    type_error(env, "tee: device must be a string");
    return NULL;
  }
  void *rd = NULL;
  size_t rd_len = 0;
  bool is_buffer = false;
  napi_is_buffer(env, argv[1], &is_buffer);
  if (!is_buffer || napi_get_buffer_info(env, argv[1], &rd, &rd_len) != napi_ok || rd_len != 64) {
    type_error(env, "tee: report data must be a 64-byte Buffer");
    return NULL;
  }
  struct tee_work *w = calloc(1, sizeof *w);
  if (w == NULL) return NULL;
  w->device = malloc(len + 1);
  if (w->device == NULL) {
    free(w);
    return NULL;
  }
  napi_get_value_string_utf8(env, argv[0], w->device, len + 1, &len);
  memcpy(w->report_data, rd, 64);
  return w;
}

static napi_value queue(napi_env env, struct tee_work *w, const char *name) {
  napi_value promise, resource_name;
  if (napi_create_promise(env, &w->deferred, &promise) != napi_ok ||
      napi_create_string_utf8(env, name, NAPI_AUTO_LENGTH, &resource_name) != napi_ok ||
      napi_create_async_work(env, NULL, resource_name, execute, complete, w, &w->work) != napi_ok ||
      napi_queue_async_work(env, w->work) != napi_ok) {
    free_work(w);
    napi_throw_error(env, NULL, "tee: cannot queue async work");
    return NULL;
  }
  return promise;
}

/* snpReport(device, reportData, vmpl, extended, initialCertsLength) -> Promise<raw result> */
static napi_value snp_report(napi_env env, napi_callback_info info) {
  size_t argc = 5;
  napi_value argv[5];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  struct tee_work *w = parse_common(env, argv, argc, 5);
  if (w == NULL) return NULL;
  bool ext = false;
  if (napi_get_value_uint32(env, argv[2], &w->vmpl) != napi_ok || napi_get_value_bool(env, argv[3], &ext) != napi_ok ||
      napi_get_value_uint32(env, argv[4], &w->initial_certs_len) != napi_ok) {
    free_work(w);
    return type_error(env, "tee: snpReport(device, reportData, vmpl: number, extended: boolean, initialCertsLength: number)");
  }
  w->op = ext ? OP_SNP_EXT_REPORT : OP_SNP_REPORT;
  return queue(env, w, ext ? "contrast.snpExtReport" : "contrast.snpReport");
}

/* tdxReport0(device, reportData) -> Promise<raw result> */
static napi_value tdx_report0(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  struct tee_work *w = parse_common(env, argv, argc, 2);
  if (w == NULL) return NULL;
  w->op = OP_TDX_REPORT0;
  return queue(env, w, "contrast.tdxReport0");
}

/* teeAbi() -> the numbers this addon was compiled with, for the ABI tests. */
static napi_value tee_abi(napi_env env, napi_callback_info info) {
  (void)info;
  napi_value o;
  napi_create_object(env, &o);
  set_u32(env, o, "SNP_GET_REPORT", (uint32_t)CT_SNP_GET_REPORT);
  set_u32(env, o, "SNP_GET_EXT_REPORT", (uint32_t)CT_SNP_GET_EXT_REPORT);
  set_u32(env, o, "TDX_CMD_GET_REPORT0", (uint32_t)CT_TDX_CMD_GET_REPORT0);
  set_u32(env, o, "snp_guest_request_ioctl", sizeof(struct snp_guest_request_ioctl));
  set_u32(env, o, "snp_report_req", sizeof(struct snp_report_req));
  set_u32(env, o, "snp_report_resp", sizeof(struct snp_report_resp));
  set_u32(env, o, "snp_ext_report_req", sizeof(struct snp_ext_report_req));
  set_u32(env, o, "tdx_report_req", sizeof(struct tdx_report_req));
  set_u32(env, o, "snp_guest_request_ioctl.exitinfo2", offsetof(struct snp_guest_request_ioctl, exitinfo2));
  set_u32(env, o, "snp_ext_report_req.certs_address", offsetof(struct snp_ext_report_req, certs_address));
  set_u32(env, o, "snp_ext_report_req.certs_len", offsetof(struct snp_ext_report_req, certs_len));
  return o;
}

napi_value contrast_init_tee(napi_env env, napi_value exports) {
  if (!contrast_export(env, exports, "snpReport", snp_report)) return NULL;
  if (!contrast_export(env, exports, "tdxReport0", tdx_report0)) return NULL;
  if (!contrast_export(env, exports, "teeAbi", tee_abi)) return NULL;
  return exports;
}
