/*
 * criterion/criterion.h (ThreadSanitizer builds only): a stand-in for the
 * subset of Criterion 2.4 that tests/ uses.
 *
 * Criterion cannot start under TSan: its boxfort arena maps shared memory at
 * random fixed addresses, which TSan's mmap interceptor refuses ("Could not
 * initialize inheritable arena: Resource temporarily unavailable", for gcc
 * and clang alike; Snaipe/Criterion issue #274, open). tests/meson.build puts
 * this directory on the include path instead of Criterion when b_sanitize
 * contains 'thread', so the test sources build unchanged.
 *
 * Semantics kept: Test()/TestSuite() with .timeout, .signal, .disabled,
 * .init, .fini; each test runs in its own forked process (one at a time);
 * a failed cr_assert* ends the test; --filter takes a fnmatch(3) pattern
 * on "suite/name"; the exit status is non-zero when any test fails.
 */
#ifndef TST_CRITERION_SHIM_H
#define TST_CRITERION_SHIM_H

#include <stdbool.h>
#include <stddef.h>
#include <string.h>

struct criterion_test_extra_data {
  double timeout;
  int signal;
  int exit_code;
  bool disabled;
  const char *description;
  void (*init)(void);
  void (*fini)(void);
};

struct tst_shim_case {
  const char *suite;
  const char *name;
  void (*fn)(void);
  struct criterion_test_extra_data data;
  struct tst_shim_case *next;
};

struct tst_shim_suite {
  const char *name;
  struct criterion_test_extra_data data;
  struct tst_shim_suite *next;
};

void tst_shim_register(struct tst_shim_case *c);
void tst_shim_register_suite(struct tst_shim_suite *s);
/* Report a failed assertion and end the test process. @p fmt may be "". */
_Noreturn void tst_shim_fail(const char *file, int line, const char *what,
                             const char *fmt, ...);
void tst_shim_log(const char *fmt, ...);

#define Test(Suite, Name, ...)                                               \
  static void Suite##_##Name##_impl(void);                                   \
  static struct tst_shim_case Suite##_##Name##_case = {                      \
      #Suite, #Name, Suite##_##Name##_impl, {__VA_ARGS__}, NULL};            \
  __attribute__((constructor)) static void Suite##_##Name##_reg(void) {      \
    tst_shim_register(&Suite##_##Name##_case);                               \
  }                                                                          \
  static void Suite##_##Name##_impl(void)

#define TestSuite(Name, ...)                                                 \
  static struct tst_shim_suite Name##_suite_ = {#Name, {__VA_ARGS__}, NULL}; \
  __attribute__((constructor)) static void Name##_suite_reg_(void) {         \
    tst_shim_register_suite(&Name##_suite_);                                 \
  }                                                                          \
  struct tst_shim_swallow_semicolon_

/* The optional message is a string literal plus arguments: "" glues onto it. */
#define cr_assert(Cond, ...)                                                 \
  do {                                                                       \
    if (!(Cond))                                                             \
      tst_shim_fail(__FILE__, __LINE__, #Cond, "" __VA_ARGS__);              \
  } while (0)

#define cr_assert_eq(A, B, ...) cr_assert((A) == (B), __VA_ARGS__)
#define cr_assert_neq(A, B, ...) cr_assert((A) != (B), __VA_ARGS__)
#define cr_assert_lt(A, B, ...) cr_assert((A) < (B), __VA_ARGS__)
#define cr_assert_leq(A, B, ...) cr_assert((A) <= (B), __VA_ARGS__)
#define cr_assert_gt(A, B, ...) cr_assert((A) > (B), __VA_ARGS__)
#define cr_assert_geq(A, B, ...) cr_assert((A) >= (B), __VA_ARGS__)
#define cr_assert_null(P, ...) cr_assert((P) == NULL, __VA_ARGS__)
#define cr_assert_not_null(P, ...) cr_assert((P) != NULL, __VA_ARGS__)
#define cr_assert_str_eq(A, B, ...) cr_assert(strcmp((A), (B)) == 0, __VA_ARGS__)
#define cr_assert_str_neq(A, B, ...) cr_assert(strcmp((A), (B)) != 0, __VA_ARGS__)
#define cr_assert_not(E, ...) cr_assert(!(E), __VA_ARGS__)
#define cr_assert_fail(...)                                                  \
  tst_shim_fail(__FILE__, __LINE__, "cr_assert_fail", "" __VA_ARGS__)
#define cr_log_error(...) tst_shim_log(__VA_ARGS__)
#define cr_assert_arr_eq(A, B, Size, ...)                                    \
  cr_assert(memcmp((A), (B), (Size)) == 0, __VA_ARGS__)
#define cr_log_info(...) tst_shim_log(__VA_ARGS__)

#endif /* TST_CRITERION_SHIM_H */
