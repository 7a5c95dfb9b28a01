/*
 * test_analyzer.c: scans feeding the analyzer and a real store (LMDB in a
 * temporary directory, the store actor's group commit): rescans never
 * duplicate tasks, a moved marker keeps its task and gets its new line, a
 * removed marker's task becomes `resolved`, and comes back as `new`; a
 * TODO(date) is the task's `due:` label, which follows the marker while
 * every other label (`prio:` overrides) and the score stay; and a score
 * and labels the prioritizer writes between the analyzer's read of a task
 * and its write survive that write; the store's "seen" command refuses
 * malformed arguments and never creates a task.
 */
#include <criterion/criterion.h>
#include <stdatomic.h>
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

/* ---- labels and scores the analyzer does not own ---- */

/* The labels of task @p id joined with ",", and its score total. */
static double labels_of(scan_rig_t *r, const char *id, char *out, size_t cap)
{
  proto_task_t t;
  TST_OK(store_task_get(r->store, id, &t));
  out[0] = '\0';
  for (uint32_t i = 0; i < t.labels.len; i++)
    snprintf(out + strlen(out), cap - strlen(out), "%s%s", i ? "," : "",
             t.labels.items[i]);
  double total = t.score.total;
  store_task_free(&t);
  return total;
}

/* What the prioritizer writes (store COMMAND "prio"), straight into the
 * store: total 42 and the labels @p labels. */
static void prioritize(store_t *s, const char *id, const char *const *labels,
                       uint32_t n)
{
  store_txn_t *t = NULL;
  proto_score_t score = {.total = 42, .value = 9, .time_criticality = 9,
                         .risk_reduction = 3, .job_size = 0.5,
                         .why = (char *)"test"};
  proto_string_list_t l = {(char **)labels, n};
  TST_OK(store_write_begin(s, &t));
  TST_OK(store_task_set_score(t, id, &score, &l, 1));
  TST_OK(store_write_commit(t));
}

/* A label someone else put on task @p id (a GitHub label, say). */
static void add_label(store_t *s, const char *id, const char *label)
{
  proto_task_t t;
  TST_OK(store_task_get(s, id, &t));
  char **items = realloc(t.labels.items, (t.labels.len + 1) * sizeof *items);
  cr_assert_not_null(items);
  t.labels.items = items;
  t.labels.items[t.labels.len++] = strdup(label);
  store_txn_t *x = NULL;
  TST_OK(store_write_begin(s, &x));
  TST_OK(store_task_put(x, &t, "test", "labelled"));
  TST_OK(store_write_commit(x));
  store_task_free(&t);
}

Test(analyzer, a_todo_date_is_a_due_label_and_other_labels_stay, .timeout = 120)
{
  scan_rig_t r;
  scan_rig_up(&r);
  char labels[512];
  fx_write(r.repo, "a.c", "// TODO(2020-01-02): alpha\nint a;\n");
  cr_assert_eq(scan(&r).created, 1);
  seen_t v = look(&r);
  labels_of(&r, v.id, labels, sizeof labels);
  cr_assert_str_eq(labels, "due:2020-01-02");

  add_label(r.store, v.id, "customer");
  const char *mine[] = {"prio:bump=3"};
  prioritize(r.store, v.id, mine, 1);
  fx_write(r.repo, "a.c", "// TODO(2021-05-06): alpha\nint a;\n");
  scan(&r);
  cr_assert_str_eq(look(&r).id, v.id, "the date is not part of the task's id");
  cr_assert_eq(labels_of(&r, v.id, labels, sizeof labels), 42,
               "the prioritizer's score stays");
  cr_assert_str_eq(labels, "customer,prio:bump=3,due:2021-05-06");

  fx_write(r.repo, "a.c", "// TODO: alpha\nint a;\n");
  scan(&r);
  labels_of(&r, v.id, labels, sizeof labels);
  cr_assert_str_eq(labels, "customer,prio:bump=3", "no date: no due label");
  scan_rig_down(&r);
}

/* A stand-in between the analyzer and the store actor: it passes every
 * write on and the store's acknowledgement back, but before the first
 * write after `inject` is set, it writes a prioritizer's score to task
 * `id` itself, committed: what the prioritizer could do between the
 * analyzer's read of a task and the store's commit of its write. */
typedef struct interposer_cfg {
  store_t *store;
  rt_actor_t *store_actor;
  char id[64];
  atomic_bool inject;
  atomic_int injected;
} interposer_cfg_t;

#define MAX_FORWARDED 256

typedef struct interposer {
  interposer_cfg_t *cfg;
  uint64_t corr[MAX_FORWARDED];
  rt_reply_to_t to[MAX_FORWARDED];
} interposer_t;

static int ip_start(rt_ctx_t *ctx, void *state, const void *arg)
{
  ((interposer_t *)state)->cfg = (interposer_cfg_t *)arg;
  return 0;
}

