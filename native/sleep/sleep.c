/*
 * sleep for the images (images/targets.ts): waits for the sum of its arguments, or for ever, and
 * ends with exit status 0 on SIGTERM, SIGINT or SIGHUP, also as the PID 1 of a container.
 *
 * Why our own: upstream's pod specs run `/bin/sh -c "sleep inf"` (the image-store holder); the shell
 * execs sleep, so sleep is the container's PID 1, and the kernel delivers no signal with a default
 * action to a PID namespace's init. A sleep without a handler (GNU's, busybox's) therefore ignores
 * the kubelet's SIGTERM and lives until the SIGKILL after the grace period. This one blocks the
 * three signals and waits for them with rt_sigtimedwait: a blocked signal is queued for PID 1 like
 * for any process, so the wait returns.
 *
 * Arguments as GNU and busybox sleep take them: NUMBER[SUFFIX]..., summed; NUMBER is decimal with an
 * optional fraction (0.2, .5, 3.), SUFFIX s (default), m, h or d; `inf` or `infinity` (any case)
 * waits until a signal. A total above 2^40 s (34 000 years) counts as infinity. `--` ends options,
 * `--help` prints the usage. A bad argument: a message naming it, the usage hint, exit status 1.
 *
 * No libc: raw system calls (arch-<machine>.h), built -ffreestanding -nostdlib -static by the
 * Makefile beside this file into a binary of about 1 KiB with the same bytes on every build.
 */
#if defined(__x86_64__)
#include "arch-x86_64.h"
#else
#error "native/sleep: no arch header for this machine (add arch-<machine>.h)"
#endif

typedef unsigned long u64;

#define EINTR 4
#define EAGAIN 11
#define SIG_BLOCK 0
#define CLOCK_MONOTONIC 1
#define SIGHUP 1
#define SIGINT 2
#define SIGTERM 15
#define NSEC 1000000000UL
#define MAX_SEC (1UL << 40)

struct timespec_k {
  long tv_sec;
  long tv_nsec;
};

struct iovec_k {
  const char *base;
  u64 len;
};

/* A duration; sec == MAX_SEC means infinity. */
struct duration {
  u64 sec;
  u64 nsec;
};

static u64 length(const char *s) {
  u64 n = 0;
  while (s[n] != '\0') n++;
  return n;
}

/* Writes up to 6 strings as one writev (a NULL ends the list early). */
static void say(int fd, const char *a, const char *b, const char *c, const char *d, const char *e, const char *f) {
  const char *parts[6] = {a, b, c, d, e, f};
  struct iovec_k iov[6];
  int n = 0;
  for (int i = 0; i < 6 && parts[i] != 0; i++) {
    iov[n].base = parts[i];
    iov[n].len = length(parts[i]);
    n++;
  }
  raw_syscall4(SYS_writev, fd, (long)iov, n, 0);
}

__attribute__((noreturn)) static void exit_group(int status) {
  for (;;) raw_syscall4(SYS_exit_group, status, 0, 0, 0);
}

static const char USAGE[] =
    "Usage: sleep NUMBER[SUFFIX]...\n"
    "Pause for the sum of the NUMBERs: seconds, or with SUFFIX s (seconds), m (minutes), h (hours), d (days).\n"
    "NUMBER may have a fraction (0.2); inf or infinity waits until a signal.\n"
    "SIGTERM, SIGINT and SIGHUP end it with exit status 0, also as a container's PID 1.\n";

static const char HINT[] = "Try 'sleep --help' for more information.\n";

