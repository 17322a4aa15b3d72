/* Runs one command and reports its wall time and peak RSS, for the boot
 * benchmark. A separate small C launcher rather than Python's own fork:
 * Linux folds the pre-exec memory of the forking process into the child's
 * ru_maxrss, so a fat parent would inflate every RSS figure, and its fork
 * would inflate every time.
 *
 * usage: runone [-o FILE] [-t SECONDS] -- CMD [ARGS...]
 * (the command is killed after SECONDS, default 30)
 * prints: wall_ns=N maxrss_kib=N status=N signal=N  (status -1 if killed) */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static long long now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void redirect_child_io(const char *out)
{
	int in = open("/dev/null", O_RDONLY);
	int fd = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (in < 0 || fd < 0)
		_exit(126);
	dup2(in, 0);
	dup2(fd, 1);
	dup2(fd, 2);
}

int main(int argc, char **argv)
{
	const char *out = "/dev/null";
	unsigned timeout = 30;
	int opt;

	while ((opt = getopt(argc, argv, "+o:t:")) != -1) {
		if (opt == 'o')
			out = optarg;
		else if (opt == 't')
			timeout = (unsigned)atoi(optarg);
		else
			return 2;
	}
	if (optind >= argc) {
		fprintf(stderr, "usage: runone [-o FILE] [-t SECONDS] -- CMD [ARGS...]\n");
		return 2;
	}
	/* SIGCHLD stays blocked so that sigtimedwait can bound the wait: a hung
	 * VMM must not hang the benchmark */
	sigset_t chld;
	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	sigprocmask(SIG_BLOCK, &chld, NULL);
	long long t0 = now_ns();
	pid_t pid = fork();
	if (pid < 0) {
		perror("runone: fork");
		return 2;
	}
	if (pid == 0) {
		sigprocmask(SIG_UNBLOCK, &chld, NULL);
		redirect_child_io(out);
		execvp(argv[optind], argv + optind);
		_exit(127);
	}
	struct timespec limit = { .tv_sec = timeout };
	int got;
	do
		got = sigtimedwait(&chld, NULL, &limit);
	while (got < 0 && errno == EINTR);
	if (got < 0)
		kill(pid, SIGKILL);
	int wstatus;
	struct rusage ru;
	pid_t r;
	while ((r = wait4(pid, &wstatus, 0, &ru)) < 0 && errno == EINTR)
		;
	long long t1 = now_ns();
	if (r < 0) {
		perror("runone: wait4");
		kill(pid, SIGKILL);
		return 2;
	}
	printf("wall_ns=%lld maxrss_kib=%ld status=%d signal=%d\n", t1 - t0, ru.ru_maxrss,
	       WIFEXITED(wstatus) ? WEXITSTATUS(wstatus) : -1,
	       WIFSIGNALED(wstatus) ? WTERMSIG(wstatus) : 0);
	return 0;
}
