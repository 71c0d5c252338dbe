/*
 * The embedded default: a private redis-server child on a unix socket in the
 * data directory, with the append-only file on, so one command runs earshot
 * on a fresh machine and state survives restarts.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <hiredis/hiredis.h>

#include "earshot/alloc.h"
#include "earshot/store.h"

struct es_redis_child {
    pid_t pid;
};

static int mkdir_p(const char *dir)
{
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s", dir);
    for (char *p = tmp + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(tmp, 0700) != 0 && errno != EEXIST)
            return -1;
        *p = '/';
    }
    return mkdir(tmp, 0700) != 0 && errno != EEXIST ? -1 : 0;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static int answers(const char *sock)
{
    struct timeval tv = {0, 200000};
    redisContext *c = redisConnectUnixWithTimeout(sock, tv);
    int ok = 0;
    if (c && !c->err) {
        redisReply *r = redisCommand(c, "PING");
        ok = r && r->type == REDIS_REPLY_STATUS;
        if (r)
            freeReplyObject(r);
    }
    if (c)
        redisFree(c);
    return ok;
}

int es_redis_child_start(const char *dir, struct es_redis_child **out, char *sock, size_t n,
                         struct es_diag *d)
{
    if (mkdir_p(dir) != 0) {
        es_diag_set(d, dir, 0, 0, "cannot create the data directory: %s", strerror(errno));
        return ES_EIO;
    }
    snprintf(sock, n, "%s/redis.sock", dir);
    if (strlen(sock) >= 100) {
        es_diag_set(d, dir, 0, 0, "data directory path too long for a unix socket");
        return ES_EINVAL;
    }
    char logfile[4200];
    snprintf(logfile, sizeof logfile, "%s/redis.log", dir);
    struct es_redis_child *c = es_calloc(1, sizeof *c);
    if (!c)
        return ES_ENOMEM;
    unlink(sock);
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid < 0) {
        es_free(c);
        es_diag_set(d, "redis-server", 0, 0, "fork: %s", strerror(errno));
        return ES_EIO;
    }
    if (pid == 0) {
        /* The server dies with us: no orphan holding the data directory. */
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        /* Its own process group: a Ctrl-C in the terminal reaches earshot, which drains
         * its writes and only then stops the server. */
        setpgid(0, 0);
        if (getppid() != parent)
            _exit(1);
        execlp("redis-server", "redis-server", "--port", "0", "--unixsocket", sock,
               "--unixsocketperm", "700", "--dir", dir, "--appendonly", "yes", "--appendfsync",
               "everysec", "--save", "", "--daemonize", "no", "--logfile", logfile,
               "--databases", "1", (char *)NULL);
        _exit(127);
    }
    c->pid = pid;
    for (int i = 0; i < 200; i++) {
        if (answers(sock)) {
            *out = c;
            return 0;
        }
        int status;
        if (waitpid(pid, &status, WNOHANG) == pid) {
            es_free(c);
            es_diag_set(d, "redis-server", 0, 0,
                        "redis-server exited at start (status %d); is it installed? see %s",
                        WIFEXITED(status) ? WEXITSTATUS(status) : -1, logfile);
            return ES_EIO;
        }
        sleep_ms(50);
    }
    es_redis_child_stop(c);
    es_diag_set(d, "redis-server", 0, 0, "redis-server did not answer on %s within 10 s", sock);
    return ES_EIO;
}

void es_redis_child_stop(struct es_redis_child *c)
{
    if (!c)
        return;
    if (c->pid > 0) {
        kill(c->pid, SIGTERM);
        for (int i = 0; i < 100; i++) {
            if (waitpid(c->pid, NULL, WNOHANG) == c->pid) {
                c->pid = 0;
                break;
            }
            sleep_ms(50);
        }
        if (c->pid > 0) {
            kill(c->pid, SIGKILL);
            waitpid(c->pid, NULL, 0);
        }
    }
    es_free(c);
}

int es_redis_child_pid(const struct es_redis_child *c)
{
    return c ? (int)c->pid : 0;
}
