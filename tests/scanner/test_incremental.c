/*
 * test_incremental.c: incremental rescans (actors/scanner/scanner.h) with
 * the analyzer and a real store, on repositories the tests make. Files
 * read are counted by the scanner (SCAN_DONE's files, and its process-wide
 * counters), never timed. The contract:
 *   - a rescan of an unchanged tree reads nothing; after a change (a
 *     commit, a dirty or untracked file, a revert) only those files;
 *   - a deleted file's tasks are resolved, a changed file's vanished
 *     marker too, and the tasks of unchanged files are not touched;
 *   - outside git, size and mtime decide, and an mtime too recent to
 *     trust makes the file read again next time;
 *   - changed settings make a full scan;
 *   - with blame, a file read again with the same blob is not blamed again;
 *   - duplicated-block tasks survive incremental rescans.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "actors/analyzer/analyzer.h"
#include "actors/scanner/scanner.h"
#include "protocol/proto.h"
#include "store/store_actor.h"
#include "tests/scanner/scan_fixture.h"
#include "tests/scanner/scan_rig.h"
#include "tests/support/rt_test.h"
#include "tests/support/store_test.h"

#define OLD_MTIME "touch -d '2020-01-02 03:04:05' "

typedef struct result {
  analyzer_summary_t sum;
  uint64_t files; /* read by this scan */
  scanner_counters_t delta;
} result_t;

/* Each test: a repository, a store, and the options of its scans. */
static scan_rig_t R;
static scanner_opts_t O;

static void setup(void)
{
  scan_rig_up(&R);
  O = (scanner_opts_t){.repo = "fx", .root = R.repo, .state = R.store};
}

static void teardown(void)
{
  scan_rig_down(&R);
}

TestSuite(incremental, .init = setup, .fini = teardown);

/* One scan with O; what it read, and the scanner's counters meanwhile. */
static result_t scan(void)
{
  result_t res;
  scanner_counters_t before, after;
  memset(&res, 0, sizeof res);
  scanner_counters_get(&before);
  res.sum = scan_rig_scan(&R, &O, &res.files);
  scanner_counters_get(&after);
  res.delta.files_read = after.files_read - before.files_read;
  res.delta.files_unchanged = after.files_unchanged - before.files_unchanged;
  res.delta.blame_runs = after.blame_runs - before.blame_runs;
  res.delta.blame_cached = after.blame_cached - before.blame_cached;
  cr_assert_eq(res.delta.files_read, res.files);
  return res;
}

/* The task whose text contains @p word. */
typedef struct found {
  const char *word;
  proto_task_t t;
  int n;
} found_t;

static int find_word(const proto_task_t *t, void *arg)
{
  found_t *f = arg;
  if (!t->text || !strstr(t->text, f->word))
    return 0;
  if (f->n++ == 0) {
    f->t = *t;
    f->t.author = t->author ? strdup(t->author) : NULL;
  }
  return 0;
}

static proto_task_t task_with(const char *word)
{
  found_t f = {.word = word};
  store_filter_t flt = {.state = -1, .repo = "fx"};
  TST_OK(store_task_foreach(R.store, &flt, find_word, &f));
  cr_assert_eq(f.n, 1, "one task mentions %s (%d)", word, f.n);
  /* only scalar fields and the author are kept */
  proto_task_t t;
  memset(&t, 0, sizeof t);
  t.state = f.t.state;
  t.last_seen = f.t.last_seen;
  t.updated_at = f.t.updated_at;
  t.loc.line = f.t.loc.line;
  t.author = f.t.author;
  return t;
}

static void old_mtimes(void)
{
  fx_sh(R.repo, "find . -path ./.git -prune -o -type f -exec " OLD_MTIME
                 "{} +");
}

