/* sp_atomic_file: the target holds the old or the whole new contents, and no
 * temp file is left behind, whether the write is committed, abandoned or
 * fails. */
#include "test_util.h"

#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/atomic_file.h"

static char dir[64];

static int setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/test_atomic_file.XXXXXX");
	return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static int entries(void)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;

	assert_non_null(d);
	while ((e = readdir(d)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
			n++;
	closedir(d);
	return n;
}

static void read_back(const char *path, char *buf, size_t len)
{
	FILE *f = fopen(path, "r");
	size_t n;

	assert_non_null(f);
	n = fread(buf, 1, len - 1, f);
	buf[n] = '\0';
	fclose(f);
}

static void test_write_replace_mode(void **state)
{
	char path[128], buf[64];
	struct stat st;
	mode_t um = umask(022);

	(void)state;
	umask(um);
	snprintf(path, sizeof(path), "%s/a.txt", dir);
	assert_int_equal(sp_atomic_file_write(path, 0666, "first", 5), 0);
	read_back(path, buf, sizeof(buf));
	assert_string_equal(buf, "first");
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0666 & ~um);

	assert_int_equal(sp_atomic_file_write(path, 0600, "second", 6), 0);
	read_back(path, buf, sizeof(buf));
	assert_string_equal(buf, "second");
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(entries(), 1);
	unlink(path);
}

static void test_stream_abort_keeps_old(void **state)
{
	char path[128], buf[64];
	sp_atomic_file af;

	(void)state;
	snprintf(path, sizeof(path), "%s/b.txt", dir);
	assert_int_equal(sp_atomic_file_write(path, 0644, "old", 3), 0);

	assert_int_equal(sp_atomic_file_open(&af, path, 0644), 0);
	assert_non_null(strstr(af.tmp, "b.txt.tmp."));
	fputs("half of the new", af.f);
	fflush(af.f);
	read_back(path, buf, sizeof(buf));
	assert_string_equal(buf, "old"); /* not visible before commit */
	assert_int_equal(entries(), 2);
	sp_atomic_file_abort(&af);
	read_back(path, buf, sizeof(buf));
	assert_string_equal(buf, "old");
	assert_int_equal(entries(), 1);

	assert_int_equal(sp_atomic_file_open(&af, path, 0644), 0);
	fputs("new", af.f);
	assert_int_equal(sp_atomic_file_commit(&af), 0);
	assert_null(af.f);
	read_back(path, buf, sizeof(buf));
	assert_string_equal(buf, "new");
	assert_int_equal(entries(), 1);
	unlink(path);
}

static void test_failures_leave_nothing(void **state)
{
	char path[128];
	sp_atomic_file af;

	(void)state;
	snprintf(path, sizeof(path), "%s/no/such/dir/c.txt", dir);
	assert_int_equal(sp_atomic_file_write(path, 0644, "x", 1), -ENOENT);
	assert_int_equal(sp_atomic_file_open(&af, path, 0644), -ENOENT);
	assert_null(af.f);
	assert_null(af.tmp);

	/* rename(2) over a non-empty directory fails: reported, temp removed. */
	snprintf(path, sizeof(path), "%s/d", dir);
	assert_int_equal(mkdir(path, 0755), 0);
	snprintf(path, sizeof(path), "%s/d/keep", dir);
	assert_int_equal(sp_atomic_file_write(path, 0644, "k", 1), 0);
	snprintf(path, sizeof(path), "%s/d", dir);
	assert_true(sp_atomic_file_write(path, 0644, "x", 1) < 0);
	assert_int_equal(entries(), 1); /* d only */
	snprintf(path, sizeof(path), "%s/d/keep", dir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/d", dir);
	rmdir(path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_write_replace_mode),
		cmocka_unit_test(test_stream_abort_keeps_old),
		cmocka_unit_test(test_failures_leave_nothing),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
