/*
 * proto_test.c: example messages, hand-written comparisons, fixture loading
 * and a plain msgpack packer for the protocol suites. See proto_test.h.
 */
#include "tests/protocol/proto_test.h"
#include "tests/support/json_msgpack.h"
#include "tests/support/leak_check.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef PTST_DATA_DIR
#error "PTST_DATA_DIR must name tests/data/protocol (set by tests/meson.build)"
#endif

const proto_type_t ptst_types[PTST_NTYPES] = {
    PROTO_FINDING,       PROTO_TASK,         PROTO_TASK_UPDATE,
    PROTO_SCAN_REQUEST,  PROTO_SCAN_PROGRESS, PROTO_SCAN_DONE,
    PROTO_EVENT,         PROTO_COMMAND,      PROTO_REPLY,
    PROTO_METRIC_SAMPLE, PROTO_AGENT_OUTPUT, PROTO_ALERT,
};

void ptst_check_leaks(void) { tst_leak_check(); }

/* ---- example messages ---- */

static char *S(const char *s)
{
  char *p = strdup(s);
  cr_assert_not_null(p);
  return p;
}

static json_t *J(const char *text)
{
  json_error_t je;
  json_t *j = json_loads(text, 0, &je);
  cr_assert_not_null(j, "bad test JSON: %s", je.text);
  return j;
}

static void list2(proto_string_list_t *l, const char *a, const char *b)
{
  l->items = calloc(2, sizeof *l->items);
  cr_assert_not_null(l->items);
  l->items[0] = S(a);
  l->items[1] = S(b);
  l->len = 2;
}

#define TASK_ID "9b1e5c27d4a8f036"

static void example_finding(proto_finding_t *f)
{
  f->repo = S("ccm");
  f->kind = S("todo");
  f->tag = S("TODO");
  f->loc.path = S("runtime/sched.c");
  f->loc.line = 142;
  f->loc.column = 7;
  f->loc.symbol = S("rt__sched_steal");
  f->text = S("steal half of the victim's queue, not one actor");
  f->author = S("Zo\xc3\xab \xc3\x85gren");
  f->authored_at = 1780272000;
  f->owner = S("zoe");
  f->issue_ref = 17;
  f->fingerprint = S("f1e2d3c4b5a69788");
}

static void example_task(proto_task_t *t)
{
  t->id = S(TASK_ID);
  t->repo = S("ccm");
  t->kind = S("fixme");
  t->title = S("FIXME: retry rt_io_wait on EINTR");
  t->loc.path = S("runtime/io.c");
  t->loc.line = 88;
  t->loc.column = 5;
  t->loc.symbol = S("rt_io_wait");
  t->text = S("retry on EINTR instead of failing the whole wait");
  t->author = S("Zo\xc3\xab \xc3\x85gren");
  t->authored_at = 1780272000;
  t->first_seen = 1795183391500;
  t->last_seen = 1795510798001;
  list2(&t->labels, "bug", "runtime");
  t->issue_number = 42;
  t->pr_url = S("https://github.com/acme/ccm/pull/43");
  t->branch = S("ccm/" TASK_ID);
  t->attempts = 2;
  t->score.total = 6.25;
  t->score.value = 8;
  t->score.time_criticality = 9;
  t->score.risk_reduction = 8;
  t->score.job_size = 4;
  t->score.why = S("(value 8 + time 9 + risk 8) / size 4");
  t->state = PROTO_STATE_REVIEW;
  t->pinned = true;
  t->updated_at = 1795510800123;
}

