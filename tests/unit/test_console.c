/* Console: escape decoding, the log back end, and the stdio back end with
 * stdin redirected (pipe, /dev/null) feeding a receiver with little room. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "dev/console.h"
#include "util/util.h"

static size_t filter(struct console_escape *st, const char *in, size_t len, uint8_t *out,
		     unsigned *actions)
{
	return console_escape_filter(st, (const uint8_t *)in, len, out, actions);
}

static void test_escape_plain_and_doubled(void **state)
{
	(void)state;
	struct console_escape st = { 0 };
	uint8_t out[16];
	unsigned actions = 0;
	size_t n = filter(&st, "ab\x01\x01" "c", 5, out, &actions);
	assert_int_equal(n, 4);
	assert_memory_equal(out, "ab\x01" "c", 4);
	assert_int_equal(actions, 0);
	/* Unknown escapes are swallowed, both bytes. */
	n = filter(&st, "\x01zq", 3, out, &actions);
	assert_int_equal(n, 1);
	assert_int_equal(out[0], 'q');
	assert_int_equal(actions, 0);
}

static void test_escape_quit_and_help(void **state)
{
	(void)state;
	struct console_escape st = { 0 };
	uint8_t out[16];
	unsigned actions = 0;
	size_t n = filter(&st, "a\x01hb\x01xcd", 8, out, &actions);
	assert_int_equal(n, 2);
	assert_memory_equal(out, "ab", 2);
	assert_int_equal(actions, CONSOLE_ESC_QUIT | CONSOLE_ESC_HELP);
	/* Nothing passes after a quit. */
	n = filter(&st, "ef", 2, out, &actions);
	assert_int_equal(n, 0);
}

static void test_escape_split_across_reads(void **state)
{
	(void)state;
	struct console_escape st = { 0 };
	uint8_t out[16];
	unsigned actions = 0;
	assert_int_equal(filter(&st, "a\x01", 2, out, &actions), 1);
	assert_true(st.pending);
	assert_int_equal(filter(&st, "\x01", 1, out, &actions), 1);
	assert_int_equal(out[0], 0x01);
	assert_int_equal(actions, 0);
	assert_int_equal(filter(&st, "\x01", 1, out, &actions), 0);
	assert_int_equal(filter(&st, "x", 1, out, &actions), 0);
	assert_int_equal(actions, CONSOLE_ESC_QUIT);
}

static char *read_whole(const char *path)
{
	static char buf[256];
	FILE *f = fopen(path, "r");
	assert_non_null(f);
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = 0;
	fclose(f);
	return buf;
}

static void log_once(const char *path, bool append, const char *text)
{
	struct console_config cfg = { .kind = CONSOLE_LOG, .path = (char *)path, .append = append };
	struct console *c = NULL;
	assert_int_equal(console_open(&cfg, NULL, &c), 0);
	struct console_input none = { 0 };
	assert_int_equal(console_start(c, &none), 0); /* no input thread for log */
	console_write(c, (const uint8_t *)text, strlen(text) - 1);
	console_tx_byte(c, text[strlen(text) - 1]);
	console_destroy(c);
}

static void test_log_truncate_and_append(void **state)
{
	(void)state;
	char path[] = "/tmp/alioth-console-XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "old contents\n", 13), 13);
	close(fd);

	log_once(path, false, "first\n");
	assert_string_equal(read_whole(path), "first\n");
	log_once(path, true, "second\n");
	assert_string_equal(read_whole(path), "first\nsecond\n");
	log_once(path, false, "third\n");
	assert_string_equal(read_whole(path), "third\n");
	unlink(path);
}

static void test_log_bad_path(void **state)
{
	(void)state;
	struct console_config cfg = { .kind = CONSOLE_LOG, .path = "/nonexistent-dir/x" };
	struct console *c = NULL;
	assert_true(console_open(&cfg, NULL, &c) < 0);
}

/* A receiver with room for only a few bytes, drained by the test thread. */
struct slow_rx {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	uint8_t got[4096];
	size_t nr_got, held, room;
	unsigned short_counts;
};

static size_t slow_receive(void *ctx, const uint8_t *buf, size_t len)
{
	struct slow_rx *r = ctx;
	pthread_mutex_lock(&r->lock);
	size_t n = MIN(len, r->room - r->held);
	memcpy(r->got + r->nr_got, buf, n);
	r->nr_got += n;
	r->held += n;
	if (n < len)
		r->short_counts++;
	pthread_cond_broadcast(&r->cond);
	pthread_mutex_unlock(&r->lock);
	return n;
}

static void quit_recorder(void *ctx, enum vm_event ev)
{
	__atomic_fetch_add((int *)ctx, 1, __ATOMIC_SEQ_CST);
	assert_int_equal(ev, VM_EVENT_QUIT);
}

/* Runs the stdio console with fd 0 = in_fd and fd 1 redirected to a pipe,
 * drains everything into r, and returns what the guest "printed". */
static struct console *start_stdio(int in_fd, struct slow_rx *r, int *quits, int *saved)
{
	saved[0] = dup(0);
	saved[1] = dup(1);
	assert_true(dup2(in_fd, 0) == 0);
	close(in_fd);
	pthread_mutex_init(&r->lock, NULL);
	pthread_cond_init(&r->cond, NULL);
	struct console_config cfg = { .kind = CONSOLE_STDIO };
	struct vm_events ev = { .request = quit_recorder, .ctx = quits };
	struct console *c = NULL;
	assert_int_equal(console_open(&cfg, &ev, &c), 0);
	struct console_input in = { .receive = slow_receive, .ctx = r };
	assert_int_equal(console_start(c, &in), 0);
	return c;
}

