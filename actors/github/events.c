/*
 * events.c: the webhook event handler (events.h).
 *
 * One event is one job: the writes it sends to the store actor (delivery
 * id, transitions, events) are requests whose acknowledgements come back
 * as messages; a table maps each request's correlation id to its job.
 * When the last write of a job is acknowledged the job finishes: the
 * executor is asked to run what was approved (only now is the task
 * `ready` for its readers) and the observer is told. Transitions follow
 * the shortest path in the task state machine that does not pass through
 * `running` (only the executor starts and stops runs).
 */
#include <ctype.h>
#include <jansson.h>
#include <msgpack.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>

#include "actors/github/events.h"
#include "github/gh_ops.h"
#include "github/gh_webhook.h"
#include "protocol/proto.h"
#include "scan/fingerprint.h"
#include "scan/rank.h"
#include "store/store_actor.h"

#define ACTOR "github"
#define WRITE_TIMEOUT_MS 30000
#define MAX_RUNS 16 /* tasks one approval asks the executor to run */

typedef struct job {
  ghev_handled_t h;
  uint32_t outstanding; /* writes sent, not yet acknowledged */
  bool sealed;          /* every write of the event was sent */
  char *run[MAX_RUNS];  /* approved tasks, run once durable */
  size_t n_run;
} job_t;

typedef struct pending {
  uint64_t corr;
  job_t *job;
} pending_t;

typedef struct ghev {
  const ghev_config_t *cfg;
  rt_ctx_t *ctx; /* the running hook's */
  pending_t *pend;
  size_t n_pend, cap_pend;
} ghev_t;

static const char *const default_approve[] = {"ccm:approved"};

