/*
 * test_scan_cli.c: `ccm scan` as a user runs it (the real binary,
 * CCM_BIN) on repositories made by the test: the JSON shape of SPEC §3,
 * comment-aware markers, ids that survive line moves, no state written,
 * exit codes, the table.
 */
#include <criterion/criterion.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/scanner/scan_fixture.h"
#include "tests/support/store_test.h"

static int ccm(char **out, char **err, const char *a1, const char *a2,
               const char *a3, const char *a4)
{
  char *argv[] = {(char *)tst_prog("CCM_BIN"), "scan", (char *)a1, (char *)a2,
                  (char *)a3, (char *)a4, NULL};
  return tst_run(argv, 60000, out, err);
}

/* Parse JSON lines into an array. */
static json_t *lines(const char *out)
{
  json_t *arr = json_array();
  for (const char *p = out; *p;) {
    const char *nl = strchr(p, '\n');
    cr_assert_not_null(nl, "output ends without a newline");
    json_error_t je;
    json_t *o = json_loadb(p, (size_t)(nl - p), 0, &je);
    cr_assert_not_null(o, "not JSON: %.*s (%s)", (int)(nl - p), p, je.text);
    json_array_append_new(arr, o);
    p = nl + 1;
  }
  return arr;
}

static json_t *find_text(json_t *arr, const char *kind, const char *needle)
{
  size_t i;
  json_t *o;
  json_array_foreach(arr, i, o) {
    const char *k = json_string_value(json_object_get(o, "kind"));
    const char *t = json_string_value(json_object_get(o, "text"));
    if (k && t && !strcmp(k, kind) && strstr(t, needle))
      return o;
  }
  return NULL;
}

static const char *c_file =
    "#include <stdio.h>\n"
    "/* FIXME: handle EINTR */\n"
    "int main(void) {\n"
    "  puts(\"TODO: not a marker, a string\");\n"
    "  return 0; // TODO(alice): trailing comment #12\n"
    "}\n";

static const char *py_file =
    "def f():\n"
    "    # HACK: works around the parser\n"
    "    s = 'XXX not a marker'\n"
    "    return s\n";

Test(scan_cli, json_lines_have_the_spec_shape)
{
  char *d = tst_tmpdir(), *out, *err;
  fx_write(d, "src/main.c", c_file);
  fx_write(d, "tools/gen.py", py_file);
  fx_git_init(d);
  int rc = ccm(&out, &err, "--json", d, NULL, NULL);
  cr_assert_eq(rc, 0, "exit %d: %s", rc, err);
  json_t *arr = lines(out);
  json_t *fixme = find_text(arr, "fixme", "handle EINTR");
  json_t *todo = find_text(arr, "todo", "trailing comment");
  json_t *hack = find_text(arr, "hack", "works around");
  cr_assert_not_null(fixme, "%s", out);
  cr_assert_not_null(todo, "trailing comment missed: %s", out);
  cr_assert_not_null(hack, "%s", out);
  cr_assert_null(find_text(arr, "todo", "not a marker"), "string reported");
  cr_assert_null(find_text(arr, "xxx", "not a marker"), "string reported");
  cr_assert_str_eq(json_string_value(json_object_get(fixme, "tag")), "FIXME");
  cr_assert_str_eq(json_string_value(json_object_get(fixme, "path")), "src/main.c");
  cr_assert_eq(json_integer_value(json_object_get(fixme, "line")), 2);
  cr_assert_eq(json_integer_value(json_object_get(todo, "line")), 5);
  cr_assert_gt(json_integer_value(json_object_get(todo, "column")), 1);
  cr_assert_str_eq(json_string_value(json_object_get(todo, "owner")), "alice");
  cr_assert_eq(strlen(json_string_value(json_object_get(todo, "id"))), 40);
  cr_assert(json_is_number(json_object_get(todo, "score")));
  cr_assert_str_eq(json_string_value(json_object_get(hack, "path")), "tools/gen.py");
  /* ranked: fixme (7) before hack (6) before todo (5) */
  cr_assert_str_eq(json_string_value(json_object_get(json_array_get(arr, 0), "kind")),
                   "fixme");
  cr_assert(strstr(err, "files in"), "summary line: %s", err);
  char ccm_dir[4096];
  snprintf(ccm_dir, sizeof ccm_dir, "%s/.ccm", d);
  cr_assert_not(tst_exists(ccm_dir), "a one-shot scan writes no state");
  cr_assert_not(tst_exists(".ccm"), "nor in the current directory");
  json_decref(arr);
  free(out);
  free(err);
  tst_rmrf(d);
  free(d);
}

