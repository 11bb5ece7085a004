/*
 * tls.c - memcached over TLS (memcached -Z) with the OMCACHE_0.3 functions
 *
 *     omcache_set_tls_ca_file(mc, "/etc/memcached/ca.crt");   // NULL: system CAs
 *     omcache_set_tls_client_cert(mc, "client.crt", "client.key");  // if required
 *     omcache_set_tls(mc, 1);
 *     ... every command as without TLS ...
 *     if (rc == OMCACHE_SERVER_FAILURE && omcache_tls_error(mc, 0))
 *         puts(omcache_tls_error(mc, 0));   // why TLS to server 0 failed
 *
 * With TLS on, every connection runs a TLS handshake, bounded by the connect
 * timeout, before anything is sent, and the server's certificate is verified
 * for the host name or IP address of its entry (or the name given with
 * omcache_set_tls_server_name).  A failure is never a fallback to plaintext:
 * the requests fail with OMCACHE_SERVER_FAILURE, the log callback gets the
 * reason and omcache_tls_error() names it.
 *
 * Usage: tls TLS_SERVER MTLS_SERVER CERT_DIR PLAIN_SERVER
 *   TLS_SERVER    memcached -Z asking for no client certificate
 *   MTLS_SERVER   memcached -Z requiring a client certificate (ssl_verify_mode=2)
 *   CERT_DIR      ca.crt (signed both servers' certificates, valid for
 *                 127.0.0.1 and localhost), other-ca.crt (unrelated),
 *                 client.crt and client.key (signed by ca.crt)
 *   PLAIN_SERVER  memcached without TLS
 * (c-examples/run.sh makes them with c-examples/tls-setup.sh.)
 *
 * Part of omcache-rs.  Licensed under the Apache License, Version 2.0.
 */

#define _POSIX_C_SOURCE 200809L

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "check.h"

#define CONNECT_TIMEOUT_MS 1000

static const char *cert_dir;

/* A file of CERT_DIR (the returned buffer is reused by the next call but
 * three). */
static const char *cert(const char *name)
{
    static char paths[4][1024];
    static int next;
    char *p = paths[next++ % 4];
    snprintf(p, sizeof paths[0], "%s/%s", cert_dir, name);
    return p;
}

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000.0 + ts.tv_nsec / 1e6;
}

/* $OMCACHE_TEST_SLACK (default 1): the factor upper time bounds are
 * multiplied by (slow machines, valgrind). */
static double test_slack(void)
{
    const char *s = getenv("OMCACHE_TEST_SLACK");
    double f = s && *s ? strtod(s, NULL) : 1.0;
    return f >= 1.0 ? f : 1.0;
}

/* The log lines of the current scenario, to find the reason in. */
static char log_text[16384];

static void collect_log(void *context, int level, const char *msg)
{
    (void) context;
    size_t used = strlen(log_text);
    snprintf(log_text + used, sizeof log_text - used, "%d %s\n", level, msg);
}

/* A handle for `servers` with TLS configured by the caller afterwards. */
static omcache_t *new_handle(const char *servers)
{
    omcache_t *mc = omcache_init();
    REQUIRE(mc != NULL, "omcache_init failed");
    CHECK_RC(omcache_set_servers(mc, servers), OMCACHE_OK);
    CHECK_RC(omcache_set_connect_timeout(mc, CONNECT_TIMEOUT_MS), OMCACHE_OK);
    CHECK_RC(omcache_set_log_callback(mc, LOG_INFO, collect_log, NULL), OMCACHE_OK);
    log_text[0] = '\0';
    return mc;
}

/* After a failure the server is out of service (its keys' commands return
 * OMCACHE_NO_SERVERS) until a probe reconnects it; new TLS settings start
 * that probe at once.  Wait for it as a program would: noop until it answers. */
static void wait_until_back(omcache_t *mc)
{
    double give_up = now_ms() + (CONNECT_TIMEOUT_MS + 1000) * test_slack();
    int rc;
    while ((rc = omcache_noop(mc, 0, 100)) != OMCACHE_OK && now_ms() < give_up) {
        struct timespec pause = { 0, 10 * 1000 * 1000 };
        nanosleep(&pause, NULL);
    }
    CHECK_RC(rc, OMCACHE_OK);
}

