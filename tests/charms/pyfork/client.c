/*
 * pyfork client: what a test charm's `dispatch` execs instead of the Python interpreter.
 *
 *     pyfork PYTHON SERVER SCRIPT [ARG...]
 *
 * It hands the hook (argv, environment, cwd, umask, process group and its stdin/stdout/stderr
 * file descriptors) to a warm fork server (SERVER, run by PYTHON; see server.py), which forks a
 * child that has already imported ops & co. and runs SCRIPT in it as `PYTHON SCRIPT ARG...`
 * would. The client waits for that child and exits with its exit code (or dies of its signal).
 *
 * When no server is listening, it starts one (detached, in its own process group of the same
 * session) and waits for it briefly. Whenever the hook cannot be handed over before it has
 * started (no server, the server declines, any error), the client execs `PYTHON SCRIPT ARG...`
 * itself: the plain path, exactly what the dispatch did without the fork server.
 *
 * The server is found by an abstract unix socket named after the user, the session and PYTHON +
 * SERVER (+ LD_PRELOAD when set), so each test session (and each venv) has its own server, and hooks can join the
 * client's process group (a SIGKILL of the hook's group kills the forked child too).
 *
 * Built by scripts/build-test-charms.sh with the system C compiler; no dependencies.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

#define PROTOCOL "pyfork-1"

static char **plain_argv;

/* The plain path: run the script with the interpreter, as the dispatch did before. */
static void run_plain(void) {
    execv(plain_argv[0], plain_argv);
    fprintf(stderr, "pyfork: cannot exec %s: %s\n", plain_argv[0], strerror(errno));
    _exit(127);
}

/* A growing byte buffer for the request. */
struct buf {
    char *p;
    size_t len, cap;
};

static void put(struct buf *b, const char *s, size_t n) {
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->len + n)
            cap *= 2;
        char *p = realloc(b->p, cap);
        if (!p)
            run_plain();
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
}

/* One field: the string and its terminating NUL. */
static void put_str(struct buf *b, const char *s) { put(b, s, strlen(s) + 1); }

static void put_num(struct buf *b, long v) {
    char tmp[32];
    snprintf(tmp, sizeof tmp, "%ld", v);
    put_str(b, tmp);
}

/* FNV-1a over the interpreter and server paths: part of the socket name. */
static uint64_t fnv(uint64_t h, const char *s) {
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 1099511628211ULL;
    }
    h ^= 0xff; /* separator */
    return h * 1099511628211ULL;
}

static int connect_to(const struct sockaddr_un *addr, socklen_t len) {
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    if (connect(fd, (const struct sockaddr *)addr, len) == 0)
        return fd;
    close(fd);
    return -1;
}

/* Start the server, detached: its own process group (same session), cwd /, no inherited
 * files, and only the variables that shape how Python starts (locale, PYTHON* but
 * PYTHONPATH) and LD_PRELOAD (the simulator's clock shim, which hooks forked from the server
 * must have loaded; it reads its offset from each hook's own environment). */
static void start_server(const char *python, const char *server, const char *name) {
    pid_t pid = fork();
    if (pid < 0)
        return;
    if (pid > 0) {
        int st;
        while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
        }
        return;
    }
    setpgid(0, 0);
    if (fork() != 0)
        _exit(0);
    /* Not the first hook's charm dir: the simulator deletes it with its model. */
    if (chdir("/") < 0)
        _exit(1);
    int null = open("/dev/null", O_RDWR);
    if (null < 0)
        _exit(1);
    dup2(null, 0);
    dup2(null, 1);
    dup2(null, 2);
    for (int fd = 3; fd < 1024; fd++)
        close(fd);
    char *env[256];
    int n = 0;
    for (char **e = environ; *e && n < 255; e++) {
        if (strncmp(*e, "LANG=", 5) == 0 || strncmp(*e, "LANGUAGE=", 9) == 0 ||
            strncmp(*e, "LC_", 3) == 0 ||
            strncmp(*e, "LD_PRELOAD=", 11) == 0 ||
            (strncmp(*e, "PYTHON", 6) == 0 && strncmp(*e, "PYTHONPATH=", 11) != 0))
            env[n++] = *e;
    }
    env[n] = NULL;
    char *argv[] = {(char *)python, (char *)server, (char *)name, NULL};
    execve(python, argv, env);
    _exit(127);
}

/* Read one reply line ("started", "exit N", "signal N", "fallback") into `line`. Returns its
 * length, 0 at end of stream, -1 on error. */
static int read_line(int fd, char *line, size_t cap) {
    size_t n = 0;
    while (n + 1 < cap) {
        ssize_t r = read(fd, line + n, 1);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return -1;
        if (r == 0)
            return 0;
        if (line[n] == '\n') {
            line[n] = 0;
            return (int)n + 1;
        }
        n++;
    }
    return -1;
}

