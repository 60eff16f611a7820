/* dirlock.c: run directories: made (mkdir -p), and held by one owner at a
 * time: flock on "<dir>/.lock" (io.h).
 *
 * flock, not fcntl locks: an flock belongs to the open file description, so
 * it is not dropped when some other descriptor of the same file is closed,
 * and the kernel releases it when the last descriptor goes (the process
 * ends, killed or not). The file stays behind after a run (removing it
 * would let a waiting process lock a file that is no longer the directory's
 * lock); its contents only name the last owner, the lock itself decides.
 * The descriptor is close-on-exec so that a spawned program (the plot) does
 * not keep the lock alive.
 */
#include "io_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

int rg_out_dir_make(const char *dir, rg_error *err) {
    char buf[RG_PATH_MAX];
    snprintf(buf, sizeof buf, "%s", dir);
    for (char *p = buf + 1;; p++) {
        bool end = *p == '\0';
        if (*p == '/' || end) {
            *p = '\0';
            if (mkdir(buf, 0777) && errno != EEXIST)
                return rg_io_fail(err,
                                  "out_dir '%.200s': cannot create '%.200s': %s; choose a "
                                  "writable out_dir",
                                  dir, buf, strerror(errno));
            if (end) break;
            *p = '/';
        }
    }
    struct stat st;
    if (stat(dir, &st) || !S_ISDIR(st.st_mode))
        return rg_io_fail(
            err, "out_dir '%.200s' exists but is not a directory; choose another out_dir", dir);
    if (access(dir, W_OK))
        return rg_io_fail(
            err, "out_dir '%.200s' is not writable; fix its permissions or choose another", dir);
    return 0;
}

/* The owner named in the lock file ("12345 node7"), or "" when it is not
 * written yet. */
static void read_owner(int fd, char *buf, size_t n) {
    buf[0] = '\0';
    ssize_t got = pread(fd, buf, n - 1, 0);
    if (got <= 0) return;
    buf[got] = '\0';
    buf[strcspn(buf, "\n")] = '\0';
}

int rg_dir_lock_take(rg_dir_lock *lock, const char *dir, rg_error *err) {
    lock->fd = -1;
    char path[PATH_MAX];
    if (snprintf(path, sizeof path, "%s/.lock", dir) >= (int)sizeof path)
        return rg_io_fail(err, "out_dir '%.200s...': path too long; use a shorter out_dir", dir);
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0)
        return rg_io_fail(err, "%s: cannot open the run directory's lock file: %s; check out_dir",
                          path, strerror(errno));
    while (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        if (errno == EINTR) continue;
        if (errno != EWOULDBLOCK) {
            int e = errno;
            close(fd);
            return rg_io_fail(err,
                              "%s: cannot lock it: %s; out_dir must be on a file system with "
                              "flock (on Lustre, mount with -o flock)",
                              path, strerror(e));
        }
        /* Held. The owner writes its name just after locking: give it a
         * moment when the file is still empty. */
        char owner[128];
        for (int i = 0; i < 50; i++) {
            read_owner(fd, owner, sizeof owner);
            if (owner[0]) break;
            nanosleep(&(struct timespec){0, 2000000}, NULL);
        }
        close(fd);
        long pid = 0;
        char host[64] = "";
        sscanf(owner, "%ld %63s", &pid, host);
        if (pid > 0)
            return rg_io_fail(err,
                              "out_dir '%s' is in use by process %ld%s%s (it holds %s); wait for "
                              "it to finish or stop it, or choose another out_dir",
                              dir, pid, host[0] ? " on " : "", host, path);
        return rg_io_fail(err,
                          "out_dir '%s' is in use by another process (it holds %s); wait for it "
                          "to finish or stop it, or choose another out_dir",
                          dir, path);
    }
    char host[64] = "?", text[128];
    gethostname(host, sizeof host);
    host[sizeof host - 1] = '\0';
    int len = snprintf(text, sizeof text, "%ld %s\n", (long)getpid(), host);
    if (ftruncate(fd, 0) != 0 || pwrite(fd, text, (size_t)len, 0) != len) {
        int e = errno;
        close(fd);
        return rg_io_fail(err, "%s: cannot write the owner: %s; check free space", path,
                          strerror(e));
    }
    lock->fd = fd;
    return 0;
}

void rg_dir_lock_release(rg_dir_lock *lock) {
    if (lock->fd >= 0) close(lock->fd);
    lock->fd = -1;
}
