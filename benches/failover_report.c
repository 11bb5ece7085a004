/*
 * failover_report.c - the kill -9 failover report of issue #3
 * (run by benches/failover-report.sh, which starts the servers).
 *
 *   failover_report [-k INDEX] [-d DIR] [-n KEYS] [-w MS] [-r MS] [-t MS]
 *                   SERVERS PORT=PID...
 *
 * SERVERS is the list given to omcache_set_servers(); each PORT=PID names
 * the memcached process listening on that port (the one to kill must be
 * among them).  The program stores KEYS keys, runs a tight stream of
 * single omcache_get() calls (1000 ms each, round-robin over all keys),
 * kills server INDEX with SIGKILL from a SIGALRM handler after -w ms (so
 * the kill lands wherever the stream happens to be, possibly in the middle
 * of a call), restarts memcached on the same port -r ms after the kill and
 * keeps going until the dead server's keys are back and answered by the
 * new process, then -t ms more.  It reports:
 *   (a) the time from the kill until the first answer for a key of the
 *       dead server from another server (NOT_FOUND counts: the others do
 *       not have the data), and until every such key maps elsewhere;
 *   (b) failed calls (rc not OK / NOT_FOUND), split into keys of the dead
 *       server and keys of live servers (must be 0), and wrong values
 *       (values encode their key; must be 0);
 *   (c) call latency per phase and around the failure;
 *   (d) the time from the restart until the keys map back to the server
 *       (omcache_server_index_for_key) and until it answers one of them;
 * and every log-callback message with its time.
 *
 *   -k INDEX  server index (omcache's order) to kill (default 1)
 *   -d DIR    memcached-servers.sh directory: the restarted server's pid is
 *             appended to DIR/pids (so "memcached-servers.sh stop DIR" ends
 *             it whatever happens) and its output goes to
 *             DIR/memcached-PORT.log
 *   -n KEYS   number of keys (default 10000)
 *   -w MS     stream time before the kill (default 1000)
 *   -r MS     time from the kill to the restart (default 1500)
 *   -t MS     stream time after recovery (default 500)
 *
 * Exit status: 0 when every check passed, 1 when one failed, 2 on a usage
 * or setup error.
 */

#include <omcache.h>

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#define CONNECT_TIMEOUT_MS 500
#define DEAD_TIMEOUT_MS 500
#define RECONNECT_TIMEOUT_MS 1000
#define CALL_TIMEOUT_MS 1000
#define AROUND_FAILURE_MS 100   /* "around the failure" window after the kill */
#define RECOVERY_LIMIT_MS 5000  /* restart -> recovered, or give up */
#define MAX_SERVERS 16
#define MAX_LOG 512
#define MAX_FAILED_SHOWN 20
#define SCAN_DELAY_MS 50      /* full key scans wait this long (see below) */

#define NS_PER_MS 1000000LL
#define NEVER INT64_MIN

/* ----- time ------------------------------------------------------------- */

static int64_t ts_ns(const struct timespec *ts)
{
    return (int64_t)ts->tv_sec * 1000000000LL + ts->tv_nsec;
}

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts_ns(&ts);
}

static double ms(int64_t ns)
{
    return (double)ns / 1e6;
}

/* ----- the kill (SIGALRM) and clean exit (SIGINT/TERM/HUP) --------------- */

static volatile pid_t victim_pid;
static volatile sig_atomic_t kill_fired;
static volatile sig_atomic_t kill_errno;
static struct timespec kill_ts;           /* written by the handler only */
static volatile pid_t restarted_pid;      /* our memcached child, if any */

static void on_alarm(int sig)
{
    int saved = errno;
    (void)sig;
    clock_gettime(CLOCK_MONOTONIC, &kill_ts);
    if (kill(victim_pid, SIGKILL) != 0)
        kill_errno = errno;
    kill_fired = 1;
    errno = saved;
}

static void on_terminate(int sig)
{
    if (restarted_pid > 0)
        kill(restarted_pid, SIGTERM);
    signal(sig, SIG_DFL);
    raise(sig);
}

/* ----- log callback ------------------------------------------------------ */

struct log_rec {
    int64_t t;
    int level;
    char msg[240];
};

static struct log_rec logs[MAX_LOG];
static int n_logs, n_logs_dropped;

static void log_cb(void *context, int level, const char *msg)
{
    (void)context;
    if (n_logs == MAX_LOG) {
        n_logs_dropped++;
        return;
    }
    logs[n_logs].t = now_ns();
    logs[n_logs].level = level;
    snprintf(logs[n_logs].msg, sizeof logs[n_logs].msg, "%s", msg);
    n_logs++;
}

static const char *level_name(int level)
{
    switch (level) {
    case LOG_EMERG: return "EMERG";
    case LOG_ALERT: return "ALERT";
    case LOG_CRIT: return "CRIT";
    case LOG_ERR: return "ERR";
    case LOG_WARNING: return "WARNING";
    case LOG_NOTICE: return "NOTICE";
    case LOG_INFO: return "INFO";
    case LOG_DEBUG: return "DEBUG";
    default: return "?";
    }
}

