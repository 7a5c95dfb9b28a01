/*
 * test_worktree.c: the contract of actors/executor/worktree.h, on real git
 * repositories made by the tests.
 *
 *  - a worktree is made on branch ccm/<id> from the base; the user's
 *    working copy (its branch, HEAD, index and uncommitted edits) is never
 *    touched;
 *  - after a run, edits, new files, deletions and commits the agent made
 *    itself are committed and listed against the base (numstat, binary
 *    files flagged); no change means no commit;
 *  - an earlier attempt's worktree and branch are replaced; removal deletes
 *    the worktree, and the branch only when asked; a directory git forgot
 *    is deleted too;
 *  - repository hooks never run;
 *  - a base other than HEAD is honoured; a bad repository is an error
 *    with a sentence;
 *  - runs of one repository may make and remove worktrees at the same time
 *    (a prune never eats another run's half-made worktree).
 */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "actors/executor/worktree.h"
#include "tests/executor/exec_test.h"
#include "tests/support/store_test.h"

TestSuite(worktree, .timeout = 120, .fini = ext_leak_check);

typedef struct fixture {
  char *repo, *data;
  char wt[4096];
  char base[EXEC_SHA_MAX];
} fixture_t;

static void setup(fixture_t *f)
{
  memset(f, 0, sizeof *f);
  f->repo = ext_git_repo();
  f->data = tst_tmpdir();
  snprintf(f->wt, sizeof f->wt, "%s/worktrees/t1", f->data);
}

static void teardown(fixture_t *f)
{
  tst_rmrf(f->repo);
  tst_rmrf(f->data);
  free(f->repo);
  free(f->data);
}

static void create(fixture_t *f)
{
  char err[512] = "";
  int rc = exec_wt_create(f->repo, NULL, f->wt, "ccm/t1", f->base, err,
                          sizeof err);
  cr_assert_eq(rc, 0, "create: %d %s", rc, err);
}

static char *path_in(const char *dir, const char *rel)
{
  static char buf[8192];
  int n = snprintf(buf, sizeof buf, "%s/%s", dir, rel);
  cr_assert(n > 0 && (size_t)n < sizeof buf);
  return buf;
}

Test(worktree, made_beside_an_untouched_working_copy)
{
  fixture_t f;
  setup(&f);
  ext_write_file(path_in(f.repo, "README.md"), "# user's own edit\n");
  char *head_before = ext_sh_out("git -C '%s' rev-parse HEAD", f.repo);
  create(&f);
  cr_assert_str_eq(f.base, head_before);
  char *wt_branch = ext_sh_out("git -C '%s' rev-parse --abbrev-ref HEAD", f.wt);
  cr_assert_str_eq(wt_branch, "ccm/t1");
  char *user_branch =
      ext_sh_out("git -C '%s' rev-parse --abbrev-ref HEAD", f.repo);
  cr_assert_str_eq(user_branch, "main");
  char *status = ext_sh_out("git -C '%s' status --porcelain", f.repo);
  cr_assert_str_eq(status, " M README.md", "only the user's edit: %s", status);
  char *readme = ext_read_file(path_in(f.wt, "README.md"));
  cr_assert_str_eq(readme, "# demo\n", "the worktree starts from the base");
  free(head_before), free(wt_branch), free(user_branch), free(status);
  free(readme);
  teardown(&f);
}

Test(worktree, changes_committed_and_listed)
{
  fixture_t f;
  setup(&f);
  create(&f);
  ext_write_file(path_in(f.wt, "src/main.c"),
                 "int main(int c, char **v) {\n  return 0;\n}\n");
  ext_write_file(path_in(f.wt, "src/new.c"), "int x;\nint y;\n");
  ext_sh("rm '%s/README.md'", f.wt);
  ext_sh("printf '\\000\\001\\002' > '%s/blob.bin'", f.wt);
  exec_changes_t c;
  char err[512] = "";
  cr_assert_eq(exec_wt_commit(f.wt, "ccm: fix", f.base, &c, err, sizeof err),
               0, "%s", err);
  cr_assert(c.committed);
  cr_assert_eq(c.n, 4);
  cr_assert_str_neq(c.head, f.base);
  uint64_t add = 0, del = 0;
  int binaries = 0;
  for (size_t i = 0; i < c.n; i++) {
    add += c.files[i].added;
    del += c.files[i].deleted;
    binaries += c.files[i].binary;
    if (!strcmp(c.files[i].path, "src/new.c"))
      cr_assert_eq(c.files[i].added, 2);
    if (!strcmp(c.files[i].path, "README.md"))
      cr_assert_eq(c.files[i].deleted, 1);
  }
  cr_assert_eq(binaries, 1);
  cr_assert_eq(c.added, add);
  cr_assert_eq(c.deleted, del);
  char *branch_head = ext_sh_out("git -C '%s' rev-parse ccm/t1", f.repo);
  cr_assert_str_eq(branch_head, c.head, "the branch holds the commit");
  char *status = ext_sh_out("git -C '%s' status --porcelain", f.repo);
  cr_assert_str_eq(status, "", "the user's copy stays clean");
  char *author = ext_sh_out("git -C '%s' log -1 --format=%%an ccm/t1", f.repo);
  cr_assert_str_eq(author, "ccm");
  free(branch_head), free(status), free(author);
  exec_changes_fini(&c);
  teardown(&f);
}

