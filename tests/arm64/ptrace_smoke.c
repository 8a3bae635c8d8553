/*
 * ptrace_smoke - the kernel interfaces leakattach stands on, checked in the
 * arm64 guest (scripts/arm64-guest run): PTRACE_SEIZE and PTRACE_INTERRUPT
 * of a forked child, its registers through PTRACE_GETREGSET with
 * NT_PRSTATUS (arm64 has no PTRACE_GETREGS), a read of its memory with
 * process_vm_readv, and PTRACE_DETACH. Not a test of leakattach itself: a
 * check that the guest (kernel, emulated CPU, sysroot) can run the suite.
 *
 * With an argument, also checks pointer authentication: "pac" expects
 * PTRACE_GETREGSET NT_ARM_PAC_MASK to give the masks (qemu -cpu
 * max,pauth-impdef=on), "nopac" expects EINVAL (-cpu max,pauth=off).
 *
 * Prints one line per step; exits 0 when every step passed, 1 otherwise.
 */
#define _GNU_SOURCE
#include <elf.h>
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/uio.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef NT_ARM_PAC_MASK
#define NT_ARM_PAC_MASK 0x406 /* <linux/elf.h> */
#endif

/* The layout of NT_ARM_PAC_MASK (arch/arm64/include/uapi/asm/ptrace.h). */
struct pac_mask {
	uint64_t data_mask;
	uint64_t insn_mask;
};

/* What the child holds, at the same address in both processes (fork). */
static volatile char marker[32] = "leakattach arm64 smoke";

static int failures;

static void
step(int ok, const char *what)
{
	printf("%s: %s\n", ok ? "ok" : "FAIL", what);
	if (!ok)
		failures++;
}

int
main(int argc, char **argv)
{
	const char *pac = argc > 1 ? argv[1] : "";
	struct pac_mask mask = {0, 0};
	struct iovec pac_iov = {&mask, sizeof(mask)};
	long res;
	struct user_regs_struct regs;
	struct iovec iov = {&regs, sizeof(regs)};
	struct iovec local, remote;
	char buf[sizeof(marker)];
	int pipefd[2], status;
	pid_t pid;

	if (pipe(pipefd) < 0)
		return 1;
	pid = fork();
	if (pid < 0)
		return 1;
	if (pid == 0) {
		char c;

		close(pipefd[1]);
		/* Blocks until the parent closes its end. */
		while (read(pipefd[0], &c, 1) < 0 && errno == EINTR)
			;
		_exit(marker[0] == 'l' ? 0 : 3);
	}
	close(pipefd[0]);

	step(ptrace(PTRACE_SEIZE, pid, NULL, NULL) == 0, "PTRACE_SEIZE");
	step(ptrace(PTRACE_INTERRUPT, pid, NULL, NULL) == 0,
	     "PTRACE_INTERRUPT");
	step(waitpid(pid, &status, __WALL) == pid && WIFSTOPPED(status) &&
		     (status >> 16) == PTRACE_EVENT_STOP,
	     "group-stop after the interrupt");

	memset(&regs, 0, sizeof(regs));
	step(ptrace(PTRACE_GETREGSET, pid, (void *)NT_PRSTATUS, &iov) == 0,
	     "PTRACE_GETREGSET NT_PRSTATUS");
	printf("  regset %zu bytes, pc 0x%llx, sp 0x%llx\n", iov.iov_len,
	       (unsigned long long)regs.pc, (unsigned long long)regs.sp);
	step(iov.iov_len == sizeof(regs) && regs.pc != 0 && regs.sp != 0,
	     "pc and sp are set");

	errno = 0;
	res = ptrace(PTRACE_GETREGSET, pid, (void *)NT_ARM_PAC_MASK, &pac_iov);
	printf("  NT_ARM_PAC_MASK: %s, data 0x%llx, insn 0x%llx\n",
	       res == 0 ? "read" : strerror(errno),
	       (unsigned long long)mask.data_mask,
	       (unsigned long long)mask.insn_mask);
	if (strcmp(pac, "pac") == 0)
		step(res == 0 && mask.insn_mask != 0,
		     "pointer authentication: the masks are read");
	else if (strcmp(pac, "nopac") == 0)
		step(res < 0 && errno == EINVAL,
		     "no pointer authentication: EINVAL");

	local.iov_base = buf;
	local.iov_len = sizeof(buf);
	remote.iov_base = (void *)marker;
	remote.iov_len = sizeof(buf);
	step(process_vm_readv(pid, &local, 1, &remote, 1, 0) ==
			     (ssize_t)sizeof(buf) &&
		     strcmp(buf, "leakattach arm64 smoke") == 0,
	     "process_vm_readv reads the child's marker");

	step(ptrace(PTRACE_DETACH, pid, NULL, NULL) == 0, "PTRACE_DETACH");
	close(pipefd[1]);
	step(waitpid(pid, &status, 0) == pid && WIFEXITED(status) &&
		     WEXITSTATUS(status) == 0,
	     "the child runs on and exits 0");

	printf("%s\n",
	       failures ? "ptrace_smoke: FAILED" : "ptrace_smoke: passed");
	return failures ? 1 : 0;
}
