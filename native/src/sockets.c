/*
 * sockets: transparent listening sockets (IP_TRANSPARENT / IPV6_TRANSPARENT) and the original
 * destination of an accepted connection (SO_ORIGINAL_DST / IP6T_SO_ORIGINAL_DST).
 *
 * Both calls are plain, non-blocking system calls and run on the calling thread.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <linux/netfilter_ipv4.h>      /* SO_ORIGINAL_DST */
#include <linux/netfilter_ipv6/ip6_tables.h> /* IP6T_SO_ORIGINAL_DST */
#include "addon.h"
#include "napi-util.h"

#ifndef IP_TRANSPARENT
#define IP_TRANSPARENT 19
#endif
#ifndef IPV6_TRANSPARENT
#define IPV6_TRANSPARENT 75
#endif

static napi_value throw_type(napi_env env, const char *msg) {
  return contrast_throw_type(env, "ERR_INVALID_ARG_VALUE", msg);
}

/*
 * transparentListen(family: 4 | 6, address: string, port: number, backlog: number, mark?: number): number (fd)
 * A non-zero mark is set as SO_MARK: accepted sockets inherit it, and so do their SYN-ACKs, resets and
 * TIME_WAIT acknowledgements, which lets netfilter rules tell the proxy's packets from the app's.
 */
static napi_value transparent_listen(napi_env env, napi_callback_info info) {
  size_t argc = 5;
  napi_value argv[5];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || (argc != 4 && argc != 5)) return throw_type(env, "transparentListen(family, address, port, backlog, mark?)");
  int32_t family, port, backlog;
  uint32_t mark = 0;
  if (argc == 5 && napi_get_value_uint32(env, argv[4], &mark) != napi_ok) return throw_type(env, "mark must be a 32-bit unsigned integer");
  char addr[INET6_ADDRSTRLEN + 1];
  size_t len;
  if (!contrast_get_int32(env, argv[0], &family) || (family != 4 && family != 6)) return throw_type(env, "family must be 4 or 6");
  if (napi_get_value_string_utf8(env, argv[1], addr, sizeof addr, &len) != napi_ok || len >= sizeof addr - 1) return throw_type(env, "address must be an IP address string");
  if (!contrast_get_int32(env, argv[2], &port) || port < 0 || port > 65535) return throw_type(env, "port must be 0..65535");
  if (!contrast_get_int32(env, argv[3], &backlog) || backlog < 1) return throw_type(env, "backlog must be positive");

  struct sockaddr_storage ss;
  socklen_t sslen;
  memset(&ss, 0, sizeof ss);
  if (family == 4) {
    struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
    sin->sin_family = AF_INET;
    sin->sin_port = htons((uint16_t)port);
    if (inet_pton(AF_INET, addr, &sin->sin_addr) != 1) return throw_type(env, "address is not an IPv4 address");
    sslen = sizeof *sin;
  } else {
    struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
    sin6->sin6_family = AF_INET6;
    sin6->sin6_port = htons((uint16_t)port);
    if (inet_pton(AF_INET6, addr, &sin6->sin6_addr) != 1) return throw_type(env, "address is not an IPv6 address");
    sslen = sizeof *sin6;
  }

  int fd = socket(family == 4 ? AF_INET : AF_INET6, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return contrast_throw_errno(env, "socket", errno);
  int one = 1;
  const char *step = NULL;
  if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0) step = "setsockopt(SO_REUSEADDR)";
  else if (family == 4 && setsockopt(fd, SOL_IP, IP_TRANSPARENT, &one, sizeof one) != 0) step = "setsockopt(IP_TRANSPARENT)";
  else if (family == 6 && setsockopt(fd, SOL_IPV6, IPV6_V6ONLY, &one, sizeof one) != 0) step = "setsockopt(IPV6_V6ONLY)";
  else if (family == 6 && setsockopt(fd, SOL_IPV6, IPV6_TRANSPARENT, &one, sizeof one) != 0) step = "setsockopt(IPV6_TRANSPARENT)";
  else if (mark != 0 && setsockopt(fd, SOL_SOCKET, SO_MARK, &mark, sizeof mark) != 0) step = "setsockopt(SO_MARK)";
  else if (bind(fd, (struct sockaddr *)&ss, sslen) != 0) step = "bind";
  else if (listen(fd, backlog) != 0) step = "listen";
  if (step != NULL) {
    int err = errno;
    close(fd);
    return contrast_throw_errno(env, step, err);
  }
  napi_value result;
  napi_create_int32(env, fd, &result);
  return result;
}