static void example_other(proto_type_t t, proto_msg_t *m)
{
  switch (t) {
  case PROTO_TASK_UPDATE:
    m->u.task_update.task_id = S(TASK_ID);
    m->u.task_update.from = PROTO_STATE_RUNNING;
    m->u.task_update.to = PROTO_STATE_REVIEW;
    m->u.task_update.reason = S("agent exited 0; tests passed");
    m->u.task_update.actor = S("executor.1");
    m->u.task_update.at = 1795510800123;
    break;
  case PROTO_SCAN_REQUEST:
    m->u.scan_request.repo = S("ccm");
    m->u.scan_request.full = true;
    break;
  case PROTO_SCAN_PROGRESS:
    m->u.scan_progress.repo = S("ccm");
    m->u.scan_progress.files = 1200;
    m->u.scan_progress.bytes = 35000000;
    m->u.scan_progress.findings = 87;
    break;
  case PROTO_SCAN_DONE:
    m->u.scan_done.repo = S("ccm");
    m->u.scan_done.files = 4211;
    m->u.scan_done.findings = 312;
    m->u.scan_done.duration_ms = 1834;
    m->u.scan_done.error = S("git ls-files: exit status 128");
    break;
  case PROTO_EVENT:
    m->u.event.seq = 121;
    m->u.event.topic = S("tasks");
    m->u.event.ts = 1795510800123;
    m->u.event.data = J(
        "{\"id\":\"" TASK_ID "\",\"kind\":\"fixme\",\"state\":\"review\","
        "\"title\":\"FIXME: retry rt_io_wait on EINTR\","
        "\"path\":\"runtime/io.c\",\"line\":88,\"score\":{\"total\":6.25},"
        "\"labels\":[\"bug\",\"runtime\"],\"pinned\":true,\"pr_url\":null,"
        "\"delta\":-3}");
    break;
  case PROTO_COMMAND:
    m->u.command.id = S("c1");
    m->u.command.action = S("scan");
    m->u.command.args = J("{\"repo\":\"ccm\",\"full\":false}");
    break;
  case PROTO_REPLY:
    m->u.reply.id = S("c1");
    m->u.reply.ok = false;
    m->u.reply.data = J("{\"retry_after_ms\":500}");
    m->u.reply.error_code = S("not_found");
    m->u.reply.error_message = S("no repository \"acme\"");
    break;
  case PROTO_METRIC_SAMPLE:
    m->u.metric_sample.name = S("ccm_mailbox_depth");
    m->u.metric_sample.value = 12.5;
    m->u.metric_sample.ts = 1795510800000;
    list2(&m->u.metric_sample.labels, "actor=scanner.1", "repo=ccm");
    break;
  case PROTO_AGENT_OUTPUT:
    m->u.agent_output.task_id = S(TASK_ID);
    m->u.agent_output.line_no = 57;
    m->u.agent_output.stream = S("stdout");
    m->u.agent_output.line =
        S("{\"type\":\"assistant\",\"message\":\"Reading runtime/io.c\"}");
    break;
  case PROTO_ALERT:
    m->u.alert.rule = S("mailbox_depth_high");
    m->u.alert.severity = S("warning");
    m->u.alert.message = S("scanner.1 mailbox above 1000 for 30 s");
    m->u.alert.value = 1200;
    m->u.alert.threshold = 1000;
    m->u.alert.ts = 1795510800123;
    break;
  default:
    cr_assert_fail("no example for type %d", (int)t);
  }
}

void ptst_example(proto_type_t t, proto_msg_t *m)
{
  memset(m, 0, sizeof *m);
  m->type = t;
  if (t == PROTO_FINDING)
    example_finding(&m->u.finding);
  else if (t == PROTO_TASK)
    example_task(&m->u.task);
  else
    example_other(t, m);
}

void ptst_minimal(proto_type_t t, proto_msg_t *m)
{
  memset(m, 0, sizeof *m);
  m->type = t;
  switch (t) {
  case PROTO_FINDING:
    m->u.finding.repo = S("r");
    m->u.finding.kind = S("todo");
    m->u.finding.fingerprint = S("0");
    break;
  case PROTO_TASK:
    m->u.task.id = S("1");
    m->u.task.repo = S("r");
    m->u.task.kind = S("todo");
    break;
  case PROTO_TASK_UPDATE:
    m->u.task_update.task_id = S("1");
    m->u.task_update.to = PROTO_STATE_TRIAGED;
    break;
  case PROTO_SCAN_REQUEST:
    m->u.scan_request.repo = S("r");
    break;
  case PROTO_SCAN_PROGRESS:
    m->u.scan_progress.repo = S("r");
    break;
  case PROTO_SCAN_DONE:
    m->u.scan_done.repo = S("r");
    break;
  case PROTO_EVENT:
    m->u.event.seq = 1;
    m->u.event.topic = S("logs");
    break;
  case PROTO_COMMAND:
    m->u.command.action = S("run");
    break;
  case PROTO_REPLY:
    m->u.reply.ok = true;
    break;
  case PROTO_METRIC_SAMPLE:
    m->u.metric_sample.name = S("x");
    break;
  case PROTO_AGENT_OUTPUT:
    m->u.agent_output.task_id = S("1");
    m->u.agent_output.line = S("");
    break;
  case PROTO_ALERT:
    m->u.alert.rule = S("r");
    break;
  default:
    cr_assert_fail("no minimal message for type %d", (int)t);
  }
}

