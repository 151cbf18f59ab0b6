/* kallsyms: parsing, text symbols only, lookup by bisection, and the
 * message when kptr_restrict hides every address. */
#include "test_util.h"

#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

#include "symbolizer/kallsyms.h"

static void write_file(char *path, const char *text)
{
	int fd = mkstemp(path);
	FILE *f = fdopen(fd, "w");

	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static void test_lookup(void **state)
{
	char path[] = "/tmp/test_kallsyms_XXXXXX";
	sp_error err = { { 0 } };

	(void)state;
	/* Unsorted (modules come last, at any address), data symbols mixed in. */
	write_file(path, "ffffffffc0001000 t mod_fn\t[mymod]\n"
			 "ffffffff81000000 T _stext\n"
			 "ffffffff81000100 D some_data\n"
			 "ffffffff81000200 W weak_fn\n"
			 "ffffffff81000080 t static_fn\n"
			 "garbage line\n");
	sp_kallsyms *k = sp_kallsyms_load(path, &err);
	unlink(path);
	assert_non_null(k);
	assert_int_equal(sp_kallsyms_count(k), 4);
	assert_null(sp_kallsyms_find(k, 0xffffffff80ffffffULL));
	assert_string_equal(sp_kallsyms_find(k, 0xffffffff81000000ULL), "_stext");
	assert_string_equal(sp_kallsyms_find(k, 0xffffffff8100007fULL), "_stext");
	assert_string_equal(sp_kallsyms_find(k, 0xffffffff81000080ULL), "static_fn");
	/* some_data is not a function: the text symbol before it covers it */
	assert_string_equal(sp_kallsyms_find(k, 0xffffffff81000150ULL), "static_fn");
	assert_string_equal(sp_kallsyms_find(k, 0xffffffff81000300ULL), "weak_fn");
	assert_string_equal(sp_kallsyms_find(k, 0xffffffffc0001010ULL), "mod_fn");
	sp_kallsyms_free(k);
	assert_true(sp_kernel_pc(0xffffffff81000000ULL));
	assert_false(sp_kernel_pc(0x7fffffffe000ULL));
}

static void test_restricted(void **state)
{
	char path[] = "/tmp/test_kallsyms_XXXXXX";
	sp_error err = { { 0 } };

	(void)state;
	write_file(path, "0000000000000000 T _stext\n0000000000000000 t other\n");
	assert_null(sp_kallsyms_load(path, &err));
	unlink(path);
	assert_non_null(strstr(err.msg, "kptr_restrict"));
	assert_non_null(strstr(err.msg, "every address reads as 0"));
	assert_null(sp_kallsyms_load("/nonexistent/kallsyms", &err));
	assert_non_null(strstr(err.msg, "/nonexistent/kallsyms"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lookup),
		cmocka_unit_test(test_restricted),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