/* set, get, a 20-key multi-get and delete on `mc` (one server, TLS on). */
static void use_server(omcache_t *mc, const char *prefix)
{
    enum { N = 20 };
    int failed_before = checks_failed;
    char names[N][64];
    const unsigned char *keys[N];
    size_t key_lens[N];
    for (int i = 0; i < N; i++) {
        snprintf(names[i], sizeof names[i], "%s-%d", prefix, i);
        keys[i] = (const unsigned char *) names[i];
        key_lens[i] = strlen(names[i]);
        CHECK_RC(omcache_set(mc, keys[i], key_lens[i], K(names[i]), 0, (uint32_t) i, 0, 2000),
                 OMCACHE_OK);
    }
    const unsigned char *value = NULL;
    size_t value_len = 0;
    uint32_t flags = 99;
    CHECK_RC(omcache_get(mc, keys[7], key_lens[7], &value, &value_len, &flags, NULL, 2000),
             OMCACHE_OK);
    CHECK(value_len == key_lens[7] && value && memcmp(value, names[7], value_len) == 0 &&
          flags == 7, "get %s over TLS: %.*s flags %u", names[7], (int) value_len,
          value ? (const char *) value : "", flags);

    omcache_req_t reqs[N];
    omcache_value_t values[N];
    size_t req_count = N, value_count = N;
    CHECK_RC(omcache_get_multi(mc, keys, key_lens, N, reqs, &req_count, values, &value_count, 2000),
             OMCACHE_OK);
    CHECK(req_count == 0 && value_count == N, "multi-get: %zu values, %zu requests left",
          value_count, req_count);
    int right = 0;
    for (size_t v = 0; v < value_count; v++) {
        const omcache_value_t *r = &values[v];
        right += r->status == OMCACHE_OK && r->key_len == r->data_len && r->flags < N &&
                 memcmp(r->key, r->data, r->key_len) == 0 &&
                 memcmp(r->key, names[r->flags], r->key_len) == 0;
    }
    CHECK(right == N, "multi-get over TLS: %d of %d values right", right, N);
    CHECK_RC(omcache_delete(mc, keys[0], key_lens[0], 2000), OMCACHE_OK);
    CHECK_RC(omcache_get(mc, keys[0], key_lens[0], &value, &value_len, NULL, NULL, 2000),
             OMCACHE_NOT_FOUND);
    CHECK(omcache_tls_error(mc, 0) == NULL, "TLS error after success: %s", omcache_tls_error(mc, 0));
    if (checks_failed != failed_before)
        fprintf(stderr, "    (%s) the log:\n%s", prefix, log_text);
}

/* A get on `mc` fails within the connect timeout, omcache_tls_error(mc, 0)
 * contains `reason` and so does a log line. */
static void expect_failure(omcache_t *mc, const char *what, const char *reason)
{
    const unsigned char *value = NULL;
    size_t value_len = 0;
    double start = now_ms();
    int rc = omcache_get(mc, K("tls-key"), &value, &value_len, NULL, NULL, 5000);
    double took = now_ms() - start;
    CHECK(rc == OMCACHE_SERVER_FAILURE || rc == OMCACHE_NO_SERVERS,
          "%s: get returned %d (%s), expected a server failure", what, rc, omcache_strerror(rc));
    double bound = (CONNECT_TIMEOUT_MS + 500) * test_slack();
    CHECK(took <= bound, "%s: failed after %.0f ms, expected at most %.0f", what, took, bound);
    const char *why = omcache_tls_error(mc, 0);
    CHECK(why != NULL && strstr(why, reason) != NULL, "%s: omcache_tls_error is \"%s\", expected \"%s\"",
          what, why ? why : "(null)", reason);
    CHECK(strstr(log_text, reason) != NULL || strstr(log_text, "TLS") != NULL,
          "%s: no TLS reason in the log:\n%s", what, log_text);
    printf("%-36s %s after %.0f ms\n    log: %s", what, why ? why : "(null)", took,
           log_text[0] ? log_text : "(nothing)\n");
    /* out of range: no server there */
    CHECK(omcache_tls_error(mc, 1) == NULL && omcache_tls_error(mc, -1) == NULL,
          "omcache_tls_error out of range is not NULL");
}

