/* lmc_tls.c - the TLS options of our configuration strings (omcache-rs only; the real
 * libmemcached has none): libmemcached_check_configuration accepts them and explains bad
 * combinations; memcached() with them stores and reads over TLS (text and binary), through
 * a clone too; a client certificate for a server that requires one; a wrong CA and an
 * unreadable CA file fail with their reason and store nothing.
 *
 * With a 4th argument `env` (run with OMCACHE_TLS_CA_FILE naming the right CA) it checks how
 * the environment meets configuration strings instead: a string without TLS options takes
 * the environment's, one with TLS options decides alone, memcached_reset keeps the
 * environment's.
 *
 * Built against Debian's <libmemcached/memcached.h>, run with our libmemcached.so.11 by
 * compat-tests/run-tls.sh (with the OMCACHE_TLS* environment unset unless `env`).
 * Usage: lmc_tls TLS_PORT MUTUAL_PORT DIR [env] (DIR holds ca.crt, other-ca.crt,
 * client.crt/key).
 * Prints one PASS/FAIL line per check; exits 1 if any failed. */
#include <libmemcached/memcached.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int failures;

static void check(int ok, const char *what, const char *detail)
{
    printf("%s  lmc_tls: %s%s%s\n", ok ? "PASS" : "FAIL", what, detail ? ": " : "",
           detail ? detail : "");
    if (!ok)
        failures++;
}

/* The check's verdict on a string, and its error text when it refuses it. */
static memcached_return_t check_config(const char *cfg, char *err, size_t size)
{
    err[0] = 0;
    return libmemcached_check_configuration(cfg, strlen(cfg), err, size);
}

static void expect_refused(const char *cfg, const char *words)
{
    char err[512];
    memcached_return_t rc = check_config(cfg, err, sizeof err);
    char what[600];
    snprintf(what, sizeof what, "refuses %s", cfg);
    check(rc == MEMCACHED_PARSE_ERROR && strstr(err, words) != NULL, what, err);
    memcached_st *memc = memcached(cfg, strlen(cfg));
    snprintf(what, sizeof what, "memcached() gives NULL for %s", cfg);
    check(memc == NULL, what, NULL);
    memcached_free(memc);
}

/* Stores KEY through a handle made from CFG and reads it back (through a clone too). */
static void round_trip(const char *cfg, const char *key, const char *label)
{
    char what[300];
    memcached_st *memc = memcached(cfg, strlen(cfg));
    snprintf(what, sizeof what, "%s: memcached() accepts the string", label);
    check(memc != NULL, what, NULL);
    if (!memc)
        return;
    memcached_return_t rc = memcached_set(memc, key, strlen(key), "tls value", 9, 0, 0);
    snprintf(what, sizeof what, "%s: set", label);
    check(rc == MEMCACHED_SUCCESS, what, memcached_last_error_message(memc));
    memcached_st *clone = memcached_clone(NULL, memc);
    size_t len = 0;
    uint32_t flags = 0;
    char *value = memcached_get(clone, key, strlen(key), &len, &flags, &rc);
    snprintf(what, sizeof what, "%s: get through a clone", label);
    check(rc == MEMCACHED_SUCCESS && value && len == 9 && memcmp(value, "tls value", 9) == 0,
          what, memcached_last_error_message(clone));
    free(value);
    memcached_free(clone);
    memcached_free(memc);
}

/* A set through CFG must fail with RC_WANTED and WORDS in the error message. */
static void refused_set(const char *cfg, memcached_return_t rc_wanted, const char *words,
                        const char *label)
{
    char what[300];
    memcached_st *memc = memcached(cfg, strlen(cfg));
    if (!memc) {
        check(0, label, "memcached() refused the string");
        return;
    }
    memcached_return_t rc = memcached_set(memc, "refused", 7, "x", 1, 0, 0);
    const char *msg = memcached_last_error_message(memc);
    snprintf(what, sizeof what, "%s: %s", label, memcached_strerror(memc, rc_wanted));
    check(rc == rc_wanted && strstr(msg, words) != NULL, what, msg);
    memcached_free(memc);
}

/* A flush through CFG (UDP with TLS) must fail with NOT_SUPPORTED and say why. */
static void refused_udp_flush(const char *cfg, const char *label)
{
    char what[300];
    memcached_st *memc = memcached(cfg, strlen(cfg));
    if (!memc) {
        check(0, label, "memcached() refused the string");
        return;
    }
    memcached_return_t rc = memcached_flush(memc, 0);
    const char *msg = memcached_last_error_message(memc);
    snprintf(what, sizeof what, "%s: flush NOT SUPPORTED", label);
    check(rc == MEMCACHED_NOT_SUPPORTED && strstr(msg, "UDP carries none") != NULL, what, msg);
    memcached_free(memc);
}

/* OMCACHE_TLS_CA_FILE names the right CA. */
static int environment_checks(const char *port, const char *dir)
{
    char cfg[2048];
    snprintf(cfg, sizeof cfg, "--SERVER=127.0.0.1:%s", port);
    round_trip(cfg, "lmc_tls:env", "a string without TLS options takes the environment's");
    snprintf(cfg, sizeof cfg, "--SERVER=127.0.0.1:%s --TLS-CA-FILE=\"%s/other-ca.crt\"", port,
             dir);
    refused_set(cfg, MEMCACHED_CONNECTION_FAILURE, "unknown authority",
                "a string with TLS options decides alone (its wrong CA)");
    memcached_st *memc = memcached_create(NULL);
    memcached_reset(memc);
    memcached_server_add(memc, "127.0.0.1", (in_port_t)atoi(port));
    memcached_return_t rc = memcached_set(memc, "lmc_tls:reset", 13, "x", 1, 0, 0);
    check(rc == MEMCACHED_SUCCESS, "memcached_reset keeps the environment's TLS",
          memcached_last_error_message(memc));
    memcached_free(memc);
    /* UDP has no TLS: with the environment's TLS on, nothing goes out in the clear. */
    snprintf(cfg, sizeof cfg, "--SERVER=127.0.0.1:%s --USE-UDP", port);
    refused_set(cfg, MEMCACHED_NOT_SUPPORTED, "UDP carries none",
                "the environment's TLS refuses UDP");
    refused_udp_flush(cfg, "the environment's TLS refuses UDP");
    return failures ? 1 : 0;
}