/* originalDestination(fd: number): { family: 4 | 6, address: string, port: number } */
static napi_value original_destination(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  int32_t fd;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc != 1 || !contrast_get_int32(env, argv[0], &fd) || fd < 0) {
    return throw_type(env, "originalDestination(fd) needs a non-negative file descriptor");
  }
  struct sockaddr_storage local;
  socklen_t llen = sizeof local;
  if (getsockname(fd, (struct sockaddr *)&local, &llen) != 0) return contrast_throw_errno(env, "getsockname", errno);

  struct sockaddr_storage dst;
  socklen_t dlen = sizeof dst;
  memset(&dst, 0, sizeof dst);
  char text[INET6_ADDRSTRLEN];
  int family, port;
  if (local.ss_family == AF_INET) {
    dlen = sizeof(struct sockaddr_in);
    if (getsockopt(fd, SOL_IP, SO_ORIGINAL_DST, &dst, &dlen) != 0) return contrast_throw_errno(env, "getsockopt(SO_ORIGINAL_DST)", errno);
    struct sockaddr_in *sin = (struct sockaddr_in *)&dst;
    inet_ntop(AF_INET, &sin->sin_addr, text, sizeof text);
    family = 4;
    port = ntohs(sin->sin_port);
  } else if (local.ss_family == AF_INET6) {
    dlen = sizeof(struct sockaddr_in6);
    if (getsockopt(fd, SOL_IPV6, IP6T_SO_ORIGINAL_DST, &dst, &dlen) != 0) return contrast_throw_errno(env, "getsockopt(IP6T_SO_ORIGINAL_DST)", errno);
    struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&dst;
    inet_ntop(AF_INET6, &sin6->sin6_addr, text, sizeof text);
    family = 6;
    port = ntohs(sin6->sin6_port);
  } else {
    return contrast_throw_errno(env, "originalDestination", EAFNOSUPPORT);
  }
  napi_value obj, vfamily, vaddr, vport;
  napi_create_object(env, &obj);
  napi_create_int32(env, family, &vfamily);
  napi_create_string_utf8(env, text, NAPI_AUTO_LENGTH, &vaddr);
  napi_create_int32(env, port, &vport);
  napi_set_named_property(env, obj, "family", vfamily);
  napi_set_named_property(env, obj, "address", vaddr);
  napi_set_named_property(env, obj, "port", vport);
  return obj;
}

/* Exposed for tests: the option values compiled in, checked against the uapi headers. */
static napi_value socket_constants(napi_env env, napi_callback_info info) {
  (void)info;
  napi_value obj, v;
  napi_create_object(env, &obj);
  napi_create_int32(env, IP_TRANSPARENT, &v);
  napi_set_named_property(env, obj, "IP_TRANSPARENT", v);
  napi_create_int32(env, IPV6_TRANSPARENT, &v);
  napi_set_named_property(env, obj, "IPV6_TRANSPARENT", v);
  napi_create_int32(env, SO_ORIGINAL_DST, &v);
  napi_set_named_property(env, obj, "SO_ORIGINAL_DST", v);
  napi_create_int32(env, IP6T_SO_ORIGINAL_DST, &v);
  napi_set_named_property(env, obj, "IP6T_SO_ORIGINAL_DST", v);
  return obj;
}

napi_value contrast_init_sockets(napi_env env, napi_value exports) {
  if (!contrast_export(env, exports, "transparentListen", transparent_listen)) return NULL;
  if (!contrast_export(env, exports, "originalDestination", original_destination)) return NULL;
  if (!contrast_export(env, exports, "socketConstants", socket_constants)) return NULL;
  return exports;
}