/* `needle` does not occur in the `len` bytes at `hay`. */
static int memmem_absent(const unsigned char *hay, size_t len, const char *needle)
{
    size_t n = strlen(needle);
    for (size_t i = 0; i + n <= len; i++)
        if (memcmp(hay + i, needle, n) == 0)
            return 0;
    return 1;
}

/* A listener on a free 127.0.0.1 port that never accepts: the connect
 * succeeds (the kernel's backlog) and nothing ever answers the handshake.
 * Writes "127.0.0.1:PORT" to `server`; returns the socket (or -1). */
static int silent_listener(char *server, size_t size)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa;
    socklen_t len = sizeof sa;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || bind(fd, (struct sockaddr *) &sa, sizeof sa) != 0 || listen(fd, 8) != 0 ||
        getsockname(fd, (struct sockaddr *) &sa, &len) != 0) {
        if (fd >= 0)
            close(fd);
        return -1;
    }
    snprintf(server, size, "127.0.0.1:%d", ntohs(sa.sin_port));
    return fd;
}

/* Arguments the setters refuse; the settings stay as they were. */
static void bad_settings(const char *tls_server)
{
    CHECK_RC(omcache_set_tls(NULL, 1), OMCACHE_INVALID);
    CHECK_RC(omcache_set_tls_ca_file(NULL, NULL), OMCACHE_INVALID);
    CHECK_RC(omcache_set_tls_client_cert(NULL, NULL, NULL), OMCACHE_INVALID);
    CHECK_RC(omcache_set_tls_server_name(NULL, NULL), OMCACHE_INVALID);
    CHECK_RC(omcache_set_tls_session_resumption(NULL, 1), OMCACHE_INVALID);
    CHECK(omcache_tls_error(NULL, 0) == NULL, "omcache_tls_error(NULL) is not NULL");

    omcache_t *mc = new_handle(tls_server);
    CHECK_RC(omcache_set_tls_ca_file(mc, cert("ca.crt")), OMCACHE_OK);
    CHECK_RC(omcache_set_tls_ca_file(mc, cert("no-such-ca.crt")), OMCACHE_INVALID);
    /* a key is not a certificate */
    CHECK_RC(omcache_set_tls_ca_file(mc, cert("client.key")), OMCACHE_INVALID);
    CHECK_RC(omcache_set_tls_client_cert(mc, cert("client.crt"), NULL), OMCACHE_INVALID);
    CHECK_RC(omcache_set_tls_client_cert(mc, cert("client.crt"), cert("no-such.key")),
             OMCACHE_INVALID);
    CHECK_RC(omcache_set_tls_server_name(mc, "not a host name"), OMCACHE_INVALID);
    CHECK_RC(omcache_set_tls_server_name(mc, ""), OMCACHE_INVALID);
    CHECK(strstr(log_text, "no-such-ca.crt") != NULL && strstr(log_text, "no-such.key") != NULL,
          "the refused files are not named in the log:\n%s", log_text);
    /* the CA set first is still in force */
    CHECK_RC(omcache_set_tls(mc, 1), OMCACHE_OK);
    CHECK_RC(omcache_set_tls(mc, 1), OMCACHE_OK);
    use_server(mc, "tls-kept");
    omcache_free(mc);
}

