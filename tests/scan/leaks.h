/*
 * leaks.h: the name the scan and config suites use for the leak check
 * (a TestSuite .fini hook). Every criterion test now ends with one by itself
 * (tests/support/leak_check.c, docs/testing.md "Leaks"); this is one more,
 * in ASan builds, and a no-op otherwise.
 */
#ifndef TESTS_SCAN_LEAKS_H
#define TESTS_SCAN_LEAKS_H

#include "tests/support/leak_check.h"

static inline void scan_test_check_leaks(void) { tst_leak_check(); }

#endif /* TESTS_SCAN_LEAKS_H */