static const char *id_of(json_t *arr, const char *kind, const char *needle)
{
  json_t *o = find_text(arr, kind, needle);
  cr_assert_not_null(o, "%s '%s' not found", kind, needle);
  return json_string_value(json_object_get(o, "id"));
}

Test(scan_cli, ids_survive_line_moves_and_identical_markers_differ)
{
  char *d = tst_tmpdir(), *out1, *out2, *err;
  fx_write(d, "a.c", "// TODO: same\nint a;\n// TODO: same\n");
  cr_assert_eq(ccm(&out1, &err, "--json", d, NULL, NULL), 0, "%s", err);
  free(err);
  fx_write(d, "a.c", "int x;\nint y;\n// TODO: same\nint a;\n// TODO: same\n");
  cr_assert_eq(ccm(&out2, &err, "--json", d, NULL, NULL), 0, "%s", err);
  json_t *a = lines(out1), *b = lines(out2);
  cr_assert_eq(json_array_size(a), 2);
  cr_assert_eq(json_array_size(b), 2);
  const char *a0 = json_string_value(json_object_get(json_array_get(a, 0), "id"));
  const char *a1 = json_string_value(json_object_get(json_array_get(a, 1), "id"));
  cr_assert_str_neq(a0, a1, "two identical markers are two tasks");
  json_t *ids = json_object();
  json_object_set_new(ids, a0, json_true());
  json_object_set_new(ids, a1, json_true());
  for (size_t i = 0; i < 2; i++) {
    json_t *o = json_array_get(b, i);
    cr_assert(json_object_get(ids, json_string_value(json_object_get(o, "id"))),
              "id changed when the lines moved");
    cr_assert_geq(json_integer_value(json_object_get(o, "line")), 3);
  }
  (void)id_of;
  json_decref(ids);
  json_decref(a);
  json_decref(b);
  free(out1);
  free(out2);
  free(err);
  tst_rmrf(d);
  free(d);
}

Test(scan_cli, exit_codes_and_errors)
{
  char *d = tst_tmpdir(), *out, *err;
  fx_write(d, "a.c", "// TODO: one\n");
  int rc = ccm(&out, &err, "/nonexistent/ccm-scan", "--json", NULL, NULL);
  cr_assert_eq(rc, 1, "a bad path fails: %d", rc);
  cr_assert(strstr(err, "/nonexistent/ccm-scan"), "%s", err);
  free(out);
  free(err);
  rc = ccm(&out, &err, "/nonexistent/ccm-scan", d, "--json", NULL);
  cr_assert_eq(rc, 1, "still a failure");
  cr_assert(strstr(out, "\"one\""), "the good path is still scanned: %s", out);
  free(out);
  free(err);
  rc = ccm(&out, &err, "--frobnicate", NULL, NULL, NULL);
  cr_assert_eq(rc, 2);
  cr_assert(strstr(err, "--frobnicate"), "%s", err);
  free(out);
  free(err);
  rc = ccm(&out, &err, "--markers", NULL, NULL, NULL);
  cr_assert_eq(rc, 2);
  free(out);
  free(err);
  rc = ccm(&out, &err, d, NULL, NULL, NULL);
  cr_assert_eq(rc, 0);
  cr_assert(strstr(out, "SCORE") && strstr(out, "a.c:1") && strstr(out, "one"),
            "table: %s", out);
  free(out);
  free(err);
  tst_rmrf(d);
  free(d);
}