int main(int argc, char **argv)
{
    if (argc == 5 && strcmp(argv[4], "env") == 0)
        return environment_checks(argv[1], argv[3]);
    if (argc != 4) {
        fprintf(stderr, "usage: lmc_tls TLS_PORT MUTUAL_PORT DIR [env]\n");
        return 2;
    }
    const char *port = argv[1], *mutual = argv[2], *dir = argv[3];
    char cfg[2048], err[512];

    snprintf(cfg, sizeof cfg,
             "--SERVER=127.0.0.1:%s --TLS-CA-FILE=\"%s/ca.crt\" --TLS-SERVER-NAME=127.0.0.1"
             " --TLS-CERT=\"%s/client.crt\" --TLS-KEY=\"%s/client.key\" --BINARY-PROTOCOL",
             port, dir, dir, dir);
    check(check_config(cfg, err, sizeof err) == MEMCACHED_SUCCESS, "accepts every option", err);
    check(check_config("--SERVER=localhost --TLS", err, sizeof err) == MEMCACHED_SUCCESS,
          "accepts --TLS alone", err);
    check(check_config("--TLS-SERVER-NAME=\"mc.example\" --TLS-KEY=\"/k\" --TLS-CERT=\"/c\"",
                       err, sizeof err) == MEMCACHED_SUCCESS,
          "accepts the key before the certificate", err);
    expect_refused("--SERVER=localhost --TLS-CERT=\"/c.pem\"", "--TLS-CERT needs --TLS-KEY");
    expect_refused("--TLS-KEY=\"/k.pem\"", "--TLS-KEY needs --TLS-CERT");
    expect_refused("--TLS-CA-FILE=\"/a\" --TLS-CA-FILE=\"/b\"",
                   "--TLS-CA-FILE can only be given once");
    expect_refused("--TLS-CA-FILE=\"\"", "--TLS-CA-FILE needs a value");
    expect_refused("--TLS-CA-FILE=", "syntax error");
    expect_refused("--TLSX", "UNKNOWN_OPTION");
    /* RESET forgets the TLS options given before it, as every other option. */
    check(check_config("--TLS-CERT=\"/c\" RESET --SERVER=localhost", err, sizeof err) ==
              MEMCACHED_SUCCESS,
          "RESET forgets a lone --TLS-CERT", err);

    snprintf(cfg, sizeof cfg, "--SERVER=127.0.0.1:%s --TLS-CA-FILE=\"%s/ca.crt\"", port, dir);
    round_trip(cfg, "lmc_tls:text", "text over TLS");
    snprintf(cfg, sizeof cfg, "--SERVER=127.0.0.1:%s --TLS-CA-FILE=\"%s/ca.crt\" --BINARY-PROTOCOL",
             port, dir);
    round_trip(cfg, "lmc_tls:binary", "binary over TLS");
    snprintf(cfg, sizeof cfg,
             "--SERVER=127.0.0.1:%s --TLS-CA-FILE=\"%s/ca.crt\" --TLS-CERT=\"%s/client.crt\""
             " --TLS-KEY=\"%s/client.key\"",
             mutual, dir, dir, dir);
    round_trip(cfg, "lmc_tls:mutual", "mutual TLS");
    snprintf(cfg, sizeof cfg, "--SERVER=127.0.0.1:%s --TLS-CA-FILE=\"%s/ca.crt\"", mutual, dir);
    refused_set(cfg, MEMCACHED_CONNECTION_FAILURE, "TLS", "no client certificate");
    snprintf(cfg, sizeof cfg, "--SERVER=127.0.0.1:%s --TLS-CA-FILE=\"%s/other-ca.crt\"", port,
             dir);
    refused_set(cfg, MEMCACHED_CONNECTION_FAILURE, "unknown authority", "wrong CA");
    snprintf(cfg, sizeof cfg, "--SERVER=127.0.0.1:%s --TLS-CA-FILE=\"%s/no-such-ca.crt\"", port,
             dir);
    refused_set(cfg, MEMCACHED_INVALID_ARGUMENTS, "no-such-ca.crt", "unreadable CA file");
    snprintf(cfg, sizeof cfg, "--SERVER=127.0.0.1:%s --TLS-CA-FILE=\"%s/ca.crt\""
             " --TLS-SERVER-NAME=other.example", port, dir);
    refused_set(cfg, MEMCACHED_CONNECTION_FAILURE, "not valid for the server's name",
                "name mismatch");
    snprintf(cfg, sizeof cfg, "--SERVER=127.0.0.1:%s --TLS-CA-FILE=\"%s/ca.crt\" --USE-UDP",
             port, dir);
    refused_set(cfg, MEMCACHED_NOT_SUPPORTED, "UDP carries none", "TLS refuses UDP");
    refused_udp_flush(cfg, "TLS refuses UDP");
    return failures ? 1 : 0;
}
