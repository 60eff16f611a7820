/* atomic.c: replacing a file so that a crash at any moment leaves either
 * the old file or the new one, never a half-written one (SPEC section 4).
 *
 * The new contents go to "<path>.tmp.<pid>" in the same directory (so the
 * rename stays within one file system); commit fsyncs that file, renames it
 * over the destination and fsyncs the directory so the rename itself is
 * durable. Every failure removes the temporary file and leaves the
 * destination as it was.
 */
#include "io_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int rg_io_fail(rg_error *err, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    va_end(ap);
    return 2;
}

/* The directory holding path ("." when it has no slash), into buf. */
static void dir_of(const char *path, char *buf, size_t n) {
    const char *slash = strrchr(path, '/');
    if (!slash)
        snprintf(buf, n, ".");
    else if (slash == path)
        snprintf(buf, n, "/");
    else
        snprintf(buf, n, "%.*s", (int)(slash - path), path);
}

/* Create or truncate the temporary file: reports a missing or unwritable
 * directory with its errno, which HDF5 would not tell us. */
int rg_io_atomic_begin(rg_io_atomic *a, const char *path, rg_error *err) {
    a->path = path;
    a->created = false;
    int len = snprintf(a->tmp, sizeof a->tmp, "%s.tmp.%ld", path, (long)getpid());
    if (len < 0 || (size_t)len >= sizeof a->tmp)
        return rg_io_fail(err, "%.200s...: path too long; use a shorter path", path);
    char dir[PATH_MAX];
    dir_of(path, dir, sizeof dir);
    struct stat st;
    if (stat(dir, &st) != 0)
        return rg_io_fail(err, "cannot write %s: directory %s: %s; create the directory first",
                          path, dir, strerror(errno));
    if (!S_ISDIR(st.st_mode))
        return rg_io_fail(err, "cannot write %s: %s is not a directory; use another path", path,
                          dir);
    int fd = open(a->tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0)
        return rg_io_fail(err,
                          "cannot write %s: creating temporary file %s: %s; check the "
                          "directory's permissions and free space",
                          path, a->tmp, strerror(errno));
    a->created = true;
    if (close(fd) != 0) {
        int e = errno;
        rg_io_atomic_abort(a);
        return rg_io_fail(err, "cannot write %s: closing %s: %s", path, a->tmp, strerror(e));
    }
    return 0;
}

int rg_io_atomic_begin_copy(rg_io_atomic *a, const char *path, bool *existed, rg_error *err) {
    *existed = false;
    if (rg_io_atomic_begin(a, path, err)) return 2;
    int in = open(path, O_RDONLY);
    if (in < 0) {
        if (errno == ENOENT) return 0; /* a new file */
        int e = errno;
        rg_io_atomic_abort(a);
        return rg_io_fail(err, "cannot read %s: %s; check its permissions or use another path",
                          path, strerror(e));
    }
    struct stat st;
    if (fstat(in, &st) == 0 && S_ISDIR(st.st_mode)) {
        close(in);
        rg_io_atomic_abort(a);
        return rg_io_fail(err, "%s is a directory, not an HDF5 file; give a file path", path);
    }
    int out = open(a->tmp, O_WRONLY | O_TRUNC);
    int rc = 0;
    if (out < 0) {
        rc = rg_io_fail(err, "cannot write %s: %s", a->tmp, strerror(errno));
    } else {
        char buf[1 << 16];
        for (;;) {
            ssize_t got = read(in, buf, sizeof buf);
            if (got < 0 && errno == EINTR) continue;
            if (got < 0) {
                rc = rg_io_fail(err, "cannot read %s: %s", path, strerror(errno));
                break;
            }
            if (got == 0) break;
            for (ssize_t done = 0; done < got && rc == 0;) {
                ssize_t put = write(out, buf + done, (size_t)(got - done));
                if (put < 0 && errno == EINTR) continue;
                if (put < 0)
                    rc = rg_io_fail(err, "cannot write %s: %s; check free space", a->tmp,
                                    strerror(errno));
                else
                    done += put;
            }
            if (rc) break;
        }
        if (close(out) != 0 && rc == 0)
            rc = rg_io_fail(err, "cannot write %s: %s", a->tmp, strerror(errno));
    }
    close(in);
    if (rc)
        rg_io_atomic_abort(a);
    else
        *existed = true;
    return rc;
}

void rg_io_atomic_abort(rg_io_atomic *a) {
    if (a->created) unlink(a->tmp);
    a->created = false;
}

int rg_io_atomic_commit(rg_io_atomic *a, rg_error *err) {
    int fd = open(a->tmp, O_RDONLY);
    if (fd < 0 || fsync(fd) != 0) {
        int e = errno;
        if (fd >= 0) close(fd);
        rg_io_atomic_abort(a);
        return rg_io_fail(err, "cannot write %s: syncing %s: %s; check free space", a->path, a->tmp,
                          strerror(e));
    }
    close(fd);
    if (rename(a->tmp, a->path) != 0) {
        int e = errno;
        rg_io_atomic_abort(a);
        return rg_io_fail(err, "cannot write %s: renaming %s onto it: %s%s", a->path, a->tmp,
                          strerror(e),
                          e == EISDIR ? "; the path is a directory, give a file path" : "");
    }
    a->created = false; /* tmp is now the destination */
    /* Make the rename durable. A file system that cannot sync directories
     * (EINVAL) still holds the renamed file; only real I/O errors count. */
    char dir[PATH_MAX];
    dir_of(a->path, dir, sizeof dir);
    int dfd = open(dir, O_RDONLY | O_DIRECTORY);
    if (dfd < 0)
        return rg_io_fail(err, "wrote %s but cannot open its directory %s to sync it: %s", a->path,
                          dir, strerror(errno));
    int rc = 0;
    if (fsync(dfd) != 0 && errno != EINVAL)
        rc = rg_io_fail(err, "wrote %s but syncing its directory %s failed: %s", a->path, dir,
                        strerror(errno));
    close(dfd);
    return rc;
}