static const char *rc_name(int rc)
{
    switch (rc) {
    case OMCACHE_OK: return "OK";
    case OMCACHE_NOT_FOUND: return "NOT_FOUND";
    case OMCACHE_KEY_EXISTS: return "KEY_EXISTS";
    case OMCACHE_TOO_LARGE_VALUE: return "TOO_LARGE_VALUE";
    case OMCACHE_NOT_STORED: return "NOT_STORED";
    case OMCACHE_DELTA_BAD_VALUE: return "DELTA_BAD_VALUE";
    case OMCACHE_FAIL: return "FAIL";
    case OMCACHE_AGAIN: return "AGAIN";
    case OMCACHE_INVALID: return "INVALID";
    case OMCACHE_BUFFERED: return "BUFFERED";
    case OMCACHE_BUFFER_FULL: return "BUFFER_FULL";
    case OMCACHE_NO_SERVERS: return "NO_SERVERS";
    case OMCACHE_SERVER_FAILURE: return "SERVER_FAILURE";
    default: return "?";
    }
}

/* ----- calls ------------------------------------------------------------- */

struct call {
    int64_t start;      /* ns, monotonic */
    uint32_t lat;       /* ns */
    int32_t key;
    int16_t target;     /* omcache_server_index_for_key just before the call */
    uint16_t rc;
    uint8_t in_flight_at_kill;
};

static struct call *calls;
static size_t n_calls, cap_calls;

static struct call *new_call(void)
{
    if (n_calls == cap_calls) {
        size_t cap = cap_calls ? cap_calls * 2 : 1 << 16;
        struct call *c = realloc(calls, cap * sizeof *c);
        if (!c) {
            fprintf(stderr, "failover_report: out of memory\n");
            exit(2);
        }
        calls = c;
        cap_calls = cap;
    }
    return &calls[n_calls++];
}

static int served(int rc)
{
    return rc == OMCACHE_OK || rc == OMCACHE_NOT_FOUND;
}

/* ----- servers ----------------------------------------------------------- */

struct server {
    char host[64];
    int port;
    pid_t pid;          /* 0 when not given */
    int keys;           /* keys mapped to it at the start */
    int moved_in;       /* dead server's keys it took over */
};

static struct server servers[MAX_SERVERS];
static int n_servers;

/* True when /proc says pid is a memcached whose command line has "-p port"
 * (or when there is no /proc to ask). */
static int pid_is_memcached_on(pid_t pid, int port)
{
    char path[64], buf[4096], want[16];
    FILE *f;
    size_t n, i;
    int found = 0;

    snprintf(path, sizeof path, "/proc/%ld/comm", (long)pid);
    if (!(f = fopen(path, "r")))
        return access("/proc/self", F_OK) != 0;
    n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    if (strcmp(buf, "memcached\n") != 0)
        return 0;
    snprintf(path, sizeof path, "/proc/%ld/cmdline", (long)pid);
    if (!(f = fopen(path, "r")))
        return 0;
    n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    snprintf(want, sizeof want, "%d", port);
    for (i = 0; i < n; i += strlen(buf + i) + 1) {
        if (strcmp(buf + i, "-p") == 0 && i + 3 < n && strcmp(buf + i + 3, want) == 0)
            found = 1;
    }
    return found;
}

/* True when something accepts TCP connections on 127.0.0.1:port (a
 * loopback connect completes or is refused at once). */
static int accepts(int port)
{
    struct sockaddr_in sa;
    int fd = socket(AF_INET, SOCK_STREAM, 0), ok;
    if (fd < 0)
        return 0;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ok = connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0;
    close(fd);
    return ok;
}

static pid_t start_memcached(int port, const char *dir)
{
    char portbuf[16], logpath[4096];
    const char *argv[12];
    int argc = 0;
    pid_t pid;

    snprintf(portbuf, sizeof portbuf, "%d", port);
    argv[argc++] = "memcached";
    argv[argc++] = "-l";
    argv[argc++] = "127.0.0.1";
    argv[argc++] = "-p";
    argv[argc++] = portbuf;
    argv[argc++] = "-U";
    argv[argc++] = "0";
    if (geteuid() == 0) {
        argv[argc++] = "-u";
        argv[argc++] = "nobody";
    }
    argv[argc] = NULL;
    if (dir)
        snprintf(logpath, sizeof logpath, "%s/memcached-%d.log", dir, port);
    else
        snprintf(logpath, sizeof logpath, "/dev/null");

    pid = fork();
    if (pid == 0) {
        int fd = open(logpath, O_WRONLY | O_CREAT | O_APPEND, 0644);
        int in = open("/dev/null", O_RDONLY);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
        }
        if (in >= 0)
            dup2(in, 0);
        signal(SIGINT, SIG_DFL);
        signal(SIGTERM, SIG_DFL);
        signal(SIGHUP, SIG_DFL);
        signal(SIGQUIT, SIG_DFL);
        execvp(argv[0], (char *const *)argv);
        _exit(127);
    }
    if (pid > 0) {
        restarted_pid = pid;
        if (dir) {
            char pidpath[4096];
            FILE *f;
            snprintf(pidpath, sizeof pidpath, "%s/pids", dir);
            if ((f = fopen(pidpath, "a"))) {
                fprintf(f, "%ld\n", (long)pid);
                fclose(f);
            }
        }
    }
    return pid;
}

