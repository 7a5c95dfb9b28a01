/*
 * shim.c: the runner behind tests/support/tsan/criterion/criterion.h (TSan
 * builds only; see that header for why).
 *
 * Tests run one at a time, each in a forked child (the parent has no other
 * threads, so fork is safe under TSan), under alarm() when a timeout is set.
 * The parent prints one line per test and a criterion-style synthesis, and
 * exits 1 when any test failed, crashed, timed out or had a TSan report
 * (TSAN_OPTIONS halt_on_error=1 makes a report end the child with 66).
 */
#include <criterion/criterion.h>

#include <fnmatch.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

/* Messages are the tests' own literals, forwarded through va_lists. */
#pragma GCC diagnostic ignored "-Wformat-nonliteral"

static struct tst_shim_case *cases;
static struct tst_shim_suite *suites;

void tst_shim_register(struct tst_shim_case *c) {
  c->next = cases;
  cases = c;
}

void tst_shim_register_suite(struct tst_shim_suite *s) {
  s->next = suites;
  suites = s;
}

void tst_shim_fail(const char *file, int line, const char *what,
                   const char *fmt, ...) {
  fprintf(stderr, "[----] %s:%d: Assertion Failed\n[----]   ", file, line);
  if (fmt && *fmt) {
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
  } else {
    fprintf(stderr, "The expression %s is false.", what);
  }
  fputc('\n', stderr);
  fflush(stderr);
  _exit(1);
}

void tst_shim_log(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fputs("[----] ", stderr);
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
  va_end(ap);
}

static const struct criterion_test_extra_data *suite_data(const char *name) {
  for (struct tst_shim_suite *s = suites; s; s = s->next)
    if (strcmp(s->name, name) == 0) return &s->data;
  return NULL;
}

static int by_name(const void *a, const void *b) {
  const struct tst_shim_case *x = *(struct tst_shim_case *const *)a;
  const struct tst_shim_case *y = *(struct tst_shim_case *const *)b;
  int c = strcmp(x->suite, y->suite);
  return c ? c : strcmp(x->name, y->name);
}

/* Run one test in a child; returns 1 when it passed. */
static int run_one(const struct tst_shim_case *c) {
  const struct criterion_test_extra_data *sd = suite_data(c->suite);
  double timeout = c->data.timeout > 0 ? c->data.timeout
                                       : (sd && sd->timeout > 0 ? sd->timeout : 0);
  fflush(NULL);
  pid_t pid = fork();
  if (pid < 0) {
    perror("fork");
    return 0;
  }
  if (pid == 0) {
    if (timeout > 0) alarm((unsigned)ceil(timeout));
    if (sd && sd->init) sd->init();
    if (c->data.init) c->data.init();
    c->fn();
    if (c->data.fini) c->data.fini();
    if (sd && sd->fini) sd->fini();
    fflush(NULL);
    _exit(0);
  }
  int st = 0;
  while (waitpid(pid, &st, 0) < 0) {
  }
  int want_sig = c->data.signal;
  if (WIFSIGNALED(st)) {
    int sig = WTERMSIG(st);
    if (want_sig && sig == want_sig) goto pass;
    if (sig == SIGALRM)
      fprintf(stderr, "[FAIL] %s::%s: Timed out. (%.0fs)\n", c->suite, c->name,
              timeout);
    else
      fprintf(stderr, "[FAIL] %s::%s: CRASH! (signal %d)\n", c->suite, c->name,
              sig);
    return 0;
  }
  if (want_sig) {
    fprintf(stderr, "[FAIL] %s::%s: expected signal %d, exited %d\n", c->suite,
            c->name, want_sig, WEXITSTATUS(st));
    return 0;
  }
  if (WEXITSTATUS(st) != c->data.exit_code) {
    fprintf(stderr, "[FAIL] %s::%s: exit status %d%s\n", c->suite, c->name,
            WEXITSTATUS(st),
            WEXITSTATUS(st) == 66 ? " (ThreadSanitizer report above)" : "");
    return 0;
  }
pass:
  fprintf(stderr, "[PASS] %s::%s\n", c->suite, c->name);
  return 1;
}

int main(int argc, char **argv) {
  const char *filter = NULL;
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--filter") == 0 && i + 1 < argc)
      filter = argv[++i];
    else if (strncmp(argv[i], "--filter=", 9) == 0)
      filter = argv[i] + 9;
  }
  size_t n = 0;
  for (struct tst_shim_case *c = cases; c; c = c->next) n++;
  struct tst_shim_case **v = calloc(n ? n : 1, sizeof *v);
  if (!v) return 2;
  n = 0;
  for (struct tst_shim_case *c = cases; c; c = c->next) v[n++] = c;
  qsort(v, n, sizeof *v, by_name);
  int tested = 0, passed = 0;
  for (size_t i = 0; i < n; i++) {
    const struct criterion_test_extra_data *sd = suite_data(v[i]->suite);
    if (v[i]->data.disabled || (sd && sd->disabled)) continue;
    if (filter) {
      char id[256];
      snprintf(id, sizeof id, "%s/%s", v[i]->suite, v[i]->name);
      if (fnmatch(filter, id, 0) != 0) continue;
    }
    tested++;
    passed += run_one(v[i]);
  }
  fprintf(stderr, "[====] Synthesis: Tested: %d | Passing: %d | Failing: %d\n",
          tested, passed, tested - passed);
  free(v);
  return passed == tested ? 0 : 1;
}