Test(scan_cli, custom_markers_and_kinds_left_out)
{
  char *d = tst_tmpdir(), *out, *err;
  fx_write(d, "a.c", "// TODO: one\n// REVIEW: two\n");
  int rc = ccm(&out, &err, "--json", "--markers", "REVIEW", d);
  cr_assert_eq(rc, 0, "%s", err);
  json_t *arr = lines(out);
  cr_assert_eq(json_array_size(arr), 1, "%s", out);
  cr_assert_str_eq(json_string_value(json_object_get(json_array_get(arr, 0), "kind")),
                   "review");
  json_decref(arr);
  free(out);
  free(err);
  tst_rmrf(d);
  free(d);
}

/* The kinds of @p out's JSON lines, comma-separated, in order. */
static void kinds_of(const char *out, char *buf, size_t cap)
{
  json_t *arr = lines(out);
  buf[0] = '\0';
  for (size_t i = 0; i < json_array_size(arr); i++) {
    const char *k = json_string_value(
        json_object_get(json_array_get(arr, i), "kind"));
    size_t used = strlen(buf);
    snprintf(buf + used, cap - used, "%s%s", used ? "," : "", k ? k : "?");
  }
  json_decref(arr);
}

/* --config FILE (and ./ccm.yaml without it) gives the scan section's
 * settings, the options winning over them; a broken file is an error. */
Test(scan_cli, config_file_settings_and_options_over_them)
{
  char *d = tst_tmpdir(), *out, *err, kinds[256], cfg[600], cmd[1400];
  fx_write(d, "src/a.c", "// TODO: one\n// NOTE: two\n");
  fx_write(d, "gen/b.c", "// NOTE: generated\n");
  fx_write(d, "scan.yaml", "scan:\n  markers: [NOTE]\n  exclude: [gen/]\n"
                           "  refactor: false\n");
  fx_write(d, "bad.yaml", "scan:\n  markers: 5\n");
  snprintf(cfg, sizeof cfg, "%s/scan.yaml", d);

  cr_assert_eq(ccm(&out, &err, "--json", "--config", cfg, d), 0, "%s", err);
  kinds_of(out, kinds, sizeof kinds);
  cr_assert_str_eq(kinds, "note", "NOTE only, gen/ left out: %s", out);
  free(out), free(err);

  char *argv[] = {(char *)tst_prog("CCM_BIN"), "scan", "--json", "--config",
                  cfg, "--markers", "TODO", d, NULL};
  cr_assert_eq(tst_run(argv, 60000, &out, &err), 0, "%s", err);
  kinds_of(out, kinds, sizeof kinds);
  cr_assert_str_eq(kinds, "todo", "--markers wins: %s", out);
  free(out), free(err);

  /* ./ccm.yaml when no --config: the daemon's own default */
  snprintf(cmd, sizeof cmd, "cp '%s' '%s/ccm.yaml' && cd '%s' && exec '%s' "
           "scan --json src", cfg, d, d, tst_prog("CCM_BIN"));
  char *sh[] = {"/bin/sh", "-c", cmd, NULL};
  cr_assert_eq(tst_run(sh, 60000, &out, &err), 0, "%s", err);
  kinds_of(out, kinds, sizeof kinds);
  cr_assert_str_eq(kinds, "note", "./ccm.yaml read: %s", out);
  free(out), free(err);

  snprintf(cfg, sizeof cfg, "%s/bad.yaml", d);
  cr_assert_eq(ccm(&out, &err, "--config", cfg, d, NULL), 1);
  cr_assert(strstr(err, "bad.yaml:2:12: scan.markers"), "%s", err);
  cr_assert_null(strstr(err, "not starting"), "%s", err);
  free(out), free(err);
  tst_rmrf(d);
  free(d);
}

/* The config's scan.secrets_allowlist silences what it lists; a list that
 * cannot be read is an error, not an empty list. */