static void stop_restarted(void)
{
    pid_t pid = restarted_pid;
    int i, status;
    if (pid <= 0)
        return;
    kill(pid, SIGTERM);
    for (i = 0; i < 200; i++) {     /* up to 2 s */
        if (waitpid(pid, &status, WNOHANG) == pid) {
            restarted_pid = 0;
            return;
        }
        struct timespec ten_ms = {0, 10 * 1000 * 1000};
        nanosleep(&ten_ms, NULL);
    }
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
    restarted_pid = 0;
}

/* Where every key maps now, against the owners at the start. */
struct mapping {
    int64_t t;
    size_t victim_elsewhere, victim_home, live_moved;
    int in[MAX_SERVERS];
};

static struct mapping scan_mapping(omcache_t *mc, const char *keybuf, size_t keylen,
                                   int nkeys, const int *owner, int victim)
{
    struct mapping m;
    int k;
    memset(&m, 0, sizeof m);
    m.t = now_ns();
    for (k = 0; k < nkeys; k++) {
        int s = omcache_server_index_for_key(mc, (const unsigned char *)keybuf + (size_t)k * 32, keylen);
        if (owner[k] == victim) {
            if (s == victim) {
                m.victim_home++;
            } else if (s >= 0 && s < MAX_SERVERS) {
                m.victim_elsewhere++;
                m.in[s]++;
            }
        } else if (s != owner[k]) {
            m.live_moved++;
        }
    }
    return m;
}

/* ----- statistics -------------------------------------------------------- */

struct phase_stats {
    size_t calls, failed;
    double p50, p99, max;   /* ms */
};

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

static struct phase_stats phase(int64_t from, int64_t to)
{
    struct phase_stats s;
    uint32_t *lat;
    size_t i, n = 0;

    memset(&s, 0, sizeof s);
    lat = malloc((n_calls ? n_calls : 1) * sizeof *lat);
    if (!lat)
        return s;
    for (i = 0; i < n_calls; i++) {
        if (calls[i].start < from || calls[i].start >= to)
            continue;
        lat[n++] = calls[i].lat;
        if (!served(calls[i].rc))
            s.failed++;
    }
    s.calls = n;
    if (n) {
        qsort(lat, n, sizeof *lat, cmp_u32);
        s.p50 = lat[(n - 1) / 2] / 1e6;
        s.p99 = lat[(size_t)((double)(n - 1) * 0.99)] / 1e6;
        s.max = lat[n - 1] / 1e6;
    }
    free(lat);
    return s;
}

static void print_phase(const char *name, int64_t from, int64_t to)
{
    struct phase_stats s = phase(from, to);
    printf("  %-34s %9.1f %8zu %7zu %8.3f %8.3f %8.3f\n", name,
           ms(to - from), s.calls, s.failed, s.p50, s.p99, s.max);
}

/* report helpers */
static int64_t report_t_kill;
static int fails;

struct event {
    const char *label;
    int64_t t;
};

static struct event timeline[16];
static int n_timeline;

static void timeline_add(const char *label, int64_t t)
{
    if (n_timeline < 16) {
        timeline[n_timeline].label = label;
        timeline[n_timeline].t = t;
        n_timeline++;
    }
}

/* in time order (stable), events that never happened last */
static void timeline_print(void)
{
    int i, j;
    struct event tmp;
    for (i = 1; i < n_timeline; i++) {
        for (j = i; j > 0; j--) {
            int64_t a = timeline[j - 1].t, b = timeline[j].t;
            if (b == NEVER || (a != NEVER && a <= b))
                break;
            tmp = timeline[j - 1];
            timeline[j - 1] = timeline[j];
            timeline[j] = tmp;
        }
    }
    for (i = 0; i < n_timeline; i++) {
        if (timeline[i].t == NEVER)
            printf("  %-50s %12s\n", timeline[i].label, "never");
        else
            printf("  %-50s %+12.3f\n", timeline[i].label, ms(timeline[i].t - report_t_kill));
    }
}

static void figure_row(const char *label, int64_t from, int64_t to)
{
    if (from == NEVER || to == NEVER)
        printf("  %-58s %9s\n", label, "never");
    else
        printf("  %-58s %9.3f ms\n", label, ms(to - from));
}

static void check(int ok, const char *what)
{
    printf("  %-4s %s\n", ok ? "ok" : "FAIL", what);
    if (!ok)
        fails++;
}

static const char *server_addr(int i)
{
    static char buf[96];
    snprintf(buf, sizeof buf, "%.63s:%d", servers[i].host, servers[i].port);
    return buf;
}

/* ----- main -------------------------------------------------------------- */

