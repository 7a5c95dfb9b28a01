/*
 * leaks.h: a leak check for the end of each test of the secrets, metrics
 * and dupes suites (TestSuite .fini). Criterion's workers leave with _Exit,
 * so LeakSanitizer's exit-time check never runs there (docs/testing.md);
 * this asks for it explicitly in ASan builds and does nothing otherwise.
 */
#ifndef TESTS_SCAN_LEAKS_H
#define TESTS_SCAN_LEAKS_H

#include <criterion/criterion.h>

#if defined(__SANITIZE_ADDRESS__)
#define SLEAK_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SLEAK_ASAN 1
#endif
#endif

#ifdef SLEAK_ASAN
#include <sanitizer/lsan_interface.h>
#endif

static inline void scan_test_check_leaks(void)
{
#ifdef SLEAK_ASAN
  cr_assert_eq(__lsan_do_recoverable_leak_check(), 0,
               "LeakSanitizer found leaks (report on stderr)");
#endif
}

#endif /* TESTS_SCAN_LEAKS_H */