Test(scan_cli, config_secrets_allowlist_is_applied)
{
  char *d = tst_tmpdir(), *out, *err, kinds[256], cfg[600], text[256];
  char secret[64];
  /* built at run time: the repository holds no token-shaped string */
  snprintf(secret, sizeof secret, "gh%s_%s%s", "p", "R8kq2LmZ7xTn4Wc9Yv1Bp6Hd",
           "3Fs0Jg5Qa2Ex");
  snprintf(text, sizeof text, "token = \"%s\"\n", secret);
  fx_write(d, "src/deploy.cfg", text);
  fx_write(d, "src/keep.cfg", text);
  fx_write(d, "allow.txt", "# fixtures\nsrc/deploy.cfg\n");
  snprintf(text, sizeof text, "scan:\n  secrets_allowlist: %s/allow.txt\n"
           "  markers: []\n  refactor: false\n", d);
  fx_write(d, "scan.yaml", text);
  snprintf(text, sizeof text, "scan:\n  secrets_allowlist: %s/none.txt\n", d);
  fx_write(d, "missing.yaml", text);
  snprintf(cfg, sizeof cfg, "%s/scan.yaml", d);

  cr_assert_eq(ccm(&out, &err, "--json", "--config", cfg, d), 0, "%s", err);
  kinds_of(out, kinds, sizeof kinds);
  cr_assert_str_eq(kinds, "secret", "keep.cfg only: %s", out);
  cr_assert(strstr(out, "keep.cfg") && !strstr(out, "deploy.cfg"), "%s", out);
  free(out), free(err);

  snprintf(cfg, sizeof cfg, "%s/missing.yaml", d);
  cr_assert_eq(ccm(&out, &err, "--json", "--config", cfg, d), 1);
  cr_assert(strstr(err, "secrets_allowlist") && strstr(err, "none.txt"), "%s",
            err);
  cr_assert_str_eq(out, "");
  free(out), free(err);
  tst_rmrf(d);
  free(d);
}

/* A function of @p n statements. */
static void long_function(char *buf, size_t cap, const char *name, int n)
{
  size_t off = (size_t)snprintf(buf, cap, "int %s(int x)\n{\n", name);
  for (int i = 0; i < n && off < cap; i++)
    off += (size_t)snprintf(buf + off, cap - off, "  x = x * %d + %d;\n", i + 3, i);
  snprintf(buf + off, cap - off, "  return x;\n}\n");
}

Test(scan_cli, refactoring_duplicates_and_secrets_never_printed_in_full)
{
  char *d = tst_tmpdir(), *out, *err;
  char code[8192], secret[64], cfg[256];
  long_function(code, sizeof code, "too_long", 120);
  fx_write(d, "src/long.c", code);
  const char *block =
      "  total = total + price * count;\n  count = count - 1;\n"
      "  price = price * rate / 100;\n  log_value(total, price);\n"
      "  check_limits(total, count);\n  update_totals(&state, total);\n"
      "  notify(listeners, total);\n";
  snprintf(code, sizeof code, "void a(void)\n{\n%s}\n", block);
  fx_write(d, "src/one.c", code);
  snprintf(code, sizeof code, "void b(void)\n{\n  int z = 1;\n%s}\n", block);
  fx_write(d, "src/two.c", code);
  /* built at run time: the repository holds no token-shaped string */
  snprintf(secret, sizeof secret, "gh%s_%s%s", "p", "R8kq2LmZ7xTn4Wc9Yv1Bp6Hd",
           "3Fs0Jg5Qa2Ex");
  snprintf(cfg, sizeof cfg, "token = \"%s\"\n", secret);
  fx_write(d, "deploy.cfg", cfg);
  int rc = ccm(&out, &err, "--json", d, NULL, NULL);
  cr_assert_eq(rc, 0, "%s", err);
  json_t *arr = lines(out);
  json_t *fn = find_text(arr, "refactor", "too_long");
  cr_assert_not_null(fn, "%s", out);
  cr_assert_str_eq(json_string_value(json_object_get(fn, "symbol")), "too_long");
  cr_assert_gt(json_integer_value(json_object_get(
                   json_object_get(json_object_get(fn, "details"), "metrics"),
                   "lines")), 80);
  json_t *dup = find_text(arr, "refactor", "duplicated block");
  cr_assert_not_null(dup, "%s", out);
  cr_assert(strstr(json_string_value(json_object_get(dup, "text")), "src/"));
  json_t *sec = find_text(arr, "secret", "");
  cr_assert_not_null(sec, "%s", out);
  cr_assert_str_eq(json_string_value(json_object_get(sec, "path")), "deploy.cfg");
  cr_assert_null(strstr(out, secret), "the secret was printed");
  cr_assert_null(strstr(err, secret), "the secret was printed");
  cr_assert_null(strstr(out, secret + 4), "most of the secret was printed");
  json_decref(arr);
  free(out);
  free(err);
  tst_rmrf(d);
  free(d);
}