static void usage(void)
{
    fprintf(stderr, "usage: failover_report [-k INDEX] [-d DIR] [-n KEYS] [-w MS] [-r MS] [-t MS]\n"
                    "                       SERVERS PORT=PID...\n");
    exit(2);
}

static long num_arg(const char *s, long min, long max)
{
    char *end;
    long v;
    errno = 0;
    v = strtol(s, &end, 10);
    if (errno || *end || end == s || v < min || v > max)
        usage();
    return v;
}

int main(int argc, char **argv)
{
    int victim = 1, nkeys = 10000, opt, i, rc;
    long warm_ms = 1000, restart_ms = 1500, tail_ms = 500;
    const char *dir = NULL, *server_list;
    omcache_t *mc;
    char *keybuf, *valbuf;
    size_t keylen = 0;
    int *owner;
    int victim_keys = 0, probe_key = -1;
    struct sigaction sa;
    struct itimerval it;
    int64_t t_start, t_stream, t_kill = NEVER, t_noticed = NEVER;
    int64_t t_first_fail = NEVER, t_first_served = NEVER, t_moved = NEVER, t_moved_scan = NEVER;
    int64_t t_restart = NEVER, t_listen = NEVER, t_back_mapped = NEVER, t_back_scan = NEVER;
    int64_t t_back_served = NEVER, t_recovered = NEVER, t_end;
    int64_t last_listen_check = 0, t_first_probe_fail = NEVER;
    size_t in_flight_call = (size_t)-1, first_after_kill = (size_t)-1;
    size_t fail_dead_to_dead = 0, fail_dead_to_live = 0, fail_live = 0, wrong = 0;
    size_t fail_in_flight = 0, fail_before_noticed = 0, fail_after_noticed = 0;
    size_t dead_key_calls_after_kill = 0, live_keys_moved = -1, moved_unrestored = -1;
    size_t failed_idx[MAX_FAILED_SHOWN];
    size_t n_failed_shown = 0, n_failed_total = 0;
    int k, moved_scans = 0, restart_exited = 0, restart_status = 0, gave_up = 0;
    char victim_addr[96];

    while ((opt = getopt(argc, argv, "k:d:n:w:r:t:")) != -1) {
        switch (opt) {
        case 'k': victim = (int)num_arg(optarg, 0, MAX_SERVERS - 1); break;
        case 'd': dir = optarg; break;
        case 'n': nkeys = (int)num_arg(optarg, 100, 1000000); break;
        case 'w': warm_ms = num_arg(optarg, 100, 60000); break;
        case 'r': restart_ms = num_arg(optarg, 0, 60000); break;
        case 't': tail_ms = num_arg(optarg, 0, 60000); break;
        default: usage();
        }
    }
    if (argc - optind < 2)
        usage();
    server_list = argv[optind];

    t_start = now_ns();
    mc = omcache_init();
    if (!mc) {
        fprintf(stderr, "failover_report: omcache_init failed\n");
        return 2;
    }
    omcache_set_log_callback(mc, LOG_DEBUG, log_cb, NULL);
    if (omcache_set_servers(mc, server_list) != OMCACHE_OK) {
        fprintf(stderr, "failover_report: omcache_set_servers(\"%s\") failed\n", server_list);
        return 2;
    }
    omcache_set_connect_timeout(mc, CONNECT_TIMEOUT_MS);
    omcache_set_dead_timeout(mc, DEAD_TIMEOUT_MS);
    omcache_set_reconnect_timeout(mc, RECONNECT_TIMEOUT_MS);

    /* servers in omcache's order, with the pids given on the command line */
    for (n_servers = 0; n_servers < MAX_SERVERS; n_servers++) {
        omcache_server_info_t *info = omcache_server_info(mc, n_servers);
        if (!info)
            break;
        snprintf(servers[n_servers].host, sizeof servers[n_servers].host, "%s", info->hostname);
        servers[n_servers].port = info->port;
        omcache_server_info_free(mc, info);
    }
    if (victim >= n_servers) {
        fprintf(stderr, "failover_report: -k %d but only %d servers\n", victim, n_servers);
        return 2;
    }
    for (i = optind + 1; i < argc; i++) {
        long port, pid;
        int s;
        char *eq = strchr(argv[i], '=');
        if (!eq)
            usage();
        *eq = '\0';
        port = num_arg(argv[i], 1, 65535);
        pid = num_arg(eq + 1, 2, 1L << 30);
        for (s = 0; s < n_servers; s++)
            if (servers[s].port == port)
                servers[s].pid = (pid_t)pid;
    }
    if (servers[victim].pid <= 0) {
        fprintf(stderr, "failover_report: no pid given for port %d (server %d)\n",
                servers[victim].port, victim);
        return 2;
    }
    if (strcmp(servers[victim].host, "127.0.0.1") != 0 ||
        !pid_is_memcached_on(servers[victim].pid, servers[victim].port)) {
        fprintf(stderr, "failover_report: pid %ld is not a memcached on 127.0.0.1:%d; not killing it\n",
                (long)servers[victim].pid, servers[victim].port);
        return 2;
    }
    victim_pid = servers[victim].pid;
    snprintf(victim_addr, sizeof victim_addr, "%s:%d", servers[victim].host, servers[victim].port);

    memset(&sa, 0, sizeof sa);
    sigemptyset(&sa.sa_mask);
    sa.sa_handler = on_terminate;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);

    /* keys and values ("value-of-<key>"), all stored */
    keybuf = malloc((size_t)nkeys * 32);
    valbuf = malloc((size_t)nkeys * 48);
    owner = malloc((size_t)nkeys * sizeof *owner);
    if (!keybuf || !valbuf || !owner) {
        fprintf(stderr, "failover_report: out of memory\n");
        return 2;
    }
    for (i = 0; i < nkeys; i++) {
        const unsigned char *k = (unsigned char *)keybuf + (size_t)i * 32;
        snprintf(keybuf + (size_t)i * 32, 32, "failover-key-%07d", i);
        snprintf(valbuf + (size_t)i * 48, 48, "value-of-failover-key-%07d", i);
        keylen = strlen((const char *)k);
        rc = omcache_set(mc, k, keylen, (unsigned char *)valbuf + (size_t)i * 48,
                         strlen(valbuf + (size_t)i * 48), 0, 0, 0, CALL_TIMEOUT_MS);
        if (rc != OMCACHE_OK) {
            fprintf(stderr, "failover_report: storing %s: %s\n", k, omcache_strerror(rc));
            return 2;
        }
        owner[i] = omcache_server_index_for_key(mc, k, keylen);
        if (owner[i] < 0 || owner[i] >= n_servers) {
            fprintf(stderr, "failover_report: key %s maps to %d\n", k, owner[i]);
            return 2;
        }
        servers[owner[i]].keys++;
        if (owner[i] == victim) {
            victim_keys++;
            if (probe_key < 0)
                probe_key = i;
        }
    }
