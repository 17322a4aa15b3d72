/* Logging (src/util/log.c): spec words, level filtering, the file sink and
 * its line format, and how the command line picks the level
 * (--log-spec, then $ALIOTH_LOG, then $RUST_LOG, then warn). */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "cli/cli.h"
#include "util/exit_status.h"
#include "util/log.h"
#include "util/util.h"

static void test_parse_spec(void **state)
{
	static const struct {
		const char *spec;
		enum log_level level;
	} good[] = {
		{ "error", LOG_ERROR }, { "warn", LOG_WARN }, { "info", LOG_INFO },
		{ "debug", LOG_DEBUG }, { "trace", LOG_TRACE }, { "off", LOG_OFF },
		{ "DEBUG", LOG_DEBUG }, { " info ", LOG_INFO }, { "Off", LOG_OFF },
	};
	static const char *const bad[] = { "", "warning", "verbose", "info,x=debug", "3", "of" };
	enum log_level level;

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(good); i++) {
		level = LOG_TRACE + 1;
		assert_true(log_parse_spec(good[i].spec, &level));
		assert_int_equal(level, good[i].level);
	}
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		level = LOG_INFO;
		assert_false(log_parse_spec(bad[i], &level));
		assert_int_equal(level, LOG_INFO); /* untouched */
	}
	assert_false(log_parse_spec(NULL, &level));
}

static void test_levels(void **state)
{
	(void)state;
	assert_int_equal(log_init(LOG_WARN, NULL, NULL), 0);
	assert_true(log_enabled(LOG_ERROR));
	assert_true(log_enabled(LOG_WARN));
	assert_false(log_enabled(LOG_INFO));
	assert_int_equal(log_init(LOG_TRACE, NULL, NULL), 0);
	assert_true(log_enabled(LOG_TRACE));
	assert_int_equal(log_init(LOG_OFF, NULL, NULL), 0);
	assert_false(log_enabled(LOG_ERROR));
	assert_false(log_enabled(LOG_OFF));
}

static char dir[] = "/tmp/alioth-test-log-XXXXXX";

static char *read_text(const char *path)
{
	uint8_t *data;
	size_t len;
	char *s;

	assert_int_equal(read_file(path, &data, &len), 0);
	s = xmalloc(len + 1);
	memcpy(s, data, len);
	s[len] = '\0';
	free(data);
	return s;
}

static void test_file_sink(void **state)
{
	char path[256];
	char *text, *line2;

	(void)state;
	assert_non_null(mkdtemp(dir));
	assert_int_equal(log_init(LOG_INFO, dir, "vm.log"), 0);
	log_warn("disk %s is %d%% full", "a", 90);
	log_debug("not shown");
	log_info("ends with a newline\n");
	log_error("x");
	assert_int_equal(log_init(LOG_WARN, NULL, NULL), 0); /* closes the file */

	snprintf(path, sizeof(path), "%s/vm.log", dir);
	text = read_text(path);
	/* "YYYY-MM-DD HH:MM:SS.uuuuuu [LEVEL] message" */
	assert_int_equal(strlen(text), 3 * 27 + strlen("[WARN] disk a is 90% full\n") +
			 strlen("[INFO] ends with a newline\n") + strlen("[ERROR] x\n"));
	assert_true(text[4] == '-' && text[7] == '-' && text[10] == ' ' && text[13] == ':' &&
		    text[19] == '.' && text[26] == ' ');
	assert_memory_equal(text + 27, "[WARN] disk a is 90% full\n", 26);
	line2 = strchr(text, '\n') + 1;
	assert_memory_equal(line2 + 27, "[INFO] ends with a newline\n", 27);
	assert_null(strstr(text, "not shown"));
	free(text);
	unlink(path);
}

static void test_file_sink_errors_and_default_name(void **state)
{
	char path[256];

	(void)state;
	/* a regular file where the directory should be */
	snprintf(path, sizeof(path), "%s/plain", dir);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fclose(f);
	assert_int_equal(log_init(LOG_INFO, path, "x.log"), -1);
	unlink(path);

	/* without --log-file the name is chosen inside the directory */
	assert_int_equal(log_init(LOG_INFO, dir, NULL), 0);
	log_info("hello");
	assert_int_equal(log_init(LOG_WARN, NULL, NULL), 0);
	snprintf(path, sizeof(path), "%s/alioth_%ld.log", dir, (long)getpid());
	char *text = read_text(path);
	assert_non_null(strstr(text, "[INFO] hello\n"));
	free(text);
	unlink(path);
	rmdir(dir);
}

static char *err_text;

static int cli(int argc, char **argv)
{
	size_t len;
	FILE *out = fopen("/dev/null", "w");
	FILE *err;
	int ret;

	free(err_text);
	err = open_memstream(&err_text, &len);
	ret = cli_main(argc, argv, out, err, NULL);
	fclose(out);
	fclose(err);
	return ret;
}

#define CLI(...)                                                               \
	({                                                                     \
		char *argv_[] = { "alioth", __VA_ARGS__ };                     \
		cli((int)(sizeof(argv_) / sizeof(argv_[0])), argv_);           \
	})

static void test_level_sources(void **state)
{
	(void)state;
	unsetenv("ALIOTH_LOG");
	unsetenv("RUST_LOG");
	assert_int_equal(CLI("help"), 0);
	assert_true(log_enabled(LOG_WARN)); /* default */
	assert_false(log_enabled(LOG_INFO));

	setenv("RUST_LOG", "error", 1);
	assert_int_equal(CLI("help"), 0);
	assert_false(log_enabled(LOG_WARN));

	setenv("ALIOTH_LOG", "debug", 1); /* ours first */
	assert_int_equal(CLI("help"), 0);
	assert_true(log_enabled(LOG_DEBUG));
	assert_false(log_enabled(LOG_TRACE));

	assert_int_equal(CLI("-l", "info", "help"), 0); /* the flag beats both */
	assert_true(log_enabled(LOG_INFO));
	assert_false(log_enabled(LOG_DEBUG));
	assert_int_equal(CLI("--log-spec=off", "help"), 0);
	assert_false(log_enabled(LOG_ERROR));

	/* an unusable variable is reported, not fatal */
	setenv("ALIOTH_LOG", "chatty", 1);
	assert_int_equal(CLI("help"), 0);
	assert_string_equal(err_text, "alioth: ignoring $ALIOTH_LOG='chatty': not a log level\n");
	assert_true(log_enabled(LOG_WARN));
	assert_false(log_enabled(LOG_INFO));
	unsetenv("ALIOTH_LOG");
	unsetenv("RUST_LOG");

	assert_int_equal(CLI("-l", "loud", "help"), EXIT_USAGE);
	assert_string_equal(err_text,
			    "alioth: --log-spec: invalid spec 'loud' (expected one of: error, warn, info, debug, trace, off)\n");
	log_init(LOG_WARN, NULL, NULL);
}

static int teardown(void **state)
{
	(void)state;
	free(err_text);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_spec),
		cmocka_unit_test(test_levels),
		cmocka_unit_test(test_file_sink),
		cmocka_unit_test(test_file_sink_errors_and_default_name),
		cmocka_unit_test(test_level_sources),
	};
	return cmocka_run_group_tests(tests, NULL, teardown);
}