/* ---- comparisons ---- */

static void str_eq(const char *a, const char *b, const char *what)
{
  if (a == NULL || b == NULL) {
    cr_assert(a == b, "%s: %s vs %s", what, a ? a : "NULL", b ? b : "NULL");
    return;
  }
  cr_assert_str_eq(a, b, "%s: \"%s\" vs \"%s\"", what, a, b);
}

static void json_eq(const json_t *a, const json_t *b, const char *what)
{
  if (a == NULL || b == NULL) {
    cr_assert(a == b, "%s: one side is NULL", what);
    return;
  }
  char *sa = json_dumps(a, JSON_SORT_KEYS | JSON_ENCODE_ANY);
  char *sb = json_dumps(b, JSON_SORT_KEYS | JSON_ENCODE_ANY);
  cr_assert(json_equal(a, b), "%s: %s vs %s", what, sa, sb);
  free(sa);
  free(sb);
}

static void list_eq(const proto_string_list_t *a, const proto_string_list_t *b,
                    const char *what)
{
  cr_assert_eq(a->len, b->len, "%s: %u vs %u items", what, a->len, b->len);
  for (uint32_t i = 0; i < a->len; i++)
    str_eq(a->items[i], b->items[i], what);
}

#define EQ(field) cr_assert(a->field == b->field, "%s differs", #field)
#define SEQ(field) str_eq(a->field, b->field, #field)

static void loc_eq(const proto_location_t *a, const proto_location_t *b)
{
  SEQ(path);
  EQ(line);
  EQ(column);
  SEQ(symbol);
}

static void finding_eq(const proto_finding_t *a, const proto_finding_t *b)
{
  SEQ(repo);
  SEQ(kind);
  SEQ(tag);
  loc_eq(&a->loc, &b->loc);
  SEQ(text);
  SEQ(author);
  EQ(authored_at);
  SEQ(owner);
  EQ(issue_ref);
  SEQ(fingerprint);
}

static void task_eq(const proto_task_t *a, const proto_task_t *b)
{
  SEQ(id);
  SEQ(repo);
  SEQ(kind);
  SEQ(title);
  loc_eq(&a->loc, &b->loc);
  SEQ(text);
  SEQ(author);
  EQ(authored_at);
  EQ(first_seen);
  EQ(last_seen);
  list_eq(&a->labels, &b->labels, "labels");
  EQ(issue_number);
  SEQ(pr_url);
  SEQ(branch);
  EQ(attempts);
  EQ(score.total);
  EQ(score.value);
  EQ(score.time_criticality);
  EQ(score.risk_reduction);
  EQ(score.job_size);
  SEQ(score.why);
  EQ(state);
  EQ(pinned);
  EQ(updated_at);
}

static void small_eq(proto_type_t t, const proto_msg_t *ma,
                     const proto_msg_t *mb)
{
  switch (t) {
  case PROTO_TASK_UPDATE: {
    const proto_task_update_t *a = &ma->u.task_update, *b = &mb->u.task_update;
    SEQ(task_id);
    EQ(from);
    EQ(to);
    SEQ(reason);
    SEQ(actor);
    EQ(at);
    break;
  }
  case PROTO_SCAN_REQUEST: {
    const proto_scan_request_t *a = &ma->u.scan_request,
                               *b = &mb->u.scan_request;
    SEQ(repo);
    EQ(full);
    break;
  }
  case PROTO_SCAN_PROGRESS: {
    const proto_scan_progress_t *a = &ma->u.scan_progress,
                                *b = &mb->u.scan_progress;
    SEQ(repo);
    EQ(files);
    EQ(bytes);
    EQ(findings);
    break;
  }
  case PROTO_SCAN_DONE: {
    const proto_scan_done_t *a = &ma->u.scan_done, *b = &mb->u.scan_done;
    SEQ(repo);
    EQ(files);
    EQ(findings);
    EQ(duration_ms);
    SEQ(error);
    break;
  }
  default:
    cr_assert_fail("small_eq: type %d", (int)t);
  }
}

