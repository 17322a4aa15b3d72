/* Console back ends. The terminal state is process-wide (there is one
 * stdin), so the saved termios lives in a static: console_restore() must
 * work from atexit() and signal handlers, where no console pointer exists. */
#include "dev/console.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <termios.h>
#include <unistd.h>

#include "util/log.h"
#include "util/util.h"

struct console {
	enum console_kind kind;
	int out_fd;
	bool own_out_fd;
	int in_fd;         /* -1: no input */
	bool escapes;      /* decode Ctrl-A escapes (stdin is a TTY) */
	int stop_fd;       /* eventfd: the input thread must exit */
	int space_fd;      /* eventfd: the receiver has room again */
	struct vm_events events;
	struct console_input input;
	pthread_t thread;
	bool running;
	atomic_bool discard;  /* the VM is stopping: a blocked write gives up */
};

static struct termios saved_termios;
static atomic_int termios_raw; /* 1 while stdin is in our raw mode */
static pthread_once_t atexit_once = PTHREAD_ONCE_INIT;

void console_restore(void)
{
	if (atomic_exchange(&termios_raw, 0))
		tcsetattr(STDIN_FILENO, TCSANOW, &saved_termios);
}

static void register_atexit(void)
{
	atexit(console_restore);
}

/* Raw like QEMU's stdio backend: no echo, no line editing, no signals
 * (Ctrl-C goes to the guest), but output post-processing stays on so a
 * bare "\n" still returns the carriage. */
static void enter_raw_mode(void)
{
	struct termios raw;

	if (tcgetattr(STDIN_FILENO, &saved_termios)) {
		log_warn("console: tcgetattr(stdin): %s", strerror(errno));
		return;
	}
	raw = saved_termios;
	cfmakeraw(&raw);
	raw.c_oflag |= OPOST;
	raw.c_cc[VMIN] = 1;
	raw.c_cc[VTIME] = 0;
	pthread_once(&atexit_once, register_atexit);
	atomic_store(&termios_raw, 1);
	if (tcsetattr(STDIN_FILENO, TCSANOW, &raw)) {
		atomic_store(&termios_raw, 0);
		log_warn("console: cannot make stdin raw: %s", strerror(errno));
	}
}

size_t console_escape_filter(struct console_escape *st, const uint8_t *in, size_t len,
			     uint8_t *out, unsigned *actions)
{
	size_t n = 0;

	for (size_t i = 0; i < len && !st->quit; i++) {
		uint8_t ch = in[i];

		if (!st->pending) {
			if (ch == CONSOLE_ESCAPE_CHAR)
				st->pending = true;
			else
				out[n++] = ch;
			continue;
		}
		st->pending = false;
		if (ch == CONSOLE_ESCAPE_CHAR) {
			out[n++] = ch;
		} else if (ch == 'x') {
			*actions |= CONSOLE_ESC_QUIT;
			st->quit = true;
		} else if (ch == 'h' || ch == '?') {
			*actions |= CONSOLE_ESC_HELP;
		}
	}
	return n;
}

/* stop may be NULL; when it becomes true a write interrupted by a signal
 * gives up instead of retrying. */
static void write_all(int fd, const uint8_t *buf, size_t len, const atomic_bool *stop)
{
	while (len && !(stop && atomic_load(stop))) {
		ssize_t r = write(fd, buf, len);

		if (r > 0) {
			buf += r;
			len -= r;
		} else if (r < 0 && errno == EAGAIN) {
			/* Someone made the fd non-blocking: wait rather than drop. */
			struct pollfd p = { .fd = fd, .events = POLLOUT };
			poll(&p, 1, -1);
		} else if (r < 0 && errno != EINTR) {
			log_error("console: write: %s", strerror(errno));
			return;
		}
	}
}

void console_write(struct console *c, const uint8_t *buf, size_t len)
{
	write_all(c->out_fd, buf, len, &c->discard);
}

void console_discard_output(struct console *c)
{
	if (c)
		atomic_store(&c->discard, true);
}

void console_tx_byte(void *console, uint8_t byte)
{
	console_write(console, &byte, 1);
}

static void signal_fd(int fd)
{
	uint64_t one = 1;
	ssize_t r;

	do
		r = write(fd, &one, sizeof(one));
	while (r < 0 && errno == EINTR);
}

static void drain_fd(int fd)
{
	uint64_t val;
	ssize_t r;

	do
		r = read(fd, &val, sizeof(val));
	while (r < 0 && errno == EINTR);
}

void console_input_space(void *console)
{
	struct console *c = console;
	signal_fd(c->space_fd);
}

static void print_help(void)
{
	static const char help[] =
		"\r\nC-a h    print this help\r\n"
		"C-a x    exit alioth\r\n"
		"C-a C-a  send C-a to the guest\r\n";
	write_all(STDERR_FILENO, (const uint8_t *)help, sizeof(help) - 1, NULL);
}

