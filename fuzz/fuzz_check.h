/*
 * fuzz_check.h: the property check of the libFuzzer targets in fuzz/.
 *
 * FUZZ_CHECK aborts with a message when a property fails, so libFuzzer
 * records the input as a crash (fuzz/run.sh keeps it under
 * build-fuzz/artifacts/).
 */
#ifndef FUZZ_FUZZ_CHECK_H
#define FUZZ_FUZZ_CHECK_H

#include <stdio.h>
#include <stdlib.h>

#define FUZZ_CHECK(cond, ...)                                      \
  do {                                                             \
    if (!(cond)) {                                                 \
      fprintf(stderr, "fuzz check failed: %s: ", #cond);           \
      fprintf(stderr, __VA_ARGS__);                                \
      fputc('\n', stderr);                                         \
      abort();                                                     \
    }                                                              \
  } while (0)

#endif /* FUZZ_FUZZ_CHECK_H */