static void client_eq(proto_type_t t, const proto_msg_t *ma,
                      const proto_msg_t *mb)
{
  switch (t) {
  case PROTO_EVENT: {
    const proto_event_t *a = &ma->u.event, *b = &mb->u.event;
    EQ(seq);
    SEQ(topic);
    EQ(ts);
    json_eq(a->data, b->data, "event.data");
    break;
  }
  case PROTO_COMMAND: {
    const proto_command_t *a = &ma->u.command, *b = &mb->u.command;
    SEQ(id);
    SEQ(action);
    json_eq(a->args, b->args, "command.args");
    break;
  }
  case PROTO_REPLY: {
    const proto_reply_t *a = &ma->u.reply, *b = &mb->u.reply;
    SEQ(id);
    EQ(ok);
    json_eq(a->data, b->data, "reply.data");
    SEQ(error_code);
    SEQ(error_message);
    break;
  }
  default:
    cr_assert_fail("client_eq: type %d", (int)t);
  }
}

static void monitor_eq(proto_type_t t, const proto_msg_t *ma,
                       const proto_msg_t *mb)
{
  switch (t) {
  case PROTO_METRIC_SAMPLE: {
    const proto_metric_sample_t *a = &ma->u.metric_sample,
                                *b = &mb->u.metric_sample;
    SEQ(name);
    EQ(value);
    EQ(ts);
    list_eq(&a->labels, &b->labels, "labels");
    break;
  }
  case PROTO_AGENT_OUTPUT: {
    const proto_agent_output_t *a = &ma->u.agent_output,
                               *b = &mb->u.agent_output;
    SEQ(task_id);
    EQ(line_no);
    SEQ(stream);
    SEQ(line);
    break;
  }
  case PROTO_ALERT: {
    const proto_alert_t *a = &ma->u.alert, *b = &mb->u.alert;
    SEQ(rule);
    SEQ(severity);
    SEQ(message);
    EQ(value);
    EQ(threshold);
    EQ(ts);
    break;
  }
  default:
    cr_assert_fail("monitor_eq: type %d", (int)t);
  }
}

void ptst_assert_msg_eq(const proto_msg_t *a, const proto_msg_t *b)
{
  cr_assert_eq(a->type, b->type, "type %d vs %d", (int)a->type, (int)b->type);
  switch (a->type) {
  case PROTO_FINDING:
    finding_eq(&a->u.finding, &b->u.finding);
    break;
  case PROTO_TASK:
    task_eq(&a->u.task, &b->u.task);
    break;
  case PROTO_TASK_UPDATE:
  case PROTO_SCAN_REQUEST:
  case PROTO_SCAN_PROGRESS:
  case PROTO_SCAN_DONE:
    small_eq(a->type, a, b);
    break;
  case PROTO_EVENT:
  case PROTO_COMMAND:
  case PROTO_REPLY:
    client_eq(a->type, a, b);
    break;
  default:
    monitor_eq(a->type, a, b);
    break;
  }
}

void ptst_assert_zeroed(const proto_msg_t *m)
{
  static const proto_msg_t zero;
  cr_assert_eq(m->type, PROTO_NONE, "type %d after a failed decode",
               (int)m->type);
  cr_assert(memcmp(m, &zero, sizeof zero) == 0,
            "message not zeroed after a failed decode");
}

/* ---- fixtures ---- */

uint8_t *ptst_load(const char *name, size_t *len)
{
  char path[512];
  snprintf(path, sizeof path, "%s/%s", PTST_DATA_DIR, name);
  FILE *f = fopen(path, "rb");
  cr_assert_not_null(f, "cannot open fixture %s", path);
  cr_assert_eq(fseek(f, 0, SEEK_END), 0);
  long n = ftell(f);
  cr_assert_geq(n, 0);
  rewind(f);
  uint8_t *buf = malloc((size_t)n + 1);
  cr_assert_not_null(buf);
  cr_assert_eq(fread(buf, 1, (size_t)n, f), (size_t)n, "short read: %s", path);
  fclose(f);
  buf[n] = 0;
  *len = (size_t)n;
  return buf;
}

uint8_t *ptst_load_msgpack(proto_type_t t, size_t *len)
{
  char name[64];
  snprintf(name, sizeof name, "%s.msgpack", proto_type_name(t));
  return ptst_load(name, len);
}