static char lower(char c) {
  return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

static int equal(const char *a, const char *b) {
  while (*a != '\0' && *a == *b) a++, b++;
  return *a == *b;
}

/* Whether s starts with word (ASCII, any case); *rest is what follows it. */
static int starts_with_word(const char *s, const char *word, const char **rest) {
  u64 i = 0;
  for (; word[i] != '\0'; i++)
    if (lower(s[i]) != word[i]) return 0;
  *rest = s + i;
  return 1;
}

/* NUMBER[SUFFIX] or inf[inity][SUFFIX] into *out; 0 when valid. */
static int parse_interval(const char *s, struct duration *out) {
  if (*s == '+') s++;
  const char *p;
  if (starts_with_word(s, "infinity", &p) || starts_with_word(s, "inf", &p)) {
    out->sec = MAX_SEC;
    out->nsec = 0;
  } else {
    u64 sec = 0, nsec = 0, scale = NSEC / 10;
    int digits = 0;
    for (p = s; *p >= '0' && *p <= '9'; p++, digits++) sec = sec >= MAX_SEC ? MAX_SEC : sec * 10 + (u64)(*p - '0');
    if (*p == '.') {
      for (p++; *p >= '0' && *p <= '9'; p++, digits++) {
        if (scale > 0) nsec += (u64)(*p - '0') * scale;
        else if (*p != '0' && nsec < NSEC - 1) nsec++; /* beyond nanoseconds: round up, as GNU does */
        scale /= 10;
      }
    }
    if (digits == 0) return -1;
    out->sec = sec;
    out->nsec = nsec;
  }
  u64 factor = 1;
  switch (*p) {
  case '\0': break;
  case 's': factor = 1; p++; break;
  case 'm': factor = 60; p++; break;
  case 'h': factor = 3600; p++; break;
  case 'd': factor = 86400; p++; break;
  default: return -1;
  }
  if (*p != '\0') return -1;
  if (out->sec >= MAX_SEC / factor) {
    out->sec = MAX_SEC;
    out->nsec = 0;
    return 0;
  }
  u64 ns = out->nsec * factor; /* < 1e9 * 86400: no overflow */
  out->sec = out->sec * factor + ns / NSEC;
  out->nsec = ns % NSEC;
  return 0;
}

static void add(struct duration *sum, const struct duration *d) {
  if (sum->sec >= MAX_SEC || d->sec >= MAX_SEC || sum->sec + d->sec >= MAX_SEC) {
    sum->sec = MAX_SEC;
    sum->nsec = 0;
    return;
  }
  sum->sec += d->sec;
  sum->nsec += d->nsec;
  if (sum->nsec >= NSEC) {
    sum->nsec -= NSEC;
    sum->sec++;
  }
}

static struct timespec_k now(void) {
  struct timespec_k t = {0, 0};
  raw_syscall4(SYS_clock_gettime, CLOCK_MONOTONIC, (long)&t, 0, 0);
  return t;
}

/* Waits for one of the blocked signals in *set, at most until deadline (NULL: for ever). */
static int wait_for_signal(const u64 *set, const struct timespec_k *deadline) {
  for (;;) {
    struct timespec_k left, *timeout = 0;
    if (deadline != 0) {
      struct timespec_k t = now();
      left.tv_sec = deadline->tv_sec - t.tv_sec;
      left.tv_nsec = deadline->tv_nsec - t.tv_nsec;
      if (left.tv_nsec < 0) {
        left.tv_nsec += (long)NSEC;
        left.tv_sec--;
      }
      if (left.tv_sec < 0) return 0;
      timeout = &left;
    }
    long r = raw_syscall4(SYS_rt_sigtimedwait, (long)set, 0, (long)timeout, sizeof *set);
    if (r > 0 || r == -EAGAIN) return 0;
    /* -EINTR: stopped and continued, or a signal outside the set with a handler (none): wait on. */
    if (r != -EINTR) return -1;
  }
}

__attribute__((noreturn, used)) void start_c(long *sp) {
  int argc = (int)sp[0];
  char **argv = (char **)(sp + 1);
  struct duration total = {0, 0};
  int operands = 0, bad = 0, options = 1;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (options && equal(a, "--")) {
      options = 0;
      continue;
    }
    if (options && equal(a, "--help")) {
      say(1, USAGE, 0, 0, 0, 0, 0);
      exit_group(0);
    }
    struct duration d;
    operands++;
    if (parse_interval(a, &d) != 0) {
      say(2, "sleep: invalid time interval '", a,
          "': expected NUMBER[SUFFIX] with SUFFIX s, m, h or d (5, 0.2, 1.5m, 2h), or inf\n", 0, 0, 0);
      bad = 1;
      continue;
    }
    add(&total, &d);
  }
  if (operands == 0) {
    say(2, "sleep: missing operand: expected NUMBER[SUFFIX]... or inf\n", HINT, 0, 0, 0, 0);
    exit_group(1);
  }
  if (bad) {
    say(2, HINT, 0, 0, 0, 0, 0);
    exit_group(1);
  }
  /* Blocked, the three signals stay pending until rt_sigtimedwait takes them, even for PID 1. */
  u64 set = (1UL << (SIGTERM - 1)) | (1UL << (SIGINT - 1)) | (1UL << (SIGHUP - 1));
  raw_syscall4(SYS_rt_sigprocmask, SIG_BLOCK, (long)&set, 0, sizeof set);
  int r;
  if (total.sec >= MAX_SEC) {
    r = wait_for_signal(&set, 0);
  } else {
    struct timespec_k deadline = now();
    deadline.tv_sec += (long)total.sec;
    deadline.tv_nsec += (long)total.nsec;
    if (deadline.tv_nsec >= (long)NSEC) {
      deadline.tv_nsec -= (long)NSEC;
      deadline.tv_sec++;
    }
    r = wait_for_signal(&set, &deadline);
  }
  if (r != 0) {
    say(2, "sleep: rt_sigtimedwait failed\n", 0, 0, 0, 0, 0);
    exit_group(1);
  }
  exit_group(0);
}