/* Waits until fd is readable (true) or the console is stopped (false). */
static bool wait_readable(struct console *c, int fd)
{
	struct pollfd p[2] = {
		{ .fd = c->stop_fd, .events = POLLIN },
		{ .fd = fd, .events = POLLIN },
	};

	for (;;) {
		int r = poll(p, fd >= 0 ? 2 : 1, -1);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			log_error("console: poll: %s", strerror(errno));
			return false;
		}
		if (p[0].revents)
			return false;
		if (p[1].revents)
			return true; /* POLLHUP/POLLNVAL too: read() will tell */
	}
}

/* Reads one chunk of stdin into buf and returns the bytes meant for the
 * guest (possibly 0: the chunk held only escapes). *end is set at the end
 * of input, and after Ctrl-A x (the bytes before it still count). */
static size_t read_input(struct console *c, struct console_escape *esc, uint8_t *buf,
			 size_t cap, bool *end)
{
	uint8_t raw[256];
	unsigned actions = 0;
	ssize_t r;
	size_t n;

	r = read(c->in_fd, raw, MIN(cap, sizeof(raw)));
	if (r < 0 && (errno == EINTR || errno == EAGAIN))
		return 0;
	if (r < 0)
		log_warn("console: reading stdin: %s", strerror(errno));
	if (r <= 0) {
		*end = true;
		return 0;
	}
	if (!c->escapes) {
		memcpy(buf, raw, r);
		return r;
	}
	n = console_escape_filter(esc, raw, r, buf, &actions);
	if (actions & CONSOLE_ESC_HELP)
		print_help();
	if (actions & CONSOLE_ESC_QUIT) {
		vm_event_request(&c->events, VM_EVENT_QUIT);
		*end = true;
	}
	return n;
}

/* Hands buf to the receiver, waiting for room as often as needed. */
static bool deliver(struct console *c, const uint8_t *buf, size_t len)
{
	while (len) {
		size_t n = c->input.receive(c->input.ctx, buf, len);

		buf += n;
		len -= n;
		if (!len)
			break;
		if (!wait_readable(c, c->space_fd))
			return false;
		drain_fd(c->space_fd);
	}
	return true;
}

static void *input_thread(void *arg)
{
	struct console *c = arg;
	struct console_escape esc = { 0 };
	uint8_t buf[256];
	bool end = false;

	while (!end && wait_readable(c, c->in_fd)) {
		size_t n = read_input(c, &esc, buf, sizeof(buf), &end);

		if (!deliver(c, buf, n))
			return NULL;
	}
	/* End of input is not an error: the guest just gets no more. */
	if (end)
		wait_readable(c, -1);
	return NULL;
}

static int open_log(struct console *c, const struct console_config *cfg)
{
	int flags = O_WRONLY | O_CREAT | O_CLOEXEC | (cfg->append ? O_APPEND : O_TRUNC);

	if (!cfg->path) {
		log_error("console: log needs a path");
		return -EINVAL;
	}
	c->out_fd = open(cfg->path, flags, 0644);
	if (c->out_fd < 0) {
		int err = errno;
		log_error("console: cannot open %s: %s", cfg->path, strerror(err));
		return -err;
	}
	c->own_out_fd = true;
	return 0;
}

static void open_stdio(struct console *c, bool have_stdin)
{
	c->out_fd = STDOUT_FILENO;
	if (!have_stdin)
		return;
	c->in_fd = STDIN_FILENO;
	c->escapes = isatty(STDIN_FILENO);
	if (c->escapes)
		enter_raw_mode();
}

int console_open(const struct console_config *cfg, const struct vm_events *events,
		 struct console **out)
{
	/* Asked before the eventfds exist: a closed fd 0 would be reused. */
	bool have_stdin = fcntl(STDIN_FILENO, F_GETFD) >= 0;
	struct console *c = xcalloc(1, sizeof(*c));
	int err = 0;

	c->kind = cfg->kind;
	c->in_fd = -1;
	if (events)
		c->events = *events;
	c->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	c->space_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (c->stop_fd < 0 || c->space_fd < 0) {
		err = -errno;
		log_error("console: eventfd: %s", strerror(errno));
	} else if (cfg->kind == CONSOLE_LOG) {
		err = open_log(c, cfg);
	} else {
		open_stdio(c, have_stdin);
	}
	if (err) {
		c->own_out_fd = false;
		console_destroy(c);
		return err;
	}
	*out = c;
	return 0;
}

int console_start(struct console *c, const struct console_input *in)
{
	int err;

	if (c->in_fd < 0 || c->running)
		return 0;
	c->input = *in;
	err = pthread_create(&c->thread, NULL, input_thread, c);
	if (err) {
		log_error("console: cannot start the input thread: %s", strerror(err));
		return -err;
	}
	pthread_setname_np(c->thread, "console");
	c->running = true;
	return 0;
}

void console_stop(struct console *c)
{
	if (!c || !c->running)
		return;
	signal_fd(c->stop_fd);
	pthread_join(c->thread, NULL);
	c->running = false;
}

void console_destroy(struct console *c)
{
	if (!c)
		return;
	console_stop(c);
	if (c->kind == CONSOLE_STDIO)
		console_restore();
	if (c->own_out_fd)
		close(c->out_fd);
	if (c->stop_fd >= 0)
		close(c->stop_fd);
	if (c->space_fd >= 0)
		close(c->space_fd);
	free(c);
}