json_t *ptst_load_json(proto_type_t t)
{
  char name[64];
  size_t len;
  snprintf(name, sizeof name, "%s.json", proto_type_name(t));
  uint8_t *text = ptst_load(name, &len);
  json_error_t je;
  json_t *j = json_loadb((const char *)text, len, JSON_REJECT_DUPLICATES, &je);
  cr_assert_not_null(j, "%s: %s", name, je.text);
  free(text);
  return j;
}

json_t *ptst_load_d(proto_type_t t)
{
  json_t *d = ptst_load_json(t);
  if (t == PROTO_EVENT) {
    /* The fixture's "ts" is 2026-11-24T09:00:00.123Z. */
    cr_assert_str_eq(json_string_value(json_object_get(d, "ts")),
                     "2026-11-24T09:00:00.123Z");
    json_object_set_new(d, "ts", json_integer(1795510800123));
  }
  return d;
}


void ptst_pack_msg(msgpack_sbuffer *sb, int v, const char *type,
                   const json_t *d)
{
  msgpack_packer pk;
  msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
  msgpack_pack_map(&pk, (v >= 0) + (type != NULL) + (d != NULL));
  if (v >= 0) {
    msgpack_pack_str_with_body(&pk, "v", 1);
    msgpack_pack_int64(&pk, v);
  }
  if (type != NULL) {
    msgpack_pack_str_with_body(&pk, "t", 1);
    msgpack_pack_str_with_body(&pk, type, strlen(type));
  }
  if (d != NULL) {
    msgpack_pack_str_with_body(&pk, "d", 1);
    json_msgpack_pack(&pk, d);
  }
}

/* ---- shared test data ---- */

const char *const *ptst_required(proto_type_t t)
{
  static const char *const finding[] = {"repo", "kind", "fingerprint", NULL};
  static const char *const task[] = {"id", "repo", "kind", "state", NULL};
  static const char *const task_update[] = {"task_id", "from", "to", NULL};
  static const char *const repo[] = {"repo", NULL};
  static const char *const event[] = {"seq", "topic", NULL};
  static const char *const command[] = {"action", NULL};
  static const char *const reply[] = {"ok", NULL};
  static const char *const metric[] = {"name", "value", NULL};
  static const char *const output[] = {"task_id", "line", NULL};
  static const char *const alert[] = {"rule", NULL};

  switch (t) {
  case PROTO_FINDING: return finding;
  case PROTO_TASK: return task;
  case PROTO_TASK_UPDATE: return task_update;
  case PROTO_SCAN_REQUEST:
  case PROTO_SCAN_PROGRESS:
  case PROTO_SCAN_DONE: return repo;
  case PROTO_EVENT: return event;
  case PROTO_COMMAND: return command;
  case PROTO_REPLY: return reply;
  case PROTO_METRIC_SAMPLE: return metric;
  case PROTO_AGENT_OUTPUT: return output;
  case PROTO_ALERT: return alert;
  default: cr_assert_fail("type %d", (int)t);
  }
  return NULL;
}

bool ptst_is_required(proto_type_t t, const char *key)
{
  for (const char *const *r = ptst_required(t); *r != NULL; r++)
    if (strcmp(*r, key) == 0)
      return true;
  return false;
}

json_t *ptst_wrong_value(const json_t *v)
{
  switch (json_typeof(v)) {
  case JSON_STRING: return json_integer(42);
  case JSON_INTEGER: return json_string("42");
  case JSON_REAL: return json_string("4.2");
  case JSON_TRUE:
  case JSON_FALSE: return json_integer(1);
  case JSON_ARRAY: return json_object();
  case JSON_OBJECT: return json_string("{}");
  default: return json_true();
  }
}

json_t *ptst_nested(int levels, bool arrays)
{
  json_t *v = json_integer(1);
  for (int i = 0; i < levels; i++) {
    json_t *c = arrays ? json_array() : json_object();
    if (arrays)
      json_array_append_new(c, v);
    else
      json_object_set_new(c, "k", v);
    v = c;
  }
  return v;
}

json_t *ptst_str_of(size_t n, char c)
{
  char *s = malloc(n + 1);
  memset(s, c, n);
  s[n] = '\0';
  json_t *j = json_stringn(s, n);
  free(s);
  return j;
}