static void restore_stdio(int *saved)
{
	dup2(saved[0], 0);
	dup2(saved[1], 1);
	close(saved[0]);
	close(saved[1]);
}

/* The guest side: consume what arrived and signal room, like RBR reads. */
static void drain_until(struct console *c, struct slow_rx *r, size_t total)
{
	pthread_mutex_lock(&r->lock);
	while (r->nr_got < total) {
		while (r->held < r->room && r->nr_got < total)
			pthread_cond_wait(&r->cond, &r->lock);
		r->held = 0;
		pthread_mutex_unlock(&r->lock);
		console_input_space(c);
		pthread_mutex_lock(&r->lock);
	}
	pthread_mutex_unlock(&r->lock);
}

static void test_stdio_pipe_back_pressure(void **state)
{
	(void)state;
	int p[2], saved[2], quits = 0;
	struct slow_rx r = { .room = 5 };
	uint8_t data[1000];
	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = i * 7; /* includes 0x01 followed by 'x' nowhere special */
	data[10] = 0x01;
	data[11] = 'x';
	assert_int_equal(pipe(p), 0);

	struct console *c = start_stdio(p[0], &r, &quits, saved);
	assert_int_equal(write(p[1], data, sizeof(data)), sizeof(data));
	close(p[1]); /* EOF after the data: must not be an error */
	drain_until(c, &r, sizeof(data));
	console_destroy(c);
	restore_stdio(saved);

	assert_int_equal(r.nr_got, sizeof(data));
	assert_memory_equal(r.got, data, sizeof(data)); /* piped bytes are untouched */
	assert_int_equal(quits, 0);                      /* no escapes off a TTY */
	assert_true(r.short_counts > 0);                 /* back-pressure happened */
}

static void test_stdio_dev_null_and_output(void **state)
{
	(void)state;
	int saved[2], quits = 0, out[2];
	struct slow_rx r = { .room = 5 };
	int fd = open("/dev/null", O_RDONLY);
	assert_true(fd >= 0);
	assert_int_equal(pipe(out), 0);

	struct console *c = start_stdio(fd, &r, &quits, saved);
	dup2(out[1], 1);
	close(out[1]);
	console_write(c, (const uint8_t *)"hello", 5);
	console_tx_byte(c, '!');
	console_destroy(c); /* the input thread saw EOF and still stops */
	restore_stdio(saved);

	char buf[16] = { 0 };
	assert_int_equal(read(out[0], buf, sizeof(buf)), 6);
	assert_string_equal(buf, "hello!");
	close(out[0]);
	assert_int_equal(r.nr_got, 0);
}

static int open_pty(int *slave)
{
	int master = posix_openpt(O_RDWR | O_NOCTTY);
	assert_true(master >= 0);
	assert_int_equal(grantpt(master), 0);
	assert_int_equal(unlockpt(master), 0);
	*slave = open(ptsname(master), O_RDWR | O_NOCTTY);
	assert_true(*slave >= 0);
	return master;
}

/* stdin a TTY: raw while running, escapes decoded, restored (twice is fine). */
static void test_stdio_tty_raw_escapes_restore(void **state)
{
	(void)state;
	int slave, saved[2], quits = 0;
	struct slow_rx r = { .room = 64 };
	int master = open_pty(&slave);
	struct termios before, during, after;
	assert_int_equal(tcgetattr(slave, &before), 0);
	assert_true(before.c_lflag & ICANON);
	int tty = dup(slave);

	struct console *c = start_stdio(slave, &r, &quits, saved);
	assert_int_equal(tcgetattr(tty, &during), 0);
	assert_false(during.c_lflag & (ICANON | ECHO | ISIG));
	assert_true(during.c_oflag & OPOST);

	/* One chunk: the bytes before the quit must still reach the guest. */
	assert_int_equal(write(master, "a\x01\x01" "b\x01x", 6), 6);
	pthread_mutex_lock(&r.lock);
	while (r.nr_got < 3)
		pthread_cond_wait(&r.cond, &r.lock);
	pthread_mutex_unlock(&r.lock);
	for (int i = 0; i < 500 && !__atomic_load_n(&quits, __ATOMIC_SEQ_CST); i++)
		usleep(1000);
	console_destroy(c);
	restore_stdio(saved);

	assert_int_equal(r.nr_got, 3);
	assert_memory_equal(r.got, "a\x01" "b", 3);
	assert_int_equal(quits, 1);
	assert_int_equal(tcgetattr(tty, &after), 0);
	assert_int_equal(after.c_lflag, before.c_lflag);
	assert_int_equal(after.c_iflag, before.c_iflag);
	assert_int_equal(after.c_oflag, before.c_oflag);
	/* Restoring again must not re-apply a stale state over a new one. */
	struct termios changed = after;
	changed.c_lflag &= ~ECHO;
	assert_int_equal(tcsetattr(tty, TCSANOW, &changed), 0);
	console_restore();
	assert_int_equal(tcgetattr(tty, &after), 0);
	assert_false(after.c_lflag & ECHO);
	close(tty);
	close(master);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_escape_plain_and_doubled),
		cmocka_unit_test(test_escape_quit_and_help),
		cmocka_unit_test(test_escape_split_across_reads),
		cmocka_unit_test(test_log_truncate_and_append),
		cmocka_unit_test(test_log_bad_path),
		cmocka_unit_test(test_stdio_pipe_back_pressure),
		cmocka_unit_test(test_stdio_dev_null_and_output),
		cmocka_unit_test(test_stdio_tty_raw_escapes_restore),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
