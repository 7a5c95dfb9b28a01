/*
 * test_analyzer.c: scans feeding the analyzer and a real store (LMDB in a
 * temporary directory, the store actor's group commit): rescans never
 * duplicate tasks, a moved marker keeps its task and gets its new line, a
 * removed marker's task becomes `resolved`, and comes back as `new`.
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

/* One stateless scan of the rig's repository. */
static analyzer_summary_t scan(scan_rig_t *r)
{
  scanner_opts_t o = {.repo = "fx", .root = r->repo, .no_git = true};
  return scan_rig_scan(r, &o, NULL);
}

typedef struct seen {
  char id[64];
  proto_state_t state;
  uint32_t line;
  size_t n;
} seen_t;

static int find_text(const proto_task_t *t, void *arg)
{
  seen_t *s = arg;
  s->n++;
  if (t->text && strstr(t->text, "alpha")) {
    snprintf(s->id, sizeof s->id, "%s", t->id);
    s->state = t->state;
    s->line = t->loc.line;
  }
  return 0;
}

static seen_t look(scan_rig_t *r)
{
  seen_t s;
  memset(&s, 0, sizeof s);
  store_filter_t f = {.state = -1, .repo = "fx"};
  TST_OK(store_task_foreach(r->store, &f, find_text, &s));
  return s;
}

Test(analyzer, rescans_update_resolve_and_reopen, .timeout = 120)
{
  scan_rig_t r;
  scan_rig_up(&r);
  fx_write(r.repo, "a.c", "// TODO: alpha\nint a;\n// FIXME: beta\n");
  fx_write(r.repo, "b.py", "# HACK: gamma\n");

  analyzer_summary_t s1 = scan(&r);
  cr_assert_eq(s1.created, 3);
  seen_t v1 = look(&r);
  cr_assert_eq(v1.n, 3);
  cr_assert_eq(v1.state, PROTO_STATE_NEW);
  cr_assert_eq(v1.line, 1);

  analyzer_summary_t s2 = scan(&r);
  cr_assert_eq(s2.created, 0, "a rescan never duplicates");
  cr_assert_eq(s2.updated, 3);
  cr_assert_eq(s2.resolved, 0);
  cr_assert_eq(look(&r).n, 3);

  fx_write(r.repo, "a.c", "int x;\nint y;\n// TODO: alpha\nint a;\n// FIXME: beta\n");
  analyzer_summary_t s3 = scan(&r);
  cr_assert_eq(s3.created, 0);
  seen_t v3 = look(&r);
  cr_assert_str_eq(v3.id, v1.id, "a moved marker keeps its task");
  cr_assert_eq(v3.line, 3);

  fx_write(r.repo, "a.c", "int a;\n// FIXME: beta\n");
  analyzer_summary_t s4 = scan(&r);
  cr_assert_eq(s4.resolved, 1);
  seen_t v4 = look(&r);
  cr_assert_eq(v4.n, 3, "resolved tasks stay in the store");
  cr_assert_eq(v4.state, PROTO_STATE_RESOLVED);

  fx_write(r.repo, "a.c", "// TODO: alpha\nint a;\n// FIXME: beta\n");
  analyzer_summary_t s5 = scan(&r);
  cr_assert_eq(s5.reopened, 1);
  cr_assert_eq(s5.created, 0);
  seen_t v5 = look(&r);
  cr_assert_str_eq(v5.id, v1.id);
  cr_assert_eq(v5.state, PROTO_STATE_NEW);
  scan_rig_down(&r);
}

Test(analyzer, a_failed_scan_resolves_nothing, .timeout = 60)
{
  scan_rig_t r;
  scan_rig_up(&r);
  fx_write(r.repo, "a.c", "// TODO: alpha\n");
  cr_assert_eq(scan(&r).created, 1);
  char *gone = strdup(r.repo);
  tst_rmrf(r.repo); /* the root disappears: the walk fails */
  analyzer_summary_t s = scan(&r);
  cr_assert_eq(s.resolved, 0);
  cr_assert_eq(look(&r).state, PROTO_STATE_NEW);
  free(gone);
  scan_rig_down(&r);
}