Test(scan_cli, blame_gives_author_and_date_of_committed_lines)
{
  char *d = tst_tmpdir(), *out, *err;
  fx_write(d, "a.c", "int a;\n// TODO: committed\n");
  fx_sh(d, "git init -q . && git config user.email t@example.com && "
           "git config user.name 'Ann Author' && git add -A && "
           "GIT_AUTHOR_DATE='2025-01-02T03:04:05Z' git commit -qm one");
  fx_write(d, "a.c", "int a;\n// TODO: committed\n// FIXME: not yet\n");
  int rc = ccm(&out, &err, "--json", "--blame", d, NULL);
  cr_assert_eq(rc, 0, "%s", err);
  json_t *arr = lines(out);
  json_t *old = find_text(arr, "todo", "committed");
  json_t *fresh = find_text(arr, "fixme", "not yet");
  cr_assert_not_null(old, "%s", out);
  cr_assert_not_null(fresh, "%s", out);
  cr_assert_str_eq(json_string_value(json_object_get(old, "author")), "Ann Author");
  cr_assert_eq(json_integer_value(json_object_get(old, "authored_at")), 1735787045);
  cr_assert_null(json_object_get(fresh, "author"), "not committed: no author");
  json_decref(arr);
  free(out);
  free(err);
  /* without --blame: no author, and the same ids */
  rc = ccm(&out, &err, "--json", d, NULL, NULL);
  cr_assert_eq(rc, 0);
  cr_assert_null(strstr(out, "Ann Author"));
  free(out);
  free(err);
  tst_rmrf(d);
  free(d);
}

/* ccm's own sources hold no committed secret: test fixtures build their
 * token-shaped strings at run time (or split them), so the scanner, run
 * on this repository as a user would, reports none. */
Test(scan_cli, this_repository_holds_no_secret)
{
  char *out, *err;
  int rc = ccm(&out, &err, "--json", "--no-markers", "--no-refactor",
               CCM_SOURCE_ROOT);
  cr_assert_eq(rc, 0, "%s", err);
  cr_assert_str_eq(out, "", "secrets found in the repository:\n%s", out);
  free(out);
  free(err);
}

/* --data DIR: the first scan reads every file, the next one none, and
 * both print the same tasks; a changed file is read again and its new
 * marker printed; --full reads everything; without --data nothing is
 * written. */
Test(scan_cli, data_dir_makes_rescans_incremental, .timeout = 120)
{
  char *repo = tst_tmpdir(), *data = tst_tmpdir();
  char *out1 = NULL, *err1 = NULL, *out2 = NULL, *err2 = NULL;
  char *out3 = NULL, *err3 = NULL;
  fx_write(repo, "main.c", c_file);
  fx_write(repo, "tool.py", py_file);
  fx_sh(repo, "touch -d '2020-01-02 03:04:05' main.c tool.py");
  cr_assert_eq(ccm(&out1, &err1, "--json", "--data", data, repo), 0, "%s", err1);
  cr_assert(strstr(err1, ": 2 files in"), "%s", err1);
  cr_assert_eq(ccm(&out2, &err2, "--json", "--data", data, repo), 0, "%s", err2);
  cr_assert(strstr(err2, ": 0 files in"), "nothing read again: %s", err2);
  json_t *a1 = lines(out1), *a2 = lines(out2);
  cr_assert_eq(json_array_size(a1), 3);
  cr_assert_eq(json_array_size(a2), 3);
  cr_assert_str_eq(id_of(a2, "fixme", "EINTR"), id_of(a1, "fixme", "EINTR"));
  cr_assert_not_null(find_text(a2, "hack", "parser"), "unchanged file's task");

  fx_write(repo, "tool.py", "# BUG: new one\n");
  cr_assert_eq(ccm(&out3, &err3, "--json", "--data", data, repo), 0, "%s", err3);
  cr_assert(strstr(err3, ": 1 files in"), "%s", err3);
  json_t *a3 = lines(out3);
  cr_assert_not_null(find_text(a3, "bug", "new one"));
  cr_assert_null(find_text(a3, "hack", "parser"), "its old marker is resolved");
  cr_assert_not_null(find_text(a3, "fixme", "EINTR"));
  free(out3);
  free(err3);
  cr_assert_eq(ccm(&out3, &err3, "--full", repo, NULL, NULL), 2,
               "--full needs --data");
  free(out3);
  free(err3);
  char *argv[] = {(char *)tst_prog("CCM_BIN"), "scan", "--full", "--data",
                  data, repo, NULL};
  cr_assert_eq(tst_run(argv, 60000, &out3, &err3), 0, "%s", err3);
  cr_assert(strstr(err3, ": 2 files in"), "--full reads all: %s", err3);
  json_decref(a1);
  json_decref(a2);
  json_decref(a3);
  free(out1); free(err1); free(out2); free(err2); free(out3); free(err3);
  tst_rmrf(repo);
  tst_rmrf(data);
  free(repo);
  free(data);
}