Test(worktree, agent_commits_included_and_no_change_no_commit)
{
  fixture_t f;
  setup(&f);
  create(&f);
  exec_changes_t c;
  char err[512] = "";
  cr_assert_eq(exec_wt_commit(f.wt, "ccm: none", f.base, &c, err, sizeof err),
               0, "%s", err);
  cr_assert_not(c.committed);
  cr_assert_eq(c.n, 0);
  cr_assert_str_eq(c.head, f.base);
  exec_changes_fini(&c);

  ext_write_file(path_in(f.wt, "agent.txt"), "committed by the agent\n");
  ext_sh("cd '%s' && git add agent.txt && git -c user.name=a "
         "-c user.email=a@example.com commit -q -m agent", f.wt);
  ext_write_file(path_in(f.wt, "later.txt"), "left uncommitted\n");
  cr_assert_eq(exec_wt_commit(f.wt, "ccm: rest", f.base, &c, err, sizeof err),
               0, "%s", err);
  cr_assert(c.committed);
  cr_assert_eq(c.n, 2);
  cr_assert_eq(c.added, 2);
  exec_changes_fini(&c);
  teardown(&f);
}

/* The branch's commit is read from git's files (no rev-parse process);
 * with the ref packed away it comes from git itself, and both agree. */
Test(worktree, head_commit_from_files_or_git_alike)
{
  fixture_t f;
  setup(&f);
  create(&f);
  char *base = ext_sh_out("git -C '%s' rev-parse main", f.repo);
  cr_assert_str_eq(f.base, base, "the base read from the new branch");
  ext_write_file(path_in(f.wt, "a.txt"), "a\n");
  exec_changes_t c;
  char err[512] = "";
  cr_assert_eq(exec_wt_commit(f.wt, "ccm: a", f.base, &c, err, sizeof err),
               0, "%s", err);
  char *head = ext_sh_out("git -C '%s' rev-parse ccm/t1", f.repo);
  cr_assert_str_eq(c.head, head, "the commit just made");
  exec_changes_fini(&c);
  ext_sh("git -C '%s' pack-refs --all --prune", f.repo);
  cr_assert_eq(exec_wt_commit(f.wt, "ccm: none", f.base, &c, err, sizeof err),
               0, "%s", err);
  cr_assert_not(c.committed);
  cr_assert_str_eq(c.head, head, "a packed ref: asked of git");
  exec_changes_fini(&c);
  free(base);
  free(head);
  teardown(&f);
}

Test(worktree, earlier_attempt_replaced_and_removal)
{
  fixture_t f;
  setup(&f);
  create(&f);
  ext_write_file(path_in(f.wt, "junk.txt"), "from attempt 1\n");
  exec_changes_t c;
  char err[512] = "";
  cr_assert_eq(exec_wt_commit(f.wt, "attempt 1", f.base, &c, err, sizeof err),
               0);
  exec_changes_fini(&c);
  create(&f); /* attempt 2: fresh from the base */
  struct stat st;
  cr_assert_neq(stat(path_in(f.wt, "junk.txt"), &st), 0);
  char *branch_head = ext_sh_out("git -C '%s' rev-parse ccm/t1", f.repo);
  cr_assert_str_eq(branch_head, f.base);
  free(branch_head);

  /* removal keeps the branch unless asked */
  cr_assert_eq(exec_wt_remove(f.repo, f.wt, NULL, err, sizeof err), 0, "%s",
               err);
  cr_assert_neq(stat(f.wt, &st), 0);
  ext_sh("git -C '%s' rev-parse --verify -q ccm/t1 >/dev/null", f.repo);
  char *list = ext_sh_out("git -C '%s' worktree list | wc -l", f.repo);
  cr_assert_str_eq(list, "1");
  free(list);
  cr_assert_eq(exec_wt_remove(f.repo, f.wt, "ccm/t1", err, sizeof err), 0,
               "%s", err);
  char *refs = ext_sh_out("git -C '%s' branch --list 'ccm/*'", f.repo);
  cr_assert_str_eq(refs, "");
  free(refs);
  teardown(&f);
}

