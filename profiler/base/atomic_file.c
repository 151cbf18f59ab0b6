#include "base/atomic_file.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void release(sp_atomic_file *af)
{
	free(af->tmp);
	free(af->path);
	memset(af, 0, sizeof(*af));
}

int sp_atomic_file_open(sp_atomic_file *af, const char *path, mode_t mode)
{
	static unsigned int counter; /* distinct temp names within a process */
	int fd = -1, ret = 0;

	memset(af, 0, sizeof(*af));
	af->path = strdup(path);
	if (!af->path)
		return -ENOMEM;
	/* Same directory as the target, so that rename() is atomic. */
	for (int tries = 0; tries < 100 && fd < 0; tries++) {
		free(af->tmp);
		if (asprintf(&af->tmp, "%s.tmp.%d.%u", path, (int)getpid(),
			     __atomic_fetch_add(&counter, 1, __ATOMIC_RELAXED)) < 0) {
			af->tmp = NULL;
			ret = -ENOMEM;
			break;
		}
		fd = open(af->tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
		if (fd < 0) {
			ret = -errno;
			if (errno != EEXIST)
				break;
		}
	}
	if (fd >= 0) {
		af->f = fdopen(fd, "w");
		if (af->f)
			return 0;
		ret = -errno;
		close(fd);
		unlink(af->tmp);
	}
	release(af);
	return ret;
}

/* Make the rename itself durable. A failure here loses nothing already
 * visible, so it is not reported. */
static void sync_parent_dir(const char *path)
{
	const char *slash = strrchr(path, '/');
	char *dir = NULL;
	int fd;

	if (!slash)
		fd = open(".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	else if (slash == path)
		fd = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	else if ((dir = strndup(path, (size_t)(slash - path))))
		fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	else
		fd = -1;
	free(dir);
	if (fd >= 0) {
		fsync(fd);
		close(fd);
	}
}

int sp_atomic_file_commit(sp_atomic_file *af)
{
	int ret = 0;

	if (fflush(af->f))
		ret = -errno;
	else if (ferror(af->f))
		ret = -EIO; /* an earlier write failed; its errno is gone */
	else if (fsync(fileno(af->f)))
		ret = -errno;
	if (fclose(af->f) && !ret)
		ret = -errno;
	af->f = NULL;
	if (!ret && rename(af->tmp, af->path))
		ret = -errno;
	if (ret)
		unlink(af->tmp);
	else
		sync_parent_dir(af->path);
	release(af);
	return ret;
}

void sp_atomic_file_abort(sp_atomic_file *af)
{
	if (af->f) {
		fclose(af->f);
		unlink(af->tmp);
	}
	release(af);
}

int sp_atomic_file_write(const char *path, mode_t mode, const void *buf, size_t len)
{
	sp_atomic_file af;
	int ret = sp_atomic_file_open(&af, path, mode);

	if (ret)
		return ret;
	errno = 0;
	if (len && fwrite(buf, 1, len, af.f) != len) {
		ret = errno ? -errno : -EIO;
		sp_atomic_file_abort(&af);
		return ret;
	}
	return sp_atomic_file_commit(&af);
}

int sp_mkdir_p(const char *dir, mode_t mode)
{
	char tmp[PATH_MAX];
	size_t n = strlen(dir);

	if (n == 0 || n >= sizeof(tmp))
		return -ENAMETOOLONG;
	memcpy(tmp, dir, n + 1);
	for (char *p = tmp + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(tmp, mode) < 0 && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(tmp, mode) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}