static void ip_forward(rt_ctx_t *ctx, interposer_t *ip, const rt_msg_t *req)
{
  size_t len, slot = 0;
  const void *data = rt_msg_data(req, &len);
  rt_msg_t *copy = NULL;
  while (slot < MAX_FORWARDED && ip->corr[slot])
    slot++;
  cr_assert_lt(slot, MAX_FORWARDED);
  cr_assert_eq(rt_msg_reply_to(req, &ip->to[slot]), 0);
  cr_assert_eq(rt_msg_new(STORE_MSG_WRITE, data, len, &copy), 0);
  cr_assert_eq(rt_request(ctx, ip->cfg->store_actor, &copy, 30000,
                          &ip->corr[slot]), 0);
}

static void ip_answer(interposer_t *ip, const rt_msg_t *reply)
{
  for (size_t i = 0; i < MAX_FORWARDED; i++) {
    if (ip->corr[i] != rt_msg_corr(reply))
      continue;
    size_t len;
    const void *data = rt_msg_data(reply, &len);
    rt_msg_t *copy = NULL;
    cr_assert_eq(rt_msg_new(rt_msg_type(reply), data, len, &copy), 0);
    rt_reply_later(&ip->to[i], &copy);
    ip->corr[i] = 0;
    return;
  }
}

static void ip_msg(rt_ctx_t *ctx, void *state, rt_msg_t *msg)
{
  interposer_t *ip = state;
  if (rt_msg_type(msg) == STORE_MSG_WRITE) {
    if (atomic_exchange(&ip->cfg->inject, false)) {
      const char *labels[] = {"prio:bump=3"};
      prioritize(ip->cfg->store, ip->cfg->id, labels, 1);
      atomic_fetch_add(&ip->cfg->injected, 1);
    }
    ip_forward(ctx, ip, msg);
  } else {
    ip_answer(ip, msg); /* STORE_MSG_ACK or RT_MSG_TIMEOUT */
  }
}

static const rt_actor_type_t interposer_type = {
    .name = "test_interposer",
    .state_size = sizeof(interposer_t),
    .on_start = ip_start,
    .on_msg = ip_msg,
};

Test(analyzer, a_score_written_between_the_analyzers_read_and_write_stays,
     .timeout = 120)
{
  scan_rig_t r;
  interposer_cfg_t cfg;
  rt_actor_t *ip = NULL;
  char labels[512];
  scan_rig_up_store(&r);
  memset(&cfg, 0, sizeof cfg);
  cfg.store = r.store;
  cfg.store_actor = r.store_actor;
  TST_OK(rt_actor_spawn(r.rt, &interposer_type, &cfg, NULL, &ip));
  r.ao.store_actor = ip;
  scan_rig_start_analyzer(&r);

  fx_write(r.repo, "a.c", "// TODO(2020-01-02): alpha\nint a;\n");
  cr_assert_eq(scan(&r).created, 1);
  seen_t v = look(&r);
  cr_assert_eq(labels_of(&r, v.id, labels, sizeof labels), 7,
               "the default rank: todo 5, overdue +2");
  snprintf(cfg.id, sizeof cfg.id, "%s", v.id);

  /* The analyzer reads the task (score 7, one label), then its write
   * reaches the store only after the prioritizer's has committed. */
  fx_write(r.repo, "a.c", "int x;\n// TODO(2020-01-02): alpha\nint a;\n");
  atomic_store(&cfg.inject, true);
  analyzer_summary_t s = scan(&r);
  cr_assert_eq(atomic_load(&cfg.injected), 1);
  cr_assert_eq(s.updated, 1);
  cr_assert_eq(labels_of(&r, v.id, labels, sizeof labels), 42,
               "the prioritizer's score is not undone");
  cr_assert_str_eq(labels, "prio:bump=3,due:2020-01-02");
  cr_assert_eq(look(&r).line, 2, "the scan's own fields are written");
  rt_actor_release(ip);
  scan_rig_down(&r);
}

Test(analyzer, the_seen_command_checks_its_arguments, .timeout = 30)
{
  static const char *const bad[] = {
      "{}",                                              /* no task */
      "{\"task\":\"t\"}",                                /* no at */
      "{\"task\":\"t\",\"at\":1,\"line\":-1}",
      "{\"task\":\"t\",\"at\":1,\"text\":3}",
      "{\"task\":\"t\",\"at\":1,\"due\":\"2025-3-30\"}",
      "{\"task\":\"t\",\"at\":1,\"due\":\"tomorrow!!\"}",
      "{\"task\":\"t\",\"at\":1,\"score\":{\"why\":\"x\"}}",
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    json_t *j = json_loads(bad[i], 0, NULL);
    cr_assert_not_null(j);
    cr_assert_eq(store_seen_check(j), STORE_EINVAL, "%s", bad[i]);
    json_decref(j);
  }
  scan_rig_t r;
  scan_rig_up_store(&r);
  json_t *ok = json_loads("{\"task\":\"no-such-task\",\"at\":1,\"line\":3,"
                          "\"due\":\"2025-03-30\",\"text\":null}", 0, NULL);
  cr_assert_eq(store_seen_check(ok), 0);
  store_txn_t *t = NULL;
  TST_OK(store_write_begin(r.store, &t));
  cr_assert_eq(store_seen_apply(t, ok), STORE_ENOTFOUND,
               "a sighting never makes a task");
  store_write_abort(t);
  json_decref(ok);
  scan_rig_start_analyzer(&r);
  scan_rig_down(&r);
}
