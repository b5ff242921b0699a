/*
 * x86_64 Linux: the system call numbers, the raw system call and the process entry point that
 * sleep.c needs. The only architecture-specific code of our sleep; another architecture gets its
 * own arch-<machine>.h with the same names (numbers differ on aarch64: asm-generic/unistd.h).
 */
#ifndef CONTRAST_SLEEP_ARCH_H
#define CONTRAST_SLEEP_ARCH_H

#define SYS_writev 20
#define SYS_rt_sigprocmask 14
#define SYS_rt_sigtimedwait 128
#define SYS_clock_gettime 228
#define SYS_exit_group 231

static inline long raw_syscall4(long n, long a, long b, long c, long d) {
  long ret;
  register long r10 __asm__("r10") = d;
  __asm__ volatile("syscall" : "=a"(ret) : "a"(n), "D"(a), "S"(b), "d"(c), "r"(r10) : "rcx", "r11", "memory");
  return ret;
}

/*
 * The kernel starts a static executable at _start with argc at (%rsp), argv after it. Hand the
 * stack pointer to start_c with the stack aligned as the ABI wants for a call.
 */
__asm__(".text\n"
        ".global _start\n"
        ".type _start, @function\n"
        "_start:\n"
        "  xor %ebp, %ebp\n"
        "  mov %rsp, %rdi\n"
        "  and $-16, %rsp\n"
        "  call start_c\n"
        "  hlt\n");

#endif
