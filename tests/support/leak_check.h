/*
 * leak_check.h: every criterion test of every suite ends with a leak check
 * (AddressSanitizer builds); a leak fails the test, with LeakSanitizer's
 * report on stderr.
 *
 * Nothing to call: tests/meson.build links tests/support/leak_check.c into
 * every criterion executable. How it works, and why it has to, is the design
 * note at the top of that file; docs/testing.md ("Leaks") is the short form.
 * tst_leak_check() is for a test that wants an extra check part-way through.
 * TSan builds use tests/support/tsan/ instead of criterion and do not link it.
 */
#ifndef TESTS_SUPPORT_LEAK_CHECK_H
#define TESTS_SUPPORT_LEAK_CHECK_H

/* TST_ASAN: 1 in AddressSanitizer builds (gcc or clang), else 0. */
#if defined(__SANITIZE_ADDRESS__)
#define TST_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define TST_ASAN 1
#endif
#endif
#ifndef TST_ASAN
#define TST_ASAN 0
#endif

/** ASan builds: run LeakSanitizer now; on a leak the report goes to stderr
 * and the test fails (a criterion assertion, so call it from a test body or
 * a .fini hook). No-op in other builds. */
void tst_leak_check(void);

#endif /* TESTS_SUPPORT_LEAK_CHECK_H */