Test(incremental, git_rescans_read_only_changed_files)
{
  fx_write(R.repo, "a.c", "// TODO: alpha\nint a;\n");
  fx_write(R.repo, "b.py", "# HACK: beta\n");
  fx_write(R.repo, "c.txt", "nothing here\n");
  fx_git_init(R.repo);
  old_mtimes();

  result_t s1 = scan();
  cr_assert_eq(s1.files, 3, "the first scan reads every file");
  cr_assert_eq(s1.sum.created, 2);
  result_t s2 = scan();
  cr_assert_eq(s2.files, 0, "an unchanged tree is not read");
  cr_assert_eq(s2.delta.files_unchanged, 3);
  cr_assert_eq(s2.sum.resolved, 0);

  /* a commit changes one file */
  fx_write(R.repo, "a.c", "// TODO: alpha\nint a;\nint b;\n");
  fx_sh(R.repo, OLD_MTIME "a.c && git commit -qam two");
  result_t s3 = scan();
  cr_assert_eq(s3.files, 1, "only the committed change is read");
  /* an untracked file and a dirty one */
  fx_write(R.repo, "d.c", "// FIXME: delta\n");
  fx_write(R.repo, "b.py", "# HACK: beta\nx = 1\n");
  fx_sh(R.repo, OLD_MTIME "d.c b.py");
  result_t s4 = scan();
  cr_assert_eq(s4.files, 2);
  cr_assert_eq(s4.sum.created, 1);
  /* reverting the dirty file: read again (it was dirty when read) */
  fx_sh(R.repo, "git checkout -- b.py && " OLD_MTIME "b.py");
  result_t s5 = scan();
  cr_assert_eq(s5.files, 1);
  result_t s6 = scan();
  cr_assert_eq(s6.files, 0);
}

Test(incremental, deleted_and_changed_files_resolve_unchanged_untouched)
{
  fx_write(R.repo, "a.c", "// TODO: alpha\n");
  fx_write(R.repo, "b.c", "// FIXME: beta\n");
  fx_write(R.repo, "c.c", "// TODO: gamma\n");
  fx_git_init(R.repo);
  old_mtimes();
  scan();
  proto_task_t g1 = task_with("gamma");

  fx_write(R.repo, "a.c", "// TODO: omega!\n");
  fx_sh(R.repo, "rm b.c && " OLD_MTIME "a.c");
  result_t s = scan();
  cr_assert_eq(s.files, 1, "a.c only (b.c is gone, c.c unchanged): %llu", (unsigned long long)s.files);
  cr_assert_eq(s.sum.created, 1);
  cr_assert_eq(s.sum.resolved, 2, "alpha (marker gone) and beta (file gone)");
  cr_assert_eq(s.sum.updated, 0, "nothing else was written");
  cr_assert_eq(task_with("alpha").state, PROTO_STATE_RESOLVED);
  cr_assert_eq(task_with("beta").state, PROTO_STATE_RESOLVED);
  cr_assert_eq(task_with("omega").state, PROTO_STATE_NEW);
  proto_task_t g2 = task_with("gamma");
  cr_assert_eq(g2.state, PROTO_STATE_NEW, "an unchanged file's task stays");
  cr_assert_eq(g2.updated_at, g1.updated_at, "and is not rewritten");
  cr_assert_eq(g2.last_seen, g1.last_seen);
  free(g1.author);
  free(g2.author);
}

Test(incremental, outside_git_size_and_mtime_decide)
{
  O.no_git = true;
  fx_write(R.repo, "a.c", "// TODO: alpha\n");
  fx_write(R.repo, "b.c", "// FIXME: beta\n");
  fx_write(R.repo, "new.c", "// HACK: fresh\n");
  /* An mtime within SCANNER_RACY_NS of the read (or after it) is not
   * trusted. "Just written" would depend on how soon the scan runs on a
   * loaded machine; a future mtime is inside that window whatever the
   * delay. */
  fx_sh(R.repo, "touch -d '+1 hour' new.c");
  fx_sh(R.repo, OLD_MTIME "a.c b.c");
  cr_assert_eq(scan().files, 3);
  result_t s2 = scan();
  cr_assert_eq(s2.files, 1, "a just-written file's mtime is not trusted yet");
  fx_sh(R.repo, OLD_MTIME "new.c");
  cr_assert_eq(scan().files, 1, "its mtime changed");
  cr_assert_eq(scan().files, 0);

  fx_sh(R.repo, "touch -d '2021-01-01 00:00:00' b.c");
  result_t s5 = scan();
  cr_assert_eq(s5.files, 1, "another mtime: read again");
  cr_assert_eq(s5.sum.created + s5.sum.resolved, 0);
  fx_write(R.repo, "a.c", "// TODO: alpha, longer\n");
  fx_sh(R.repo, OLD_MTIME "a.c");
  result_t s6 = scan();
  cr_assert_eq(s6.files, 1, "another size: read again");
  cr_assert_eq(s6.sum.created, 1);
  cr_assert_eq(s6.sum.resolved, 1);
}

