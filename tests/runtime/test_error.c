/*
 * test_error.c: the error-code contract of runtime/rt.h.
 *
 * Every runtime code sits below -31000 and is distinct; rt_strerror() never
 * returns NULL, starts each runtime code's description with the code's name
 * ("RT_EAGAIN: ..."), and describes -errno values and unknown codes with
 * something readable instead of a runtime name.
 */
#include <criterion/criterion.h>
#include <ctype.h>
#include <errno.h>
#include <string.h>

#include "runtime/rt.h"

TestSuite(error, .timeout = 10);

struct code {
  int code;
  const char *name;
  const char *text;
};

static const struct code codes[] = {
#define TST_ROW(name, code, text) {code, "RT_" #name, text},
    RT_ERRNO_MAP(TST_ROW)
#undef TST_ROW
};
#define NCODES (sizeof codes / sizeof codes[0])

Test(error, every_code_is_below_minus_31000_and_distinct) {
  cr_assert_eq(NCODES, 11u, "the map lists 11 codes");
  for (size_t i = 0; i < NCODES; i++) {
    cr_assert_lt(codes[i].code, -31000, "%s = %d", codes[i].name, codes[i].code);
    for (size_t j = i + 1; j < NCODES; j++)
      cr_assert_neq(codes[i].code, codes[j].code, "%s and %s share a value",
                    codes[i].name, codes[j].name);
  }
}

Test(error, strerror_starts_with_the_code_name) {
  for (size_t i = 0; i < NCODES; i++) {
    const char *s = rt_strerror(codes[i].code);
    size_t n = strlen(codes[i].name);
    cr_assert_not_null(s, "%s", codes[i].name);
    cr_assert_eq(strncmp(s, codes[i].name, n), 0, "rt_strerror(%s) = \"%s\"",
                 codes[i].name, s);
    /* The name is whole: "RT_EAGAIN" is not a prefix of another name. */
    cr_assert(s[n] == '\0' || !(isalnum((unsigned char)s[n]) || s[n] == '_'),
              "rt_strerror(%s) = \"%s\"", codes[i].name, s);
  }
}

Test(error, strerror_carries_the_description) {
  for (size_t i = 0; i < NCODES; i++) {
    const char *s = rt_strerror(codes[i].code);
    cr_assert_not_null(strstr(s, codes[i].text), "rt_strerror(%s) = \"%s\"",
                       codes[i].name, s);
  }
  cr_assert_str_eq(rt_strerror(RT_EAGAIN),
                   "RT_EAGAIN: mailbox full, try again later");
}

Test(error, strerror_describes_negative_errno) {
  static const int errs[] = {EPERM, ENOENT, EINTR, EBADF, ENOMEM, EINVAL, EMFILE};
  for (size_t i = 0; i < sizeof errs / sizeof errs[0]; i++) {
    const char *s = rt_strerror(-errs[i]);
    cr_assert_not_null(s, "errno %d", errs[i]);
    cr_assert_gt(strlen(s), 0u, "errno %d", errs[i]);
    cr_assert_neq(strncmp(s, "RT_", 3), 0, "-errno %d described as \"%s\"",
                  errs[i], s);
    /* Sensible: the system's own text appears in it. */
    cr_assert_not_null(strstr(s, strerror(errs[i])), "-%d -> \"%s\"", errs[i], s);
  }
}

Test(error, strerror_of_unknown_codes_is_not_null) {
  static const int odd[] = {0, 1, 12345, -31000, -31999, -30000, -1000000};
  for (size_t i = 0; i < sizeof odd / sizeof odd[0]; i++) {
    const char *s = rt_strerror(odd[i]);
    cr_assert_not_null(s, "rc %d", odd[i]);
    cr_assert_gt(strlen(s), 0u, "rc %d", odd[i]);
  }
  /* An unknown code in the runtime's range is not mistaken for a known one. */
  const char *s = rt_strerror(-31999);
  for (size_t i = 0; i < NCODES; i++)
    cr_assert_neq(strncmp(s, codes[i].name, strlen(codes[i].name)), 0,
                  "-31999 described as \"%s\"", s);
}