int main(int argc, char **argv)
{
    if (argc != 5) {
        fprintf(stderr, "usage: %s TLS_SERVER MTLS_SERVER CERT_DIR PLAIN_SERVER\n", argv[0]);
        return 2;
    }
    const char *tls_server = argv[1], *mtls_server = argv[2], *plain_server = argv[4];
    cert_dir = argv[3];
    omcache_t *mc;

    /* 1. TLS with the CA that signed the server's certificate: the entry's
     *    IP address is what the certificate is checked for. */
    mc = new_handle(tls_server);
    CHECK_RC(omcache_set_tls_ca_file(mc, cert("ca.crt")), OMCACHE_OK);
    CHECK_RC(omcache_set_tls(mc, 1), OMCACHE_OK);
    use_server(mc, "tls");
    CHECK(strstr(log_text, "TLS established") != NULL, "no handshake in the log:\n%s", log_text);
    /* Reconfiguring reconnects; a name the certificate holds works too. */
    CHECK_RC(omcache_set_tls_server_name(mc, "localhost"), OMCACHE_OK);
    CHECK_RC(omcache_set_tls_session_resumption(mc, 0), OMCACHE_OK);
    use_server(mc, "tls-localhost");
    /* Back to plaintext: the TLS server does not understand it, and no
     * plaintext byte is mistaken for TLS either way. */
    CHECK_RC(omcache_set_tls(mc, 0), OMCACHE_OK);
    CHECK_RC(omcache_set_servers(mc, plain_server), OMCACHE_OK);
    use_server(mc, "plain");
    omcache_free(mc);
    printf("set/get/multi-get over TLS: ok\n");

    /* 2. What a failure looks like: each within the connect timeout, with
     *    its reason. */
    mc = new_handle(tls_server);
    CHECK_RC(omcache_set_tls_ca_file(mc, cert("other-ca.crt")), OMCACHE_OK);
    CHECK_RC(omcache_set_tls(mc, 1), OMCACHE_OK);
    expect_failure(mc, "wrong CA", "unknown authority");
    omcache_free(mc);

    mc = new_handle(tls_server);
    CHECK_RC(omcache_set_tls_ca_file(mc, cert("ca.crt")), OMCACHE_OK);
    CHECK_RC(omcache_set_tls_server_name(mc, "cache.example"), OMCACHE_OK);
    CHECK_RC(omcache_set_tls(mc, 1), OMCACHE_OK);
    expect_failure(mc, "name mismatch", "not valid for the server's name");
    omcache_free(mc);

    mc = new_handle(plain_server);
    CHECK_RC(omcache_set_tls_ca_file(mc, cert("ca.crt")), OMCACHE_OK);
    CHECK_RC(omcache_set_tls(mc, 1), OMCACHE_OK);
    expect_failure(mc, "plaintext server", "TLS");
    omcache_free(mc);

    char silent[64];
    int silent_fd = silent_listener(silent, sizeof silent);
    REQUIRE(silent_fd >= 0, "cannot listen on 127.0.0.1");
    mc = new_handle(silent);
    CHECK_RC(omcache_set_tls_ca_file(mc, cert("ca.crt")), OMCACHE_OK);
    CHECK_RC(omcache_set_tls(mc, 1), OMCACHE_OK);
    expect_failure(mc, "server that never answers", "handshake not finished");
    omcache_free(mc);
    /* What reached it is a TLS ClientHello (record type 22), not the get. */
    int conn = accept(silent_fd, NULL, NULL);
    unsigned char first[512];
    ssize_t got = conn >= 0 ? read(conn, first, sizeof first) : -1;
    CHECK(got > 5 && first[0] == 22 && memmem_absent(first, (size_t) got, "tls-key"),
          "the silent server received %zd bytes starting with %d", got, got > 0 ? first[0] : -1);
    if (conn >= 0)
        close(conn);
    close(silent_fd);

    /* 3. Mutual TLS: refused without a client certificate, fine with one. */
    mc = new_handle(mtls_server);
    CHECK_RC(omcache_set_tls_ca_file(mc, cert("ca.crt")), OMCACHE_OK);
    CHECK_RC(omcache_set_tls(mc, 1), OMCACHE_OK);
    expect_failure(mc, "no client certificate", "refused");
    CHECK_RC(omcache_set_tls_client_cert(mc, cert("client.crt"), cert("client.key")), OMCACHE_OK);
    CHECK(omcache_tls_error(mc, 0) == NULL, "the failure outlived the new settings: %s",
          omcache_tls_error(mc, 0));
    wait_until_back(mc);
    use_server(mc, "mtls");
    omcache_free(mc);
    printf("mutual TLS: ok\n");

    bad_settings(tls_server);
    return check_summary(argv[0]);
}