Test(incremental, changed_settings_make_a_full_scan)
{
  static const char *const markers[] = {"TODO", "NOTE"};
  fx_write(R.repo, "a.c", "// TODO: alpha\nint a;\n// NOTE: nu\n");
  fx_write(R.repo, "b.c", "int b;\n");
  fx_git_init(R.repo);
  old_mtimes();
  cr_assert_eq(scan().files, 2);
  cr_assert_eq(scan().files, 0);
  O.markers = markers;
  O.nmarkers = 2;
  result_t s = scan();
  cr_assert_eq(s.files, 2, "other markers: every file is read");
  cr_assert_eq(s.sum.created, 1, "the NOTE: %llu", (unsigned long long)s.sum.created);
  cr_assert_eq(scan().files, 0);
  O.full = true;
  cr_assert_eq(scan().files, 2, "a full scan reads every file");
}

Test(incremental, blame_is_not_rerun_for_an_unchanged_blob)
{
  O.blame = true;
  fx_write(R.repo, "a.c", "int a;\n// TODO: alpha\n");
  fx_write(R.repo, "b.c", "// FIXME: beta\n");
  fx_write(R.repo, "c.c", "int c;\n");
  fx_git_init(R.repo);
  old_mtimes();

  result_t s1 = scan();
  cr_assert_eq(s1.delta.blame_runs, 2, "one blame per file with findings");
  cr_assert_eq(s1.delta.blame_cached, 0);
  proto_task_t a1 = task_with("alpha");
  cr_assert_str_eq(a1.author ? a1.author : "", "Tester");

  O.full = true; /* read every file again: same blobs */
  result_t s2 = scan();
  cr_assert_eq(s2.files, 3);
  cr_assert_eq(s2.delta.blame_runs, 0, "same blob: not blamed again");
  cr_assert_eq(s2.delta.blame_cached, 2);
  proto_task_t b2 = task_with("beta");
  cr_assert_str_eq(b2.author ? b2.author : "", "Tester");

  O.full = false;
  fx_write(R.repo, "a.c", "int a;\n// TODO: alpha\nint a2;\n");
  fx_sh(R.repo, OLD_MTIME "a.c && git commit -qam two");
  result_t s3 = scan();
  cr_assert_eq(s3.files, 1);
  cr_assert_eq(s3.delta.blame_runs, 1, "a new blob is blamed");
  free(a1.author);
  free(b2.author);
}

Test(incremental, duplicate_tasks_survive_incremental_rescans)
{
  const char *block = "int f(int x) {\n  int a = x + 1;\n  int b = a * 2;\n"
                      "  int c = b - 3;\n  int d = c / 4;\n  int e = d % 5;\n"
                      "  int g = e ^ 6;\n  return g;\n}\n";
  fx_write(R.repo, "one.c", block);
  fx_write(R.repo, "two.c", block);
  fx_write(R.repo, "three.c", "// TODO: other\n");
  fx_git_init(R.repo);
  old_mtimes();
  scan();
  proto_task_t d1 = task_with("duplicated block");
  cr_assert_eq(d1.state, PROTO_STATE_NEW);

  fx_write(R.repo, "one.c", "int only_one;\n");
  fx_sh(R.repo, OLD_MTIME "one.c && git commit -qam two");
  result_t s = scan();
  cr_assert_eq(s.files, 1);
  cr_assert_eq(task_with("duplicated block").state, PROTO_STATE_NEW,
               "incremental scans do not look for duplicates");
  O.full = true;
  scan();
  cr_assert_eq(task_with("duplicated block").state, PROTO_STATE_RESOLVED,
               "a full scan does");
  free(d1.author);
}
