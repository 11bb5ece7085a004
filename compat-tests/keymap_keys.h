/*
 * keymap_keys.h - the deterministic key set shared by lmc_keymap.c and omc_keymap.c.
 *
 * Both programs must hash exactly the same bytes, so the generator lives in one place.
 * Keys are 1..250 bytes (libmemcached's ASCII-protocol limit, which memcached_server_by_key
 * enforces) and come in five shapes, so that every hash path is exercised:
 *   0: "key:<i>"                      short ASCII, like OMcache's golden vectors
 *   1: printable ASCII, 1..250 bytes   short and long keys, every MD5/OAT block length
 *   2: bytes 0x01..0xff, 1..40 bytes   half of them >= 0x80: libhashkit's signed-char quirk
 *   3: UTF-8 text "clé:<i>:ünïcødé"    realistic non-ASCII keys
 *   4: any byte 0x00..0xff, 200..250   long binary keys, NUL bytes included
 */
#ifndef KEYMAP_KEYS_H
#define KEYMAP_KEYS_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define KEYMAP_MAX_KEY 250

/* A fixed LCG (glibc's constants) rather than rand(): identical on every libc. */
static uint32_t keymap_next(uint32_t *state)
{
    *state = *state * 1103515245u + 12345u;
    return *state >> 8;
}

/* Writes key number i into buf (KEYMAP_MAX_KEY bytes) and returns its length (>= 1). */
static size_t keymap_key(uint32_t i, unsigned char *buf)
{
    uint32_t st = i * 2654435761u + 1u;
    size_t len, k;

    switch (i % 5) {
    case 0:
        return (size_t)snprintf((char *)buf, KEYMAP_MAX_KEY, "key:%u", (unsigned)i);
    case 1:
        len = 1 + keymap_next(&st) % KEYMAP_MAX_KEY;
        for (k = 0; k < len; k++)
            buf[k] = (unsigned char)(0x21 + keymap_next(&st) % 94);
        return len;
    case 2:
        len = 1 + keymap_next(&st) % 40;
        for (k = 0; k < len; k++)
            buf[k] = (unsigned char)(1 + keymap_next(&st) % 255);
        return len;
    case 3:
        return (size_t)snprintf((char *)buf, KEYMAP_MAX_KEY,
                                "cl\xc3\xa9:%u:\xc3\xbcn\xc3\xaf""c\xc3\xb8" "d\xc3\xa9", (unsigned)i);
    default:
        len = 200 + keymap_next(&st) % 51;
        for (k = 0; k < len; k++)
            buf[k] = (unsigned char)(keymap_next(&st) & 0xff);
        return len;
    }
}

/* The key as lowercase hex, for golden-vector files (-x). */
static void keymap_print_hex(FILE *out, const unsigned char *key, size_t len)
{
    size_t k;
    for (k = 0; k < len; k++)
        fprintf(out, "%02x", key[k]);
}

#endif /* KEYMAP_KEYS_H */
