/*
 * test_gate.c: the contract of actors/executor/gate.h.
 *
 *  - globs: without '/' they match the file name at any depth; with '/'
 *    the whole path; '*' and '?' stop at '/'; "**" spans directories
 *    (also none);
 *  - the default protected paths catch CI workflows, lockfiles (nested
 *    too) and secret-like files, and let ordinary sources through;
 *  - limits on files and lines refuse with a sentence that names the
 *    number and the limit; a cut list of changes is refused;
 *  - configured globs replace the defaults.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "actors/executor/gate.h"
#include "tests/executor/exec_test.h"

TestSuite(gate, .timeout = 30, .fini = ext_leak_check);

Test(gate, glob_rules)
{
  struct {
    const char *glob, *path;
    bool want;
  } cases[] = {
      {"*.pem", "key.pem", true},
      {"*.pem", "deep/dir/key.pem", true},
      {"*.pem", "key.pem.txt", false},
      {".github/workflows/**", ".github/workflows/ci.yml", true},
      {".github/workflows/**", ".github/workflows/sub/x.yml", true},
      {".github/workflows/**", "a/.github/workflows/ci.yml", false},
      {".github/workflows/*", ".github/workflows/sub/x.yml", false},
      {"src/*.c", "src/main.c", true},
      {"src/*.c", "src/lib/main.c", false},
      {"src/**/*.c", "src/main.c", true},
      {"src/**/*.c", "src/a/b/main.c", true},
      {"**/secrets/*", "x/y/secrets/token", true},
      {"/Makefile", "Makefile", true},
      {"?akefile", "Makefile", true},
      {"a?c", "a/c", false},
      {".env.*", ".env.local", true},
      {".env.*", ".env", false},
      {"id_rsa*", "home/.ssh/id_rsa.pub", true},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
    cr_assert_eq(exec_glob_match(cases[i].glob, cases[i].path), cases[i].want,
                 "glob %s path %s", cases[i].glob, cases[i].path);
}

static exec_change_t file(const char *path, uint64_t add, uint64_t del)
{
  return (exec_change_t){.path = (char *)path, .added = add, .deleted = del};
}

Test(gate, default_protected_paths)
{
  const char *refused[] = {".github/workflows/ci.yml", "web/package-lock.json",
                           "Cargo.lock", "config/server.key", ".env.production",
                           "deploy/id_ed25519", "go.sum", ".gitlab-ci.yml"};
  for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++) {
    exec_change_t f[2] = {file("src/main.c", 3, 1), file(refused[i], 1, 0)};
    exec_changes_t c = {.files = f, .n = 2, .added = 4, .deleted = 1};
    char why[256];
    cr_assert_not(exec_gate_check(NULL, &c, why, sizeof why), "%s passed",
                  refused[i]);
    cr_assert(strstr(why, refused[i]), "reason names the file: %s", why);
  }
  exec_change_t ok[2] = {file("src/main.c", 3, 1), file("docs/lock.md", 2, 0)};
  exec_changes_t c = {.files = ok, .n = 2, .added = 5, .deleted = 1};
  char why[256];
  cr_assert(exec_gate_check(NULL, &c, why, sizeof why), "%s", why);
}

Test(gate, limits_on_files_and_lines)
{
  exec_change_t f[3] = {file("a.c", 100, 0), file("b.c", 50, 50),
                        file("c.c", 0, 1)};
  exec_changes_t c = {.files = f, .n = 3, .added = 150, .deleted = 51};
  char why[256];
  exec_policy_t files2 = {.max_files = 2};
  cr_assert_not(exec_gate_check(&files2, &c, why, sizeof why));
  cr_assert(strstr(why, "3 files") && strstr(why, "limit of 2"), "%s", why);
  exec_policy_t lines200 = {.max_lines = 200};
  cr_assert_not(exec_gate_check(&lines200, &c, why, sizeof why));
  cr_assert(strstr(why, "201 lines") && strstr(why, "limit of 200"), "%s",
            why);
  exec_policy_t roomy = {.max_files = 3, .max_lines = 201};
  cr_assert(exec_gate_check(&roomy, &c, why, sizeof why), "%s", why);
  c.truncated = true;
  cr_assert_not(exec_gate_check(&roomy, &c, why, sizeof why));
}

Test(gate, configured_globs_replace_defaults)
{
  const char *globs[] = {"db/migrations/**", NULL};
  exec_policy_t pol = {.protected_globs = globs};
  exec_change_t ci[1] = {file(".github/workflows/ci.yml", 1, 0)};
  exec_changes_t c = {.files = ci, .n = 1, .added = 1};
  char why[256];
  cr_assert(exec_gate_check(&pol, &c, why, sizeof why), "%s", why);
  exec_change_t mig[1] = {file("db/migrations/001.sql", 1, 0)};
  c.files = mig;
  cr_assert_not(exec_gate_check(&pol, &c, why, sizeof why));
  cr_assert(strstr(why, "db/migrations/**"), "%s", why);
}