Test(worktree, forgotten_directory_deleted)
{
  fixture_t f;
  setup(&f);
  create(&f);
  ext_sh("rm -rf '%s/.git/worktrees'", f.repo); /* git forgets it */
  char err[512] = "";
  cr_assert_eq(exec_wt_remove(f.repo, f.wt, "ccm/t1", err, sizeof err), 0,
               "%s", err);
  struct stat st;
  cr_assert_neq(stat(f.wt, &st), 0);
  create(&f);
  teardown(&f);
}

Test(worktree, hooks_never_run)
{
  fixture_t f;
  setup(&f);
  char marker[4096];
  snprintf(marker, sizeof marker, "%s/hook-ran", f.data);
  char hook[8192];
  snprintf(hook, sizeof hook, "#!/bin/sh\ntouch '%s'\n", marker);
  ext_write_file(path_in(f.repo, ".git/hooks/post-checkout"), hook);
  ext_write_file(path_in(f.repo, ".git/hooks/post-commit"), hook);
  ext_sh("chmod +x '%s/.git/hooks/post-checkout' "
         "'%s/.git/hooks/post-commit'", f.repo, f.repo);
  ext_sh("cd '%s' && git checkout -q -b probe && git checkout -q main && "
         "test -e '%s' && rm '%s'", f.repo, marker, marker); /* hooks work */
  create(&f);
  ext_write_file(path_in(f.wt, "x.txt"), "x\n");
  exec_changes_t c;
  char err[512] = "";
  cr_assert_eq(exec_wt_commit(f.wt, "m", f.base, &c, err, sizeof err), 0);
  cr_assert(c.committed);
  exec_changes_fini(&c);
  struct stat st;
  cr_assert_neq(stat(marker, &st), 0, "a repository hook ran");
  teardown(&f);
}

Test(worktree, base_branch_and_errors)
{
  fixture_t f;
  setup(&f);
  ext_sh("cd '%s' && git checkout -q -b dev && echo dev > dev.txt && "
         "git add dev.txt && git -c user.name=t -c user.email=t@e.com "
         "commit -q -m dev && git checkout -q main", f.repo);
  char err[512] = "";
  cr_assert_eq(exec_wt_create(f.repo, "dev", f.wt, "ccm/t1", f.base, err,
                              sizeof err), 0, "%s", err);
  struct stat st;
  cr_assert_eq(stat(path_in(f.wt, "dev.txt"), &st), 0);
  char *dev = ext_sh_out("git -C '%s' rev-parse dev", f.repo);
  cr_assert_str_eq(f.base, dev);
  free(dev);

  err[0] = '\0';
  cr_assert_neq(exec_wt_create(f.data, NULL, f.wt, "ccm/t2", f.base, err,
                               sizeof err), 0);
  cr_assert_neq(err[0], '\0', "an error says why");
  err[0] = '\0';
  cr_assert_neq(exec_wt_create(f.repo, "no-such-branch", f.wt, "ccm/t3",
                               f.base, err, sizeof err), 0);
  cr_assert_neq(err[0], '\0');
  teardown(&f);
}

typedef struct racer {
  const char *repo, *data;
  int id;
  int failures;
  char err[512];
} racer_t;

static void *race(void *arg)
{
  racer_t *r = arg;
  char dir[4096], branch[64], sha[EXEC_SHA_MAX];
  for (int i = 0; i < 6; i++) {
    snprintf(dir, sizeof dir, "%s/worktrees/r%d-%d", r->data, r->id, i);
    snprintf(branch, sizeof branch, "ccm/r%d-%d", r->id, i);
    if (exec_wt_create(r->repo, NULL, dir, branch, sha, r->err,
                       sizeof r->err) != 0 ||
        exec_wt_remove(r->repo, dir, branch, r->err, sizeof r->err) != 0)
      r->failures++;
  }
  return NULL;
}

Test(worktree, concurrent_runs_of_one_repository)
{
  fixture_t f;
  setup(&f);
  racer_t r[4];
  pthread_t th[4];
  for (int i = 0; i < 4; i++) {
    r[i] = (racer_t){.repo = f.repo, .data = f.data, .id = i};
    cr_assert_eq(pthread_create(&th[i], NULL, race, &r[i]), 0);
  }
  for (int i = 0; i < 4; i++) {
    pthread_join(th[i], NULL);
    cr_assert_eq(r[i].failures, 0, "racer %d: %s", i, r[i].err);
  }
  char *list = ext_sh_out("git -C '%s' worktree list | wc -l", f.repo);
  cr_assert_str_eq(list, "1");
  free(list);
  teardown(&f);
}