/* ---- the corpus: precision and recall against hand-written findings ---- */

/* "path\tline\tTAG" for each finding in @p arr, or in expected.tsv. */
static json_t *found_keys(json_t *arr)
{
  json_t *keys = json_object();
  size_t i;
  json_t *o;
  json_array_foreach(arr, i, o) {
    char key[512];
    snprintf(key, sizeof key, "%s\t%lld\t%s",
             json_string_value(json_object_get(o, "path")),
             (long long)json_integer_value(json_object_get(o, "line")),
             json_string_value(json_object_get(o, "tag")));
    json_object_set_new(keys, key, json_true());
  }
  return keys;
}

static json_t *expected_keys(const char *path)
{
  FILE *f = fopen(path, "r");
  cr_assert_not_null(f, "%s", path);
  json_t *keys = json_object();
  char line[512];
  while (fgets(line, sizeof line, f)) {
    line[strcspn(line, "\n")] = '\0';
    if (line[0] && line[0] != '#')
      json_object_set_new(keys, line, json_true());
  }
  fclose(f);
  return keys;
}

/* Every marker in a comment of tests/data/scan/corpus (C, Python, SQL,
 * HTML, Lisp, Rust with nested comments, Go raw strings, YAML, CRLF,
 * invalid UTF-8, a 20 KB line, an empty file) is reported, and none of
 * the traps beside them (strings, char literals, URLs, raw strings, HTML
 * text, lower case): precision and recall are both 1. */
Test(scan_cli, corpus_precision_and_recall_are_one)
{
  char *out, *err;
  int rc = ccm(&out, &err, "--json", "--no-git",
               "--no-refactor", CCM_SOURCE_ROOT "/tests/data/scan/corpus");
  cr_assert_eq(rc, 0, "%s", err);
  json_t *arr = lines(out);
  json_t *got = found_keys(arr);
  json_t *want = expected_keys(CCM_SOURCE_ROOT "/tests/data/scan/expected.tsv");
  size_t hits = 0;
  const char *key;
  json_t *v;
  json_object_foreach(got, key, v) {
    if (json_object_get(want, key))
      hits++;
    else
      fprintf(stderr, "reported but not a marker: %s\n", key);
  }
  json_object_foreach(want, key, v) {
    if (!json_object_get(got, key))
      fprintf(stderr, "missed: %s\n", key);
  }
  fprintf(stderr, "corpus: precision %zu/%zu, recall %zu/%zu\n", hits,
          json_object_size(got), hits, json_object_size(want));
  cr_assert_eq(json_object_size(want), 22u, "expected.tsv changed");
  cr_assert_eq(hits, json_object_size(got), "precision below 1");
  cr_assert_eq(hits, json_object_size(want), "recall below 1");
  json_decref(got);
  json_decref(want);
  json_decref(arr);
  free(out);
  free(err);
}