static int send_all(int fd, const char *p, size_t n, int with_fds) {
    int first = with_fds;
    while (n > 0) {
        struct iovec iov = {.iov_base = (void *)p, .iov_len = n};
        struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1};
        union {
            char buf[CMSG_SPACE(3 * sizeof(int))];
            struct cmsghdr align;
        } ctl;
        if (first) {
            int fds[3] = {0, 1, 2};
            memset(&ctl, 0, sizeof ctl);
            msg.msg_control = ctl.buf;
            msg.msg_controllen = sizeof ctl.buf;
            struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
            c->cmsg_level = SOL_SOCKET;
            c->cmsg_type = SCM_RIGHTS;
            c->cmsg_len = CMSG_LEN(sizeof fds);
            memcpy(CMSG_DATA(c), fds, sizeof fds);
        }
        ssize_t w = sendmsg(fd, &msg, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        first = 0;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

int main(int argc, char **argv) {
    if (argc < 4) {
        fprintf(stderr, "usage: pyfork PYTHON SERVER SCRIPT [ARG...]\n");
        return 2;
    }
    const char *python = argv[1];
    const char *server = argv[2];
    /* argv[1], argv[3], ...: the plain command line (the server path left out). */
    plain_argv = calloc((size_t)argc, sizeof(char *));
    if (!plain_argv)
        return 127;
    plain_argv[0] = argv[1];
    for (int i = 3; i < argc; i++)
        plain_argv[i - 2] = argv[i];

    /* Every descriptor the hook gets must be open: an fd missing among 0-2 is not ours to
     * fake, so such a hook takes the plain path. */
    for (int fd = 0; fd < 3; fd++)
        if (fcntl(fd, F_GETFD) < 0)
            run_plain();

    pid_t sid = getsid(0);
    char name[100];
    uint64_t key = fnv(fnv(1469598103934665603ULL, python), server);
    /* Hooks with a different LD_PRELOAD (the clock shim or none) get a server of their own. */
    const char *preload = getenv("LD_PRELOAD");
    if (preload && *preload)
        key = fnv(key, preload);
    snprintf(name, sizeof name, "tls-provider-pyfork-%u-%d-%016llx", (unsigned)getuid(), (int)sid,
             (unsigned long long)key);
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    size_t nlen = strlen(name);
    memcpy(addr.sun_path + 1, name, nlen); /* abstract: sun_path[0] == 0 */
    socklen_t alen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + nlen);

    int fd = connect_to(&addr, alen);
    if (fd < 0) {
        start_server(python, server, name);
        /* The server binds first thing (tens of ms); give it up to 2 s on a loaded machine. */
        for (int i = 0; fd < 0 && i < 200; i++) {
            struct timespec ts = {0, 10 * 1000 * 1000};
            nanosleep(&ts, NULL);
            fd = connect_to(&addr, alen);
        }
        if (fd < 0)
            run_plain();
    }
    /* The peer must be our own user. */
    struct ucred cred;
    socklen_t clen = sizeof cred;
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &clen) < 0 || cred.uid != getuid())
        run_plain();

    char cwd[4096];
    if (!getcwd(cwd, sizeof cwd))
        run_plain();
    mode_t mask = umask(0);
    umask(mask);

    struct buf req = {0};
    put_str(&req, PROTOCOL);
    put_str(&req, cwd);
    put_num(&req, (long)mask);
    put_num(&req, (long)getpgid(0));
    put_num(&req, (long)(argc - 3));
    for (int i = 3; i < argc; i++)
        put_str(&req, argv[i]);
    long nenv = 0;
    for (char **e = environ; *e; e++)
        nenv++;
    put_num(&req, nenv);
    for (char **e = environ; *e; e++)
        put_str(&req, *e);
    /* A 10-digit length header, then the fields. */
    char head[12];
    snprintf(head, sizeof head, "%010zu", req.len);
    struct buf msg = {0};
    put(&msg, head, 10);
    put(&msg, req.p, req.len);
    if (send_all(fd, msg.p, msg.len, 1) < 0)
        run_plain();

    char line[64];
    int started = 0;
    for (;;) {
        int n = read_line(fd, line, sizeof line);
        if (n <= 0) {
            if (!started)
                run_plain();
            fprintf(stderr, "pyfork: lost the fork server while the hook ran\n");
            return 1;
        }
        if (strcmp(line, "started") == 0) {
            started = 1;
        } else if (strcmp(line, "fallback") == 0 && !started) {
            run_plain();
        } else if (strncmp(line, "exit ", 5) == 0) {
            return atoi(line + 5);
        } else if (strncmp(line, "signal ", 7) == 0) {
            int sig = atoi(line + 7);
            signal(sig, SIG_DFL);
            raise(sig);
            return 128 + sig;
        } else {
            fprintf(stderr, "pyfork: unexpected reply from the fork server: %s\n", line);
            if (!started)
                run_plain();
            return 1;
        }
    }
}