static int64_t now_ms(void)
{
  struct timeval tv;
  gettimeofday(&tv, NULL);
  return (int64_t)tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

/* ------------------------------------------------------------- jobs */

static void job_fail(job_t *j, int rc)
{
  if (rc && !j->h.rc)
    j->h.rc = rc;
}

/* "what detail", or "what" when @p detail is NULL. */
static void outcome(job_t *j, const char *what, const char *detail)
{
  snprintf(j->h.outcome, sizeof(j->h.outcome), "%s%s%s", what,
           detail ? " " : "", detail ? detail : "");
}

static void send_run(ghev_t *g, const char *task)
{
  ghev_ask_run(rt_ctx_runtime(g->ctx), task);
}

void ghev_ask_run(rt_runtime_t *rt, const char *task)
{
  rt_actor_t *ex = NULL;
  if (rt_actor_lookup(rt, "executor", &ex) != 0)
    return; /* none: the task waits in `ready` */
  proto_msg_t m = {.type = PROTO_COMMAND};
  m.u.command.action = (char *)"run";
  m.u.command.args = json_pack("{s:s}", "task", task);
  msgpack_sbuffer sb;
  msgpack_sbuffer_init(&sb);
  rt_msg_t *msg = NULL;
  if (m.u.command.args && proto_msgpack_encode(&m, &sb) == 0) {
    size_t len = sb.size;
    if (rt_msg_new_take(GHEV_MSG_COMMAND, msgpack_sbuffer_release(&sb), len,
                        &msg) == 0)
      rt_send(ex, &msg);
  } else {
    msgpack_sbuffer_destroy(&sb);
  }
  json_decref(m.u.command.args);
  rt_actor_release(ex);
}

static void job_finish(ghev_t *g, job_t *j)
{
  for (size_t i = 0; i < j->n_run; i++) {
    if (!j->h.rc)
      send_run(g, j->run[i]);
    free(j->run[i]);
  }
  if (g->cfg->observer) {
    rt_msg_t *m = NULL;
    if (rt_msg_new(GHEV_MSG_HANDLED, &j->h, sizeof(j->h), &m) == 0)
      rt_send(g->cfg->observer, &m);
  }
  free(j);
}

static void job_maybe_finish(ghev_t *g, job_t *j)
{
  if (j->sealed && j->outstanding == 0)
    job_finish(g, j);
}

static int pend_add(ghev_t *g, uint64_t corr, job_t *j)
{
  if (g->n_pend == g->cap_pend) {
    size_t cap = g->cap_pend ? g->cap_pend * 2 : 64;
    pending_t *p = realloc(g->pend, cap * sizeof(*p));
    if (!p)
      return RT_ENOMEM;
    g->pend = p;
    g->cap_pend = cap;
  }
  g->pend[g->n_pend++] = (pending_t){.corr = corr, .job = j};
  return 0;
}

static job_t *pend_take(ghev_t *g, uint64_t corr)
{
  for (size_t i = 0; i < g->n_pend; i++)
    if (g->pend[i].corr == corr) {
      job_t *j = g->pend[i].job;
      g->pend[i] = g->pend[--g->n_pend];
      return j;
    }
  return NULL;
}

/* One write through the store actor, counted against @p j. */
static void write_msg(ghev_t *g, job_t *j, const proto_msg_t *m)
{
  msgpack_sbuffer sb;
  msgpack_sbuffer_init(&sb);
  int rc = proto_msgpack_encode(m, &sb);
  rt_msg_t *msg = NULL;
  if (!rc) {
    size_t len = sb.size;
    rc = rt_msg_new_take(STORE_MSG_WRITE, msgpack_sbuffer_release(&sb), len,
                         &msg);
  } else {
    msgpack_sbuffer_destroy(&sb);
  }
  uint64_t corr = 0;
  if (!rc)
    rc = rt_request(g->ctx, g->cfg->store_actor, &msg, WRITE_TIMEOUT_MS,
                    &corr);
  if (!rc && (rc = pend_add(g, corr, j)) == 0)
    j->outstanding++;
  job_fail(j, rc);
}

static void on_ack(ghev_t *g, rt_msg_t *msg, bool timed_out)
{
  job_t *j = pend_take(g, rt_msg_corr(msg));
  if (!j)
    return;
  store_ack_t ack = {.rc = RT_ETIMEDOUT};
  size_t len = 0;
  const void *d = rt_msg_data(msg, &len);
  if (!timed_out && len == sizeof(ack))
    memcpy(&ack, d, sizeof(ack));
  job_fail(j, ack.rc);
  j->outstanding--;
  job_maybe_finish(g, j);
}

/* ------------------------------------------------------------ writes */

static void record_delivery(ghev_t *g, job_t *j, const char *id)
{
  proto_msg_t m = {.type = PROTO_COMMAND};
  m.u.command.action = (char *)"gh_deliveries";
  m.u.command.args = json_pack("{s:[[s,I]]}", "ids", id, (json_int_t)now_ms());
  if (g->cfg->deliveries_keep)
    json_object_set_new(m.u.command.args, "keep",
                        json_integer((json_int_t)g->cfg->deliveries_keep));
  if (g->cfg->deliveries_max_age_ms)
    json_object_set_new(m.u.command.args, "max_age_ms",
                        json_integer(g->cfg->deliveries_max_age_ms));
  if (m.u.command.args)
    write_msg(g, j, &m);
  json_decref(m.u.command.args);
}

json_t *ghev_step_args(const char *id, proto_state_t from, proto_state_t to,
                       const char *reason, int64_t at, bool announce)
{
  json_t *a = json_pack("{ss ss ss ss ss sI}", "task", id, "from",
                        proto_state_name(from), "to", proto_state_name(to),
                        "actor", ACTOR, "reason", reason ? reason : "", "at",
                        (json_int_t)at);
  if (a && announce)
    json_object_set_new(a, "event", json_string("tasks"));
  return a;
}

size_t ghev_path(proto_state_t from, proto_state_t to,
                 proto_state_t path[PROTO_STATE_COUNT])
{
  if ((unsigned)from >= PROTO_STATE_COUNT || (unsigned)to >= PROTO_STATE_COUNT)
    return 0;
  int prev[PROTO_STATE_COUNT];
  proto_state_t queue[PROTO_STATE_COUNT];
  for (int i = 0; i < PROTO_STATE_COUNT; i++)
    prev[i] = -1;
  size_t head = 0, tail = 0;
  queue[tail++] = from;
  prev[from] = (int)from;
  while (head < tail && prev[to] < 0) {
    proto_state_t s = queue[head++];
    if (s == PROTO_STATE_RUNNING)
      continue;
    for (int n = 0; n < PROTO_STATE_COUNT; n++)
      if (prev[n] < 0 && proto_state_transition_ok(s, (proto_state_t)n)) {
        prev[n] = (int)s;
        queue[tail++] = (proto_state_t)n;
      }
  }
  if (prev[to] < 0 || from == to)
    return 0;
  size_t n = 0;
  for (int s = (int)to; s != (int)from; s = prev[s])
    n++;
  size_t k = n;
  for (int s = (int)to; s != (int)from; s = prev[s])
    path[--k] = (proto_state_t)s;
  return n;
}

/* Move @p t to @p to (never a running task); false when no path. */
static bool move_task(ghev_t *g, job_t *j, proto_task_t *t, proto_state_t to,
                      const char *reason)
{
  proto_state_t path[PROTO_STATE_COUNT];
  size_t n = t->state == PROTO_STATE_RUNNING ? 0
                                              : ghev_path(t->state, to, path);
  if (n == 0)
    return false;
  int64_t at = now_ms();
  for (size_t i = 0; i < n; i++) {
    /* a step from a state the task has left is refused, and so are the
     * steps after it: the last one's event is never sent for a path that
     * did not happen */
    json_t *args = ghev_step_args(t->id, t->state, path[i], reason, at,
                                  i + 1 == n);
    if (!args)
      return job_fail(j, RT_ENOMEM), false;
    proto_msg_t m = {.type = PROTO_COMMAND};
    m.u.command = (proto_command_t){.action = (char *)"task_step",
                                    .args = args};
    write_msg(g, j, &m);
    json_decref(args);
    t->state = path[i];
  }
  t->updated_at = at;
  j->h.changed++;
  return true;
}

/* ------------------------------------------------------ finding tasks */

typedef struct links {
  uint32_t number;     /* issue_number to match, or 0 */
  const char *pr_url;  /* pr_url to match, or NULL */
  char **ids;
  size_t n, cap;
} links_t;

static int collect_link(const proto_task_t *t, void *arg)
{
  links_t *l = arg;
  bool hit = (l->number && t->issue_number == l->number) ||
             (l->pr_url && t->pr_url && strcmp(t->pr_url, l->pr_url) == 0);
  if (!hit)
    return 0;
  if (l->n == l->cap) {
    size_t cap = l->cap ? l->cap * 2 : 8;
    char **v = realloc(l->ids, cap * sizeof(*v));
    if (!v)
      return 1;
    l->ids = v;
    l->cap = cap;
  }
  if ((l->ids[l->n] = strdup(t->id)))
    l->n++;
  return 0;
}

static void links_free(links_t *l)
{
  for (size_t i = 0; i < l->n; i++)
    free(l->ids[i]);
  free(l->ids);
}

static void find_links(ghev_t *g, const char *repo, links_t *l)
{
  store_filter_t f = {.state = -1, .repo = repo};
  store_task_foreach(g->cfg->store, &f, collect_link, l);
}

/* The id of the issue's own task (actors/github/discovery.c's formula). */
static void issue_task_id(const ghev_repo_t *r, uint32_t number,
                          char id[SCAN_FP_HEX + 1])
{
  char path[192];
  snprintf(path, sizeof(path), "%s#%u", r->github, number);
  scan_fingerprint(id, r->id, "issue", path, "issue", 5, 0);
}

typedef void (*task_fn)(ghev_t *g, job_t *j, proto_task_t *t, void *arg);

/* Call @p fn on each task linked to issue @p number of @p r. */
static void each_linked(ghev_t *g, job_t *j, const ghev_repo_t *r,
                        uint32_t number, task_fn fn, void *arg)
{
  links_t l = {.number = number};
  find_links(g, r->id, &l);
  for (size_t i = 0; i < l.n; i++) {
    proto_task_t t;
    if (store_task_get(g->cfg->store, l.ids[i], &t) == 0) {
      fn(g, j, &t, arg);
      store_task_free(&t);
    }
  }
  links_free(&l);
}

/* ------------------------------------------------------------ handlers */

static bool approval_label(const ghev_t *g, const char *label)
{
  const char *const *v = g->cfg->n_approve ? g->cfg->approve_labels
                                           : default_approve;
  size_t n = g->cfg->n_approve ? g->cfg->n_approve : 1;
  for (size_t i = 0; label && i < n; i++)
    if (v[i] && strcmp(v[i], label) == 0)
      return true;
  return false;
}

/* Only a task waiting for approval (or failed: re-adding the label asks
 * for another run) is approved: one in review, done or skipped is not
 * run again because its issue got the label (again). */
static bool awaits_approval(proto_state_t s)
{
  return s == PROTO_STATE_NEW || s == PROTO_STATE_TRIAGED ||
         s == PROTO_STATE_READY || s == PROTO_STATE_FAILED;
}

static void approve_one(ghev_t *g, job_t *j, proto_task_t *t, void *arg)
{
  (void)arg;
  if (!awaits_approval(t->state))
    return;
  if (t->state == PROTO_STATE_READY ||
      move_task(g, j, t, PROTO_STATE_READY, "approved on GitHub (label)")) {
    if (j->n_run < MAX_RUNS && (j->run[j->n_run] = strdup(t->id)))
      j->n_run++;
  }
}

static void unapprove_one(ghev_t *g, job_t *j, proto_task_t *t, void *arg)
{
  (void)arg;
  if (t->state == PROTO_STATE_READY)
    move_task(g, j, t, PROTO_STATE_TRIAGED,
              "approval label removed on GitHub");
}

/* The issue's own task: kind issue, or stale-issue while it is stale. */
static bool is_issue_task(const proto_task_t *t)
{
  return t->kind &&
         (strcmp(t->kind, "issue") == 0 || strcmp(t->kind, "stale-issue") == 0);
}

static void close_one(ghev_t *g, job_t *j, proto_task_t *t, void *arg)
{
  (void)arg;
  if (is_issue_task(t))
    move_task(g, j, t, PROTO_STATE_RESOLVED, "issue closed on GitHub");
  else if (t->state == PROTO_STATE_NEW || t->state == PROTO_STATE_TRIAGED ||
           t->state == PROTO_STATE_READY || t->state == PROTO_STATE_BLOCKED ||
           t->state == PROTO_STATE_FAILED)
    move_task(g, j, t, PROTO_STATE_SKIPPED, "its issue was closed on GitHub");
}

static void reopen_one(ghev_t *g, job_t *j, proto_task_t *t, void *arg)
{
  (void)arg;
  if (is_issue_task(t) && t->state == PROTO_STATE_RESOLVED)
    move_task(g, j, t, PROTO_STATE_NEW, "issue reopened on GitHub");
  else if (!is_issue_task(t) && t->state == PROTO_STATE_SKIPPED)
    move_task(g, j, t, PROTO_STATE_TRIAGED, "its issue was reopened on GitHub");
}

static char *issue_title(const gh_event_t *ev)
{
  const char *text = ev->title ? ev->title : "";
  size_t n = strlen(text) + 8;
  char *s = malloc(n);
  if (s)
    snprintf(s, n, "ISSUE: %s", text);
  return s;
}

static bool human(const ghev_t *g, const char *login, bool bot)
{
  return login && *login && !bot && !gh_user_is_bot(login, NULL) &&
         !(g->cfg->self_login && strcmp(login, g->cfg->self_login) == 0);
}

/* Write GitHub's fields @p args (store COMMAND "gh_task", store.h) to
 * task @p t: the store applies them to the task as it is then, so nothing
 * committed since @p t was read is lost; the event shows @p t merged the
 * same way. Takes @p args. */
static void write_fields(ghev_t *g, job_t *j, proto_task_t *t, json_t *args)
{
  int64_t at = now_ms();
  json_object_set_new(args, "task", json_string(t->id));
  json_object_set_new(args, "at", json_integer(at));
  /* the store appends the "tasks" event with the task as committed (a
   * state change committed since our read is in it) */
  json_object_set_new(args, "event", json_string("tasks"));
  if (store_task_merge_ghtask(t, args) != 0) {
    json_decref(args);
    return job_fail(j, RT_ENOMEM);
  }
  proto_msg_t m = {.type = PROTO_COMMAND};
  m.u.command.action = (char *)"gh_task";
  m.u.command.args = args;
  write_msg(g, j, &m);
  json_decref(args);
  j->h.changed++;
}

/* A human acted on the issue: its task is a plain issue again. */
static void human_activity(json_t *args, const char *who, const char *what)
{
  char reason[160];
  snprintf(reason, sizeof(reason), "human activity on GitHub: %s by %s", what,
           who);
  json_object_set_new(args, "kind", json_string("issue"));
  json_object_set_new(args, "stale", json_null());
  json_object_set_new(args, "reason", json_string(reason));
}

/* A new issue task, as discovery would report it (the sweep completes it). */
static void new_issue_task(proto_task_t *t, const ghev_repo_t *r,
                           const char *id, const gh_event_t *ev, int64_t now)
{
  char path[192], why[160];
  snprintf(path, sizeof(path), "%s#%u", r->github, ev->number);
  memset(t, 0, sizeof(*t));
  t->id = strdup(id);
  t->repo = strdup(r->id);
  t->kind = strdup("issue");
  t->loc.path = strdup(path);
  t->text = strdup(ev->title ? ev->title : "");
  t->author = ev->sender ? strdup(ev->sender) : NULL;
  t->issue_number = ev->number;
  t->state = PROTO_STATE_NEW;
  t->first_seen = now;
  t->score.total = scan_default_score("issue", NULL, true, NULL, why,
                                      sizeof(why));
  t->score.why = strdup(why);
}

static json_t *labels_json(const gh_event_t *ev)
{
  json_t *a = json_array();
  for (size_t i = 0; a && i < ev->n_labels; i++)
    json_array_append_new(a, json_string(ev->labels[i]));
  return a;
}

/* A new issue task as the store's "new" (created only if still absent). */
static json_t *new_task_json(const ghev_repo_t *r, const char *id,
                             const gh_event_t *ev, int64_t now)
{
  proto_msg_t m = {.type = PROTO_TASK};
  new_issue_task(&m.u.task, r, id, ev, now);
  m.u.task.title = issue_title(ev);
  json_t *o = proto_json_encode(&m);
  proto_msg_fini(&m);
  return o;
}

/* opened / edited / labeled / unlabeled: the issue's own task gets the
 * title and GitHub's labels (field writes: its state, score and ccm's own
 * labels stay as they are when the store applies them); a human's action
 * ends its staleness. */
static void refresh_issue_task(ghev_t *g, job_t *j, const ghev_repo_t *r,
                               const gh_event_t *ev)
{
  char id[SCAN_FP_HEX + 1];
  issue_task_id(r, ev->number, id);
  int64_t now = now_ms();
  proto_task_t t;
  json_t *args = json_object();
  int rc = store_task_get(g->cfg->store, id, &t);
  if (rc == STORE_ENOTFOUND && strcmp(ev->action, "opened") == 0) {
    new_issue_task(&t, r, id, ev, now);
    json_object_set_new(args, "new", new_task_json(r, id, ev, now));
  } else if (rc) {
    json_decref(args);
    return;
  }
  char *title = issue_title(ev);
  json_object_set_new(args, "title", json_string(title ? title : ""));
  free(title);
  json_object_set_new(args, "text", json_string(ev->title ? ev->title : ""));
  json_object_set_new(args, "labels", labels_json(ev));
  if (is_issue_task(&t) && human(g, ev->sender, ev->sender_bot))
    human_activity(args, ev->sender, ev->action);
  write_fields(g, j, &t, args);
  store_task_free(&t);
}

/* Is the event's issue one of ccm's proposals? */
static bool proposal_issue(const ghev_t *g, const gh_event_t *ev)
{
  const char *label = g->cfg->proposal_label ? g->cfg->proposal_label
                                             : "ccm:proposal";
  for (size_t i = 0; i < ev->n_labels; i++)
    if (ev->labels[i] && strcmp(ev->labels[i], label) == 0)
      return true;
  return false;
}

static void on_issues(ghev_t *g, job_t *j, const ghev_repo_t *r,
                      const gh_event_t *ev)
{
  const char *a = ev->action ? ev->action : "";
  if (!ev->number)
    return outcome(j, "ignored: no issue number", NULL);
  if (strcmp(a, "labeled") == 0 && approval_label(g, ev->label))
    each_linked(g, j, r, ev->number, approve_one, NULL);
  else if (strcmp(a, "unlabeled") == 0 && approval_label(g, ev->label))
    each_linked(g, j, r, ev->number, unapprove_one, NULL);
  else if (strcmp(a, "closed") == 0)
    each_linked(g, j, r, ev->number, close_one, NULL);
  else if (strcmp(a, "reopened") == 0)
    each_linked(g, j, r, ev->number, reopen_one, NULL);
  if ((!strcmp(a, "opened") || !strcmp(a, "edited") ||
       !strcmp(a, "labeled") || !strcmp(a, "unlabeled")) &&
      !proposal_issue(g, ev))
    refresh_issue_task(g, j, r, ev);
  outcome(j, "issues", a);
}

/* A human commented: the issue's own task, if stale, is an issue again. */
static void end_staleness(ghev_t *g, job_t *j, const ghev_repo_t *r,
                          uint32_t number, const char *who)
{
  char id[SCAN_FP_HEX + 1];
  issue_task_id(r, number, id);
  proto_task_t t;
  if (store_task_get(g->cfg->store, id, &t) != 0)
    return;
  bool stale = t.kind && strcmp(t.kind, "stale-issue") == 0;
  for (uint32_t i = 0; !stale && i < t.labels.len; i++)
    stale = t.labels.items[i] && !strncmp(t.labels.items[i], "stale:", 6);
  if (stale) {
    json_t *args = json_object();
    human_activity(args, who, "comment");
    write_fields(g, j, &t, args);
  }
  store_task_free(&t);
}

static void on_comment(ghev_t *g, job_t *j, const ghev_repo_t *r,
                       const gh_event_t *ev)
{
  const char *who = ev->comment_author ? ev->comment_author : ev->sender;
  if (!ev->number || !human(g, who, ev->sender_bot))
    return outcome(j, "ignored: not a human comment", NULL);
  links_t l = {.number = ev->number};
  find_links(g, r->id, &l);
  end_staleness(g, j, r, ev->number, who);
  if (l.n) {
    json_t *ids = json_array();
    for (size_t i = 0; i < l.n; i++)
      json_array_append_new(ids, json_string(l.ids[i]));
    proto_msg_t e = {.type = PROTO_EVENT};
    e.u.event.seq = 1;
    e.u.event.topic = (char *)"github";
    e.u.event.ts = now_ms();
    e.u.event.data = json_pack("{s:s,s:s,s:I,s:s,s:s,s:o}", "type", "comment",
                               "repo", r->id, "issue", (json_int_t)ev->number,
                               "by", who, "action",
                               ev->action ? ev->action : "", "tasks", ids);
    if (e.u.event.data)
      write_msg(g, j, &e);
    json_decref(e.u.event.data);
  }
  snprintf(j->h.outcome, sizeof(j->h.outcome), "comment on %zu task(s)", l.n);
  links_free(&l);
}

/* The task named by ccm's marker "<!-- ccm:task=<id> -->" in @p body
 * (actors/executor/publish.c writes it), copied to @p id. */
static bool body_task_marker(const char *body, char *id, size_t len)
{
  static const char mark[] = "<!-- ccm:task=";
  const char *p = body ? strstr(body, mark) : NULL;
  if (!p)
    return false;
  p += sizeof(mark) - 1;
  size_t n = strcspn(p, " \t\r\n>");
  if (n == 0 || n >= len)
    return false;
  memcpy(id, p, n);
  id[n] = '\0';
  return true;
}

/* The issue numbers @p body closes with GitHub's keywords ("Fixes #12",
 * "closes: #3", case-insensitive), at most @p max of them. */
static size_t closing_refs(const char *body, uint32_t *out, size_t max)
{
  static const char *const kw[] = {"close", "closes", "closed", "fix",
                                   "fixes", "fixed", "resolve", "resolves",
                                   "resolved"};
  size_t n = 0;
  for (const char *p = body; p && *p && n < max; p++) {
    if (p != body && (isalnum((unsigned char)p[-1]) || p[-1] == '_'))
      continue;
    for (size_t k = 0; k < sizeof(kw) / sizeof(kw[0]); k++) {
      size_t kl = strlen(kw[k]);
      if (strncasecmp(p, kw[k], kl) != 0 || isalpha((unsigned char)p[kl]))
        continue;
      const char *q = p + kl;
      if (*q == ':')
        q++;
      while (*q == ' ' || *q == '\t')
        q++;
      char *end;
      unsigned long num = *q == '#' ? strtoul(q + 1, &end, 10) : 0;
      if (num > 0 && num <= UINT32_MAX && end != q + 1)
        out[n++] = (uint32_t)num;
      break;
    }
  }
  return n;
}

/* A task in review linked to an issue @p body closes: a github-mention
 * delegation, whose pull request the other agent opened on its own branch. */
static bool closing_ref_task(ghev_t *g, const ghev_repo_t *r,
                             const char *body, proto_task_t *t)
{
  uint32_t refs[8];
  size_t nrefs = closing_refs(body, refs, 8);
  for (size_t i = 0; i < nrefs; i++) {
    links_t l = {.number = refs[i]};
    find_links(g, r->id, &l);
    for (size_t k = 0; k < l.n; k++) {
      if (store_task_get(g->cfg->store, l.ids[k], t) != 0)
        continue;
      if (t->state == PROTO_STATE_REVIEW) {
        links_free(&l);
        return true;
      }
      store_task_free(t);
    }
    links_free(&l);
  }
  return false;
}

/* The task a pull request carries: its branch ccm/<id>, else its pr_url,
 * else ccm's task marker in its description, else a task in review whose
 * issue the description closes. */
static bool pr_task(ghev_t *g, const ghev_repo_t *r, const gh_event_t *ev,
                    proto_task_t *t)
{
  char id[PROTO_MAX_STR];
  if (ev->head_ref && strncmp(ev->head_ref, "ccm/", 4) == 0 &&
      store_task_get(g->cfg->store, ev->head_ref + 4, t) == 0) {
    if (t->repo && strcmp(t->repo, r->id) == 0)
      return true;
    store_task_free(t);
  }
  if (ev->html_url) {
    links_t l = {.pr_url = ev->html_url};
    find_links(g, r->id, &l);
    bool found = l.n && store_task_get(g->cfg->store, l.ids[0], t) == 0;
    links_free(&l);
    if (found)
      return true;
  }
  if (body_task_marker(ev->body, id, sizeof(id)) &&
      store_task_get(g->cfg->store, id, t) == 0) {
    if (t->repo && strcmp(t->repo, r->id) == 0)
      return true;
    store_task_free(t);
  }
  return closing_ref_task(g, r, ev->body, t);
}

static void on_pull_request(ghev_t *g, job_t *j, const ghev_repo_t *r,
                            const gh_event_t *ev)
{
  if (!ev->action || strcmp(ev->action, "closed") != 0)
    return outcome(j, "ignored: pull request", ev->action);
  proto_task_t t;
  if (!pr_task(g, r, ev, &t))
    return outcome(j, "ignored: no task for this pull request", NULL);
  proto_state_t to = ev->merged ? PROTO_STATE_DONE : PROTO_STATE_REJECTED;
  bool moved = t.state == PROTO_STATE_REVIEW &&
               move_task(g, j, &t, to,
                         ev->merged ? "pull request merged on GitHub"
                                    : "pull request closed without merging");
  if (moved)
    outcome(j, proto_state_name(to), NULL);
  else
    outcome(j, "left as is: the task is", proto_state_name(t.state));
  store_task_free(&t);
}

static void on_push(ghev_t *g, job_t *j, const ghev_repo_t *r,
                    const gh_event_t *ev)
{
  if (ev->deleted || (ev->ref && strncmp(ev->ref, "refs/heads/ccm/", 15) == 0))
    return outcome(j, "ignored: branch deleted or an agent's branch", NULL);
  rt_actor_t *scanner = NULL;
  if (rt_actor_lookup(rt_ctx_runtime(g->ctx), "scanner", &scanner) != 0)
    return outcome(j, "ignored: no scanner", NULL);
  proto_msg_t m = {.type = PROTO_SCAN_REQUEST};
  m.u.scan_request.repo = (char *)r->id;
  msgpack_sbuffer sb;
  msgpack_sbuffer_init(&sb);
  rt_msg_t *msg = NULL;
  int rc = proto_msgpack_encode(&m, &sb);
  if (!rc) {
    size_t len = sb.size;
    rc = rt_msg_new_take(GHEV_MSG_SCAN, msgpack_sbuffer_release(&sb), len,
                         &msg);
  } else {
    msgpack_sbuffer_destroy(&sb);
  }
  if (!rc)
    rc = rt_send(scanner, &msg); /* a full mailbox: the next scan catches up */
  rt_actor_release(scanner);
  job_fail(j, rc);
  outcome(j, "scan", r->id);
}

static const ghev_repo_t *repo_of(const ghev_t *g, const char *full_name)
{
  for (size_t i = 0; full_name && i < g->cfg->n_repos; i++)
    if (g->cfg->repos[i].github &&
        strcasecmp(g->cfg->repos[i].github, full_name) == 0)
      return &g->cfg->repos[i];
  return NULL;
}

static void dispatch(ghev_t *g, job_t *j, const gh_event_t *ev)
{
  const ghev_repo_t *r = repo_of(g, ev->repo);
  outcome(j, "ignored", NULL);
  if (ev->duplicate || ev->kind == GH_EVENT_IGNORED ||
      ev->kind == GH_EVENT_PING)
    return;
  if (!r)
    return outcome(j, "ignored: repository not configured", NULL);
  switch (ev->kind) {
  case GH_EVENT_PUSH:
    return on_push(g, j, r, ev);
  case GH_EVENT_ISSUES:
    return on_issues(g, j, r, ev);
  case GH_EVENT_ISSUE_COMMENT:
    return on_comment(g, j, r, ev);
  case GH_EVENT_PULL_REQUEST:
    return on_pull_request(g, j, r, ev);
  default:
    return;
  }
}

/* GH_MSG_EVENT (parsed) or GH_MSG_DELIVERY (raw, parsed here). */
static void on_event(ghev_t *g, const rt_msg_t *msg)
{
  gh_event_t ev;
  job_t *j = calloc(1, sizeof(*j));
  if (!j)
    return;
  int rc = rt_msg_type(msg) == GH_MSG_DELIVERY ? gh_delivery_decode(msg, &ev)
                                               : gh_event_decode(msg, &ev);
  if (rc == GH_EMALFORMED && ev.delivery) { /* id known, payload not */
    snprintf(j->h.delivery, sizeof(j->h.delivery), "%s", ev.delivery);
    record_delivery(g, j, ev.delivery);
    outcome(j, "ignored: payload does not parse", NULL);
    gh_event_fini(&ev);
  } else if (rc) {
    gh_event_fini(&ev);
    job_fail(j, rc);
    outcome(j, "ignored: malformed event message", NULL);
  } else {
    if (ev.delivery)
      snprintf(j->h.delivery, sizeof(j->h.delivery), "%s", ev.delivery);
    if (ev.delivery && !ev.duplicate)
      record_delivery(g, j, ev.delivery);
    dispatch(g, j, &ev);
    gh_event_fini(&ev);
  }
  j->sealed = true;
  job_maybe_finish(g, j);
}

/* ------------------------------------------------------------- actor */

static int ev_start(rt_ctx_t *ctx, void *state, const void *arg)
{
  ghev_t *g = state;
  g->cfg = arg;
  g->ctx = ctx;
  return g->cfg && g->cfg->store && g->cfg->store_actor ? 0 : RT_EINVAL;
}

static void ev_stop(rt_ctx_t *ctx, void *state)
{
  ghev_t *g = state;
  /* jobs still waiting for the store: drop them (their writes may land) */
  for (size_t i = 0; i < g->n_pend; i++) {
    job_t *j = g->pend[i].job;
    if (--j->outstanding == 0) {
      for (size_t k = 0; k < j->n_run; k++)
        free(j->run[k]);
      free(j);
    }
  }
  free(g->pend);
  g->pend = NULL;
  g->n_pend = g->cap_pend = 0;
  (void)ctx;
}

/* GHEV_MSG_RECONFIGURE: the new configuration, by pointer (events.h). */
static void take_config(ghev_t *g, const rt_msg_t *msg)
{
  size_t len = 0;
  const void *d = rt_msg_data(msg, &len);
  const ghev_config_t *now = NULL;
  if (len == sizeof(now))
    memcpy(&now, d, sizeof(now));
  if (now && now->store == g->cfg->store && now->n_repos == g->cfg->n_repos)
    g->cfg = now;
}

static void ev_msg(rt_ctx_t *ctx, void *state, rt_msg_t *msg)
{
  ghev_t *g = state;
  g->ctx = ctx;
  switch (rt_msg_type(msg)) {
  case GH_MSG_EVENT:
  case GH_MSG_DELIVERY:
    on_event(g, msg);
    break;
  case STORE_MSG_ACK:
    on_ack(g, msg, false);
    break;
  case RT_MSG_TIMEOUT:
    on_ack(g, msg, true);
    break;
  case GHEV_MSG_RECONFIGURE:
    take_config(g, msg);
    break;
  default:
    break;
  }
}

static const rt_actor_type_t ghev_type = {
    .name = GHEV_NAME,
    .state_size = sizeof(ghev_t),
    .on_start = ev_start,
    .on_msg = ev_msg,
    .on_stop = ev_stop,
};

int ghev_spawn(rt_runtime_t *rt, const ghev_config_t *cfg, rt_actor_t **out)
{
  rt_spawn_opts_t o = {.name = GHEV_NAME, .mailbox_capacity = 4096};
  return rt_actor_spawn(rt, &ghev_type, cfg, &o, out);
}