#define KEY(i) ((const unsigned char *)keybuf + (size_t)(i) * 32)
#define VAL(i) (valbuf + (size_t)(i) * 48)
    if (victim_keys == 0) {
        fprintf(stderr, "failover_report: server %d owns no key\n", victim);
        return 2;
    }

    /* the kill: SIGALRM after warm_ms, no SA_RESTART (a blocking call in the
     * library sees EINTR) */
    memset(&sa, 0, sizeof sa);
    sigemptyset(&sa.sa_mask);
    sa.sa_handler = on_alarm;
    sigaction(SIGALRM, &sa, NULL);
    memset(&it, 0, sizeof it);
    it.it_value.tv_sec = warm_ms / 1000;
    it.it_value.tv_usec = (warm_ms % 1000) * 1000;
    t_stream = now_ns();
    if (setitimer(ITIMER_REAL, &it, NULL) != 0) {
        perror("failover_report: setitimer");
        return 2;
    }

    for (i = 0;; i = (i + 1) % nkeys) {
        int64_t now = now_ns(), t0, t1;
        int target, fired_before;
        const unsigned char *val = NULL;
        size_t vlen = 0;
        struct call *c;

        if (kill_fired && t_kill == NEVER) {
            t_kill = ts_ns(&kill_ts);
            first_after_kill = n_calls;
        }
        if (!kill_fired && now - t_stream > (warm_ms + 3000) * NS_PER_MS) {
            fprintf(stderr, "failover_report: the kill timer did not fire\n");
            return 2;
        }
        if (t_kill != NEVER && t_restart == NEVER && now - t_kill >= restart_ms * NS_PER_MS) {
            t_restart = now_ns();
            if (start_memcached(servers[victim].port, dir) < 0) {
                perror("failover_report: fork");
                gave_up = 1;
                break;
            }
        }
        if (t_restart != NEVER && !restart_exited && restarted_pid > 0) {
            int status;
            if (waitpid(restarted_pid, &status, WNOHANG) == restarted_pid) {
                restart_exited = 1;
                restart_status = status;
                restarted_pid = 0;
            }
        }
        if (t_restart != NEVER && t_listen == NEVER && now - last_listen_check >= NS_PER_MS) {
            last_listen_check = now;
            if (accepts(servers[victim].port))
                t_listen = now_ns();
        }
        if (t_recovered != NEVER && now - t_recovered >= tail_ms * NS_PER_MS)
            break;
        if (t_restart != NEVER && t_recovered == NEVER &&
            (now - t_restart >= RECOVERY_LIMIT_MS * NS_PER_MS || restart_exited)) {
            gave_up = 1;
            break;
        }

        target = omcache_server_index_for_key(mc, KEY(i), keylen);
        fired_before = kill_fired;
        t0 = now_ns();
        rc = omcache_get(mc, KEY(i), keylen, &val, &vlen, NULL, NULL, CALL_TIMEOUT_MS);
        t1 = now_ns();

        c = new_call();
        c->start = t0;
        c->lat = (uint32_t)(t1 - t0 > UINT32_MAX ? UINT32_MAX : t1 - t0);
        c->key = i;
        c->target = (int16_t)target;
        c->rc = (uint16_t)rc;
        c->in_flight_at_kill = !fired_before && kill_fired;
        if (c->in_flight_at_kill)
            in_flight_call = n_calls - 1;
        if (kill_fired && t_kill == NEVER) {
            t_kill = ts_ns(&kill_ts);
            first_after_kill = n_calls - 1;
        }

        if (rc == OMCACHE_OK &&
            (vlen != strlen(VAL(i)) || memcmp(val, VAL(i), vlen) != 0))
            wrong++;
        if (!served(rc)) {
            n_failed_total++;
            if (n_failed_shown < MAX_FAILED_SHOWN)
                failed_idx[n_failed_shown++] = n_calls - 1;
            if (owner[i] != victim)
                fail_live++;
            else if (target == victim)
                fail_dead_to_dead++;
            else
                fail_dead_to_live++;
            if (t_kill != NEVER && t_first_fail == NEVER)
                t_first_fail = t1;
        }
        if (t_kill == NEVER)
            continue;

        /* (a) the dead server's keys served elsewhere */
        if (owner[i] == victim && t_restart == NEVER) {
            dead_key_calls_after_kill++;
            if (t_first_served == NEVER && target != victim && served(rc))
                t_first_served = t1;
        }
        /* The library skips a dead server's points as a whole, so one key
         * (probe_key) tells when its keys move; a full scan of all keys
         * (about 100 ns a lookup, ~1 ms in all) confirms it a little later,
         * so as not to delay the calls being timed. */
        if (t_restart == NEVER) {
            if (t_moved == NEVER &&
                omcache_server_index_for_key(mc, KEY(probe_key), keylen) != victim)
                t_moved = now_ns();
            if (t_moved != NEVER && t_moved_scan == NEVER &&
                (t_first_served != NEVER || now_ns() - t_moved > SCAN_DELAY_MS * NS_PER_MS) &&
                (moved_scans++ == 0 || n_calls % 1000 == 0)) {
                struct mapping m = scan_mapping(mc, keybuf, keylen, nkeys, owner, victim);
                if (m.victim_elsewhere == (size_t)victim_keys) {
                    t_moved_scan = m.t;
                    live_keys_moved = m.live_moved;
                    for (k = 0; k < n_servers; k++)
                        servers[k].moved_in = m.in[k];
                }
            }
        }

        /* (d) recovery after the restart */
        if (t_restart != NEVER) {
            if (t_back_mapped == NEVER &&
                omcache_server_index_for_key(mc, KEY(probe_key), keylen) == victim)
                t_back_mapped = now_ns();
            if (t_back_served == NEVER && owner[i] == victim && target == victim && served(rc))
                t_back_served = t1;
            if (t_back_mapped != NEVER && t_back_served != NEVER && t_recovered == NEVER)
                t_recovered = t_back_served > t_back_mapped ? t_back_served : t_back_mapped;
            if (t_recovered != NEVER && t_back_scan == NEVER &&
                now_ns() - t_recovered > SCAN_DELAY_MS * NS_PER_MS) {
                struct mapping m = scan_mapping(mc, keybuf, keylen, nkeys, owner, victim);
                t_back_scan = m.t;
                moved_unrestored = m.live_moved + (size_t)victim_keys - m.victim_home;
            }
        }
    }
    t_end = now_ns();
    report_t_kill = t_kill == NEVER ? t_start : t_kill;
    if (t_recovered != NEVER && t_back_scan == NEVER) {
        struct mapping m = scan_mapping(mc, keybuf, keylen, nkeys, owner, victim);
        t_back_scan = m.t;
        moved_unrestored = m.live_moved + (size_t)victim_keys - m.victim_home;
    }

    /* the restarted server's own view: its pid and how many gets it saw */
    {
        omcache_value_t vals[128];
        size_t nv = 128, v;
        long stat_pid = -1, stat_cmd_get = -1;
        if (t_recovered != NEVER &&
            omcache_stat(mc, NULL, vals, &nv, victim, CALL_TIMEOUT_MS) == OMCACHE_OK) {
            for (v = 0; v < nv; v++) {
                char name[64], data[64];
                snprintf(name, sizeof name, "%.*s", (int)vals[v].key_len, (const char *)vals[v].key);
                snprintf(data, sizeof data, "%.*s", (int)vals[v].data_len, (const char *)vals[v].data);
                if (strcmp(name, "pid") == 0)
                    stat_pid = atol(data);
                else if (strcmp(name, "cmd_get") == 0)
                    stat_cmd_get = atol(data);
            }
        }

        /* from the log: when the library first said something about the
         * dead server, and when its first background retry (before the
         * restart) gave up ("still down" or "disabled" after "retrying") */
        {
            int retrying = 0;
            for (i = 0; i < n_logs; i++) {
                if (t_kill == NEVER || logs[i].t < t_kill || !strstr(logs[i].msg, victim_addr))
                    continue;
                if (t_noticed == NEVER)
                    t_noticed = logs[i].t;
                if (strstr(logs[i].msg, "retrying"))
                    retrying = 1;
                if (t_first_probe_fail == NEVER && (t_restart == NEVER || logs[i].t < t_restart) &&
                    (strstr(logs[i].msg, "still down") ||
                     (retrying && strstr(logs[i].msg, "disabled"))))
                    t_first_probe_fail = logs[i].t;
            }
        }

        /* failed calls for the dead server's keys, by when they were made */
        for (v = 0; v < n_calls; v++) {
            const struct call *f = &calls[v];
            if (served(f->rc) || owner[f->key] != victim || f->target != victim)
                continue;
            if (f->in_flight_at_kill)
                fail_in_flight++;
            else if (t_noticed == NEVER || f->start < t_noticed)
                fail_before_noticed++;
            else
                fail_after_noticed++;
        }

        /* ----- the report ----- */
        printf("OMcache failover report: kill -9 of one of %d memcached servers\n\n", n_servers);
        printf("  timeouts   connect %d ms, dead %d ms, reconnect %d ms; each get %d ms\n",
               CONNECT_TIMEOUT_MS, DEAD_TIMEOUT_MS, RECONNECT_TIMEOUT_MS, CALL_TIMEOUT_MS);
        printf("  workload   %d keys stored (value \"value-of-<key>\"), then one omcache_get at\n"
               "             a time, round-robin over all keys\n", nkeys);
        printf("  kill       kill(pid, SIGKILL) from a SIGALRM handler %ld ms into the stream\n"
               "             (no SA_RESTART: it may interrupt a call); restart = fork+exec of\n"
               "             memcached on the same port %ld ms after the kill\n", warm_ms, restart_ms);
        printf("  servers    index  address            pid      keys\n");
        for (i = 0; i < n_servers; i++)
            printf("             [%d]    %-18s %-8ld %5d%s\n", i, server_addr(i), (long)servers[i].pid,
                   servers[i].keys, i == victim ? "   <- killed, then restarted" : "");
        if (kill_errno)
            printf("  !! kill(%ld, SIGKILL) failed: %s\n", (long)victim_pid, strerror(kill_errno));

        printf("\nTimeline (ms after the kill)\n");
        if (in_flight_call != (size_t)-1)
            printf("  (a get was in flight at the kill, to server [%d]%s; it returned %s)\n",
                   calls[in_flight_call].target,
                   calls[in_flight_call].target == victim ? ", the victim" : "",
                   rc_name(calls[in_flight_call].rc));
        else
            printf("  (no get was in flight at the kill)\n");
        timeline_add("kill -9", t_kill);
        timeline_add("first failed call returns", t_first_fail);
        timeline_add("first log message about the dead server (*)", t_noticed);
        timeline_add("its keys stop mapping to it", t_moved);
        timeline_add("first of its keys served by another server", t_first_served);
        timeline_add("full scan: every one of its keys maps elsewhere", t_moved_scan);
        timeline_add("first background retry gives up (*)", t_first_probe_fail);
        timeline_add("memcached restarted (fork+exec)", t_restart);
        timeline_add("restarted server accepts connections", t_listen);
        timeline_add("its keys map back to it", t_back_mapped);
        timeline_add("first of its keys answered by it", t_back_served);
        timeline_add("full scan: mapping identical to before the kill", t_back_scan);
        timeline_add("end of the stream", t_end);
        timeline_print();
        printf("  (*) when the log callback ran: the library delivers log messages at the end\n"
               "      of the call that produced them\n");

        printf("\nFigures\n");
        figure_row("(a) kill -> first dead-server key served by another server", t_kill, t_first_served);
        figure_row("    kill -> every dead-server key maps elsewhere", t_kill, t_moved_scan == NEVER ? NEVER : t_moved);
        if (t_moved_scan != NEVER) {
            printf("        its %d keys went to:", victim_keys);
            for (i = 0; i < n_servers; i++)
                if (i != victim)
                    printf(" [%d] %d", i, servers[i].moved_in);
            printf("; live-server keys moved: %zu\n", live_keys_moved);
        }
        printf("  %-58s %9zu\n", "(b) failed calls, keys of the dead server",
               fail_dead_to_dead + fail_dead_to_live);
        printf("  %-58s %9zu\n", "      in flight to it at the kill", fail_in_flight);
        printf("  %-58s %9zu\n", "      sent to it after the kill, before the library saw", fail_before_noticed);
        printf("  %-58s %9zu\n", "      sent to it after the library saw the failure", fail_after_noticed);
        printf("  %-58s %9zu   must be 0\n", "      sent to another server after the move", fail_dead_to_live);
        printf("  %-58s %9zu   must be 0\n", "    failed calls, keys of live servers", fail_live);
        printf("  %-58s %9zu   must be 0\n", "    wrong values", wrong);
        printf("  %-58s %9zu\n", "    calls for dead-server keys from kill to restart", dead_key_calls_after_kill);
        {
            struct phase_stats before = phase(t_stream, t_kill);
            struct phase_stats around = phase(t_kill, t_kill + AROUND_FAILURE_MS * NS_PER_MS);
            struct phase_stats down = phase(t_kill, t_restart == NEVER ? t_end : t_restart);
            struct phase_stats back = phase(t_restart, t_recovered == NEVER ? t_end : t_recovered);
            printf("  (c) max call latency, first %3d ms after the kill          %9.3f ms\n",
                   AROUND_FAILURE_MS, around.max);
            printf("      max call latency, kill -> restart                      %9.3f ms\n", down.max);
            printf("      max call latency, restart -> recovered                 %9.3f ms\n", back.max);
            printf("      max call latency before the kill (baseline)            %9.3f ms\n", before.max);
            if (first_after_kill != (size_t)-1 && first_after_kill < n_calls) {
                printf("      calls from the kill on (ms):");
                for (v = first_after_kill; v < n_calls && v < first_after_kill + 8; v++)
                    printf(" %.3f%s", calls[v].lat / 1e6,
                           served(calls[v].rc) ? "" : "(failed)");
                printf(" ...\n");
            }
        }
        figure_row("(d) restart -> restarted server accepts connections", t_restart, t_listen);
        figure_row("    restart -> its keys map back to it", t_restart, t_back_mapped);
        figure_row("    restart -> first of its keys answered by it", t_restart, t_back_served);
        printf("        (by design at most reconnect_timeout = %d ms, the background\n"
               "        retry period, plus a connect and a NOOP)\n", RECONNECT_TIMEOUT_MS);
        if (t_back_scan != NEVER)
            printf("        keys mapped differently from before the kill: %zu\n", moved_unrestored);
        if (stat_pid >= 0)
            printf("        restarted server's stats: pid %ld (%s), cmd_get %ld\n", stat_pid,
                   stat_pid == (long)restarted_pid ? "the process started here" : "NOT the process started here",
                   stat_cmd_get);
        if (restart_exited)
            printf("  !! the restarted memcached exited (status %d); see its log\n", restart_status);

        printf("\nLatency per phase (each call one omcache_get)\n");
        printf("  %-34s %9s %8s %7s %8s %8s %8s\n", "phase", "span ms", "calls", "failed",
               "p50 ms", "p99 ms", "max ms");
        print_phase("before the kill", t_stream, t_kill);
        if (t_kill != NEVER) {
            char name[64];
            snprintf(name, sizeof name, "first %d ms after the kill", AROUND_FAILURE_MS);
            print_phase(name, t_kill, t_kill + AROUND_FAILURE_MS * NS_PER_MS);
            print_phase("kill -> restart", t_kill, t_restart == NEVER ? t_end : t_restart);
        }
        if (t_restart != NEVER)
            print_phase("restart -> recovered", t_restart, t_recovered == NEVER ? t_end : t_recovered);
        if (t_recovered != NEVER)
            print_phase("after recovery", t_recovered, t_end);

        printf("\nFailed calls (%zu)\n", n_failed_total);
        for (v = 0; v < n_failed_shown; v++) {
            const struct call *f = &calls[failed_idx[v]];
            printf("  %+9.3f ms  %s  owner [%d] sent to [%d]  %-14s %7.3f ms  %s\n",
                   ms(f->start - t_kill), (const char *)KEY(f->key), owner[f->key], f->target,
                   rc_name(f->rc), f->lat / 1e6,
                   f->in_flight_at_kill ? "in flight at the kill" :
                   f->start < t_kill ? "before the kill" :
                   t_noticed == NEVER || f->start < t_noticed ? "sent after the kill" :
                   "sent after the library saw the failure");
        }
        if (n_failed_total > n_failed_shown)
            printf("  ... %zu more\n", n_failed_total - n_failed_shown);

        printf("\nLog callback (all levels; ms after the kill when the callback ran, message as given)\n");
        for (i = 0; i < n_logs; i++)
            printf("  %+10.3f  %-7s %s\n", ms(logs[i].t - (t_kill == NEVER ? t_start : t_kill)),
                   level_name(logs[i].level), logs[i].msg);
        if (n_logs_dropped)
            printf("  ... %d more not recorded\n", n_logs_dropped);

        /* ----- verdict ----- */
        printf("\nChecks\n");
        check(t_kill != NEVER && !kill_errno, "the server was killed");
        check(fail_live == 0, "no failed call for a key of a live server");
        check(fail_dead_to_live == 0, "no failed call for a dead-server key once it was routed elsewhere");
        check(wrong == 0, "no wrong value");
        check(t_first_served != NEVER, "the dead server's keys were served by the others");
        check(t_moved_scan != NEVER && live_keys_moved == 0,
              "every dead-server key moved, no live-server key moved");
        check(!gave_up && t_recovered != NEVER, "the restarted server took its keys back and answered");
        check(t_back_scan != NEVER && moved_unrestored == 0, "the key mapping is the original one again");
        check(stat_pid < 0 || stat_pid == (long)restarted_pid, "its answers came from the restarted process");
    }

    omcache_free(mc);
    stop_restarted();
    printf("\n%s (%.1f s)\n", fails ? "FAILED" : "PASSED", ms(now_ns() - t_start) / 1000);
    free(keybuf);
    free(valbuf);
    free(owner);
    free(calls);
    return fails ? 1 : 0;
}
