/*
 * fingerprint.h: the stable id of a finding, and so of its task
 * (SPEC §1.2).
 *
 *   id = hex(SHA-256(repo \0 kind \0 path \0 key \0 occurrence))[0..40)
 *
 * The line number is not part of it, so a marker that moves (lines added
 * above it) keeps its task. The key is the part that says what the finding
 * is: a marker's normalised text (ASCII lower case, whitespace runs
 * collapsed, trailing punctuation dropped), a function's name and the
 * metric it breaks, a secret's rule and digest. Identical keys in one file
 * are told apart by their occurrence number (0, 1, ... in file order), so
 * two identical `TODO: fix` lines are two tasks, and deleting the second
 * resolves exactly one.
 */
#ifndef CCM_SCAN_FINGERPRINT_H
#define CCM_SCAN_FINGERPRINT_H

#include <stddef.h>
#include <stdint.h>

#define SCAN_FP_HEX 40

void scan_fingerprint(char out[SCAN_FP_HEX + 1], const char *repo,
                      const char *kind, const char *path, const char *key,
                      size_t key_len, uint32_t occurrence);

/* Normalise @p n bytes of marker text into out (cap bytes, NUL-terminated);
 * returns the length written. */
size_t scan_normalize_text(const char *in, size_t n, char *out, size_t cap);

/* Counts occurrences of keys within one file (reset per file). */
typedef struct scan_occurrences {
  uint64_t *hashes;
  uint32_t *counts;
  size_t len, cap;
} scan_occurrences_t;

/* The occurrence number of this key in the current file (0 the first
 * time), counting it. */
uint32_t scan_occurrence_next(scan_occurrences_t *o, const char *kind,
                              const char *key, size_t key_len);
void scan_occurrences_reset(scan_occurrences_t *o);
void scan_occurrences_free(scan_occurrences_t *o);

#endif /* CCM_SCAN_FINGERPRINT_H */