void ptst_err_starts(const char *err, const char *prefix)
{
  cr_assert_eq(strncmp(err, prefix, strlen(prefix)), 0,
               "error \"%s\" should start with \"%s\"", err, prefix);
}

void ptst_check_wrong_type_per_field(ptst_fixture_fn load,
                                     ptst_decode_with_fn decode_with)
{
  for (int i = 0; i < PTST_NTYPES; i++) {
    proto_type_t t = ptst_types[i];
    json_t *d = load(t);
    const char *key;
    json_t *v;
    json_object_foreach(d, key, v) {
      if (strcmp(key, "data") == 0)
        continue;
      proto_msg_t m;
      char err[PTST_ERRLEN], prefix[96];
      int rc = decode_with(t, key, ptst_wrong_value(v), &m, err);
      cr_assert_eq(rc, PROTO_EFIELD, "%s.%s: %d (%s)", proto_type_name(t), key,
                   rc, err);
      snprintf(prefix, sizeof prefix, "%s.%s: ", proto_type_name(t), key);
      ptst_err_starts(err, prefix);
    }
    json_decref(d);
  }
}

void ptst_check_wrong_type_in_nested_maps(ptst_fixture_fn load,
                                          ptst_decode_with_fn decode_with)
{
  static const struct {
    proto_type_t t;
    const char *map;
  } nested[] = {{PROTO_TASK, "score"}, {PROTO_REPLY, "error"}};
  for (size_t n = 0; n < 2; n++) {
    json_t *d = load(nested[n].t);
    json_t *sub = json_object_get(d, nested[n].map);
    const char *key;
    json_t *v;
    json_object_foreach(sub, key, v) {
      json_t *copy = json_deep_copy(sub);
      json_object_set_new(copy, key, ptst_wrong_value(v));
      proto_msg_t m;
      char err[PTST_ERRLEN], prefix[96];
      int rc = decode_with(nested[n].t, nested[n].map, copy, &m, err);
      cr_assert_eq(rc, PROTO_EFIELD, "%s.%s: %d (%s)", nested[n].map, key, rc,
                   err);
      snprintf(prefix, sizeof prefix, "%s.%s.%s: ",
               proto_type_name(nested[n].t), nested[n].map, key);
      ptst_err_starts(err, prefix);
    }
    json_decref(d);
  }
}

void ptst_check_round_trips(void (*round_trip)(const proto_msg_t *m))
{
  for (int i = 0; i < PTST_NTYPES; i++) {
    proto_msg_t m;
    ptst_example(ptst_types[i], &m);
    round_trip(&m);
    proto_msg_fini(&m);
    ptst_minimal(ptst_types[i], &m);
    round_trip(&m);
    proto_msg_fini(&m);
  }
}

void ptst_check_required_fields(ptst_decode_with_fn decode_with)
{
  for (int i = 0; i < PTST_NTYPES; i++) {
    proto_type_t t = ptst_types[i];
    for (const char *const *r = ptst_required(t); *r != NULL; r++) {
      proto_msg_t m;
      char err[PTST_ERRLEN], want[128];
      snprintf(want, sizeof want, "%s.%s: missing required field",
               proto_type_name(t), *r);
      PTST_RC(decode_with(t, *r, NULL, &m, err), PROTO_EFIELD);
      cr_assert_str_eq(err, want);
      PTST_RC(decode_with(t, *r, json_null(), &m, err), PROTO_EFIELD);
      cr_assert_str_eq(err, want);
    }
  }
}

void ptst_check_optional_fields(ptst_fixture_fn load,
                                ptst_decode_with_fn decode_with)
{
  for (int i = 0; i < PTST_NTYPES; i++) {
    proto_type_t t = ptst_types[i];
    json_t *d = load(t);
    const char *key;
    json_t *v;
    json_object_foreach(d, key, v) {
      if (ptst_is_required(t, key) ||
          (t == PROTO_REPLY && strcmp(key, "error") == 0))
        continue;
      proto_msg_t m;
      char err[PTST_ERRLEN];
      cr_assert_eq(decode_with(t, key, NULL, &m, err), 0, "%s.%s: %s",
                   proto_type_name(t), key, err);
      proto_msg_fini(&m);
      cr_assert_eq(decode_with(t, key, json_null(), &m, err), 0, "%s.%s: %s",
                   proto_type_name(t), key, err);
      proto_msg_fini(&m);
    }
    json_decref(d);
  }
}
