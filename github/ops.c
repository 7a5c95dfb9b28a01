/*
 * ops.c: request builders and answer parsers (gh_ops.h).
 *
 * Builders print the path (query values percent-encoded) and build the
 * body as a jansson object dumped with JSON_COMPACT: the byte-exact form
 * GitHub's recordings compare. Parsers walk jansson trees and copy what
 * they keep, treating every field as optional.
 */
#include <ctype.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "github/gh_int.h"
#include "github/gh_ops.h"

#define MAX_PER_PAGE 100

/* ------------------------------------------------------------ builders */

void gh_op_fini(gh_op_t *op)
{
  if (!op)
    return;
  free(op->path_buf);
  free(op->body_buf);
  memset(op, 0, sizeof(*op));
}

static bool owner_char(char c)
{
  return isalnum((unsigned char)c) || c == '-';
}

static bool name_char(char c)
{
  return isalnum((unsigned char)c) || c == '-' || c == '_' || c == '.';
}

bool gh_repo_valid(const char *repo)
{
  if (!repo)
    return false;
  const char *slash = strchr(repo, '/');
  if (!slash || slash == repo || slash - repo > 39 || !slash[1] ||
      strlen(slash + 1) > 100)
    return false;
  for (const char *p = repo; p < slash; p++)
    if (!owner_char(*p))
      return false;
  for (const char *p = slash + 1; *p; p++)
    if (!name_char(*p))
      return false;
  return strcmp(slash + 1, ".") != 0 && strcmp(slash + 1, "..") != 0;
}

static char *vprint(const char *fmt, va_list ap)
{
  va_list cp;
  va_copy(cp, ap);
  int n = vsnprintf(NULL, 0, fmt, cp);
  va_end(cp);
  char *s = n >= 0 ? malloc((size_t)n + 1) : NULL;
  if (s)
    vsnprintf(s, (size_t)n + 1, fmt, ap);
  return s;
}

static int set_path(gh_op_t *op, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static int set_path(gh_op_t *op, const char *fmt, ...)
{
  va_list ap;
  va_start(ap, fmt);
  op->path_buf = vprint(fmt, ap);
  va_end(ap);
  op->req.path = op->path_buf;
  return op->path_buf ? 0 : GH_ENOMEM;
}

/* Take @p body (a new reference) as the request body. */
static int set_body(gh_op_t *op, json_t *body)
{
  op->body_buf = body ? json_dumps(body, JSON_COMPACT) : NULL;
  json_decref(body);
  op->req.body = op->body_buf;
  return op->body_buf ? 0 : GH_ENOMEM;
}

static int start(gh_op_t *op, const char *repo, gh_method_t m)
{
  memset(op, 0, sizeof(*op));
  op->req.method = m;
  return gh_repo_valid(repo) ? 0 : GH_EINVAL;
}

static int done(gh_op_t *op, int rc)
{
  if (rc)
    gh_op_fini(op);
  return rc;
}

/* Percent-encode a query value (RFC 3986 unreserved kept). */
static char *query_escape(const char *s)
{
  size_t n = strlen(s);
  char *out = malloc(n * 3 + 1), *w = out;
  if (!out)
    return NULL;
  for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
    if (isalnum(*p) || strchr("-._~", *p))
      *w++ = (char)*p;
    else
      w += sprintf(w, "%%%02X", *p);
  }
  *w = 0;
  return out;
}

/* Append "&key=value" (escaped) to *q, a malloc'd query string. */
static int query_add(char **q, const char *key, const char *value)
{
  if (!value || !*value)
    return 0;
  char *v = query_escape(value);
  if (!v)
    return GH_ENOMEM;
  size_t need = strlen(*q) + strlen(key) + strlen(v) + 3;
  char *n = realloc(*q, need);
  if (n)
    snprintf(n + strlen(n), need - strlen(n), "&%s=%s", key, v);
  free(v);
  if (!n)
    return GH_ENOMEM;
  *q = n;
  return 0;
}

int gh_op_list_issues(gh_op_t *op, const char *repo,
                      const gh_issue_query_t *q)
{
  gh_issue_query_t dflt = {0};
  if (!q)
    q = &dflt;
  int rc = start(op, repo, GH_GET);
  if (rc)
    return done(op, rc);
  unsigned per = q->per_page && q->per_page <= MAX_PER_PAGE ? q->per_page
                                                            : MAX_PER_PAGE;
  char *query = malloc(32);
  if (!query)
    return done(op, GH_ENOMEM);
  snprintf(query, 32, "per_page=%u", per);
  if (q->state && strcmp(q->state, "open") != 0)
    rc = query_add(&query, "state", q->state);
  if (!rc)
    rc = query_add(&query, "labels", q->labels);
  if (!rc)
    rc = query_add(&query, "since", q->since);
  if (!rc)
    rc = set_path(op, "/repos/%s/issues?%s", repo, query);
  free(query);
  op->req.flags = GH_REQ_PAGINATE;
  op->req.max_pages = q->max_pages;
  return done(op, rc);
}

static int list_of_issue(gh_op_t *op, const char *repo, uint32_t number,
                         const char *what)
{
  int rc = start(op, repo, GH_GET);
  if (!rc && !number)
    rc = GH_EINVAL;
  if (!rc)
    rc = set_path(op, "/repos/%s/issues/%u/%s?per_page=%d", repo, number,
                  what, MAX_PER_PAGE);
  op->req.flags = GH_REQ_PAGINATE;
  return done(op, rc);
}

int gh_op_issue_comments(gh_op_t *op, const char *repo, uint32_t number)
{
  return list_of_issue(op, repo, number, "comments");
}

int gh_op_issue_timeline(gh_op_t *op, const char *repo, uint32_t number)
{
  return list_of_issue(op, repo, number, "timeline");
}

static json_t *string_array(const char *const *v, size_t n)
{
  json_t *a = json_array();
  for (size_t i = 0; a && i < n; i++)
    if (!v[i] || json_array_append_new(a, json_string(v[i]))) {
      json_decref(a);
      return NULL;
    }
  return a;
}

int gh_op_create_issue(gh_op_t *op, const char *repo, const char *title,
                       const char *body, const char *const *labels,
                       size_t n_labels)
{
  int rc = start(op, repo, GH_POST);
  if (!rc && (!title || !*title))
    rc = GH_EINVAL;
  if (rc)
    return done(op, rc);
  json_t *o = json_object();
  json_object_set_new(o, "title", json_string(title));
  if (body)
    json_object_set_new(o, "body", json_string(body));
  if (n_labels) {
    json_t *a = string_array(labels, n_labels);
    if (!a) {
      json_decref(o);
      return done(op, GH_EINVAL);
    }
    json_object_set_new(o, "labels", a);
  }
  rc = set_path(op, "/repos/%s/issues", repo);
  if (!rc)
    rc = set_body(op, o);
  else
    json_decref(o);
  return done(op, rc);
}

int gh_op_comment(gh_op_t *op, const char *repo, uint32_t number,
                  const char *body)
{
  int rc = start(op, repo, GH_POST);
  if (!rc && (!number || !body || !*body))
    rc = GH_EINVAL;
  if (!rc)
    rc = set_path(op, "/repos/%s/issues/%u/comments", repo, number);
  if (!rc)
    rc = set_body(op, json_pack("{s:s}", "body", body));
  return done(op, rc);
}

int gh_op_add_labels(gh_op_t *op, const char *repo, uint32_t number,
                     const char *const *labels, size_t n_labels)
{
  int rc = start(op, repo, GH_POST);
  json_t *a = rc || !number || !n_labels ? NULL
                                         : string_array(labels, n_labels);
  if (!rc && !a)
    rc = GH_EINVAL;
  if (!rc)
    rc = set_path(op, "/repos/%s/issues/%u/labels", repo, number);
  if (!rc) {
    rc = set_body(op, json_pack("{s:o}", "labels", a));
    a = NULL;
  }
  json_decref(a);
  return done(op, rc);
}

/* PATCH /repos/{repo}/issues/{n} with @p body (taken). */
static int patch_issue(gh_op_t *op, const char *repo, uint32_t number,
                       json_t *body)
{
  int rc = start(op, repo, GH_PATCH);
  if (!rc && !number)
    rc = GH_EINVAL;
  if (!rc)
    rc = set_path(op, "/repos/%s/issues/%u", repo, number);
  if (!rc)
    rc = set_body(op, body);
  else
    json_decref(body);
  return done(op, rc);
}

int gh_op_close_issue(gh_op_t *op, const char *repo, uint32_t number,
                      const char *reason)
{
  return patch_issue(op, repo, number,
                     reason ? json_pack("{s:s,s:s}", "state", "closed",
                                        "state_reason", reason)
                            : json_pack("{s:s}", "state", "closed"));
}

int gh_op_reopen_issue(gh_op_t *op, const char *repo, uint32_t number)
{
  return patch_issue(op, repo, number, json_pack("{s:s}", "state", "open"));
}

int gh_op_create_pull(gh_op_t *op, const char *repo, const char *title,
                      const char *head, const char *base, const char *body,
                      bool draft)
{
  int rc = start(op, repo, GH_POST);
  if (!rc && (!title || !*title || !head || !*head || !base || !*base))
    rc = GH_EINVAL;
  if (rc)
    return done(op, rc);
  json_t *o = json_pack("{s:s,s:s,s:s}", "title", title, "head", head,
                        "base", base);
  if (o && body)
    json_object_set_new(o, "body", json_string(body));
  if (o && draft)
    json_object_set_new(o, "draft", json_true());
  rc = set_path(op, "/repos/%s/pulls", repo);
  if (!rc)
    rc = set_body(op, o);
  else
    json_decref(o);
  return done(op, rc);
}

int gh_op_get_pull(gh_op_t *op, const char *repo, uint32_t number)
{
  int rc = start(op, repo, GH_GET);
  if (!rc && !number)
    rc = GH_EINVAL;
  if (!rc)
    rc = set_path(op, "/repos/%s/pulls/%u", repo, number);
  return done(op, rc);
}

/* ------------------------------------------------------------- parsers */

int64_t gh_time_parse(const char *s)
{
  if (!s)
    return 0;
  struct tm tm;
  memset(&tm, 0, sizeof(tm));
  const char *end = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
  if (!end)
    return 0;
  if (*end == '.') /* fractional seconds */
    while (isdigit((unsigned char)*++end))
      ;
  int64_t t = (int64_t)timegm(&tm);
  if (*end == 'Z' && !end[1])
    return t;
  int hh, mm;
  char sign;
  if (sscanf(end, "%c%2d:%2d", &sign, &hh, &mm) == 3 &&
      (sign == '+' || sign == '-'))
    return sign == '+' ? t - (hh * 3600 + mm * 60) : t + (hh * 3600 + mm * 60);
  return *end ? 0 : t;
}

char *gh__json_strdup(const json_t *o, const char *key)
{
  const char *v = json_string_value(json_object_get(o, key));
  return v ? strdup(v) : NULL;
}

static int64_t jtime(const json_t *o, const char *key)
{
  return gh_time_parse(json_string_value(json_object_get(o, key)));
}

static uint32_t ju32(const json_t *o, const char *key)
{
  json_int_t v = json_integer_value(json_object_get(o, key));
  return v > 0 && v <= UINT32_MAX ? (uint32_t)v : 0;
}

bool gh_user_is_bot(const char *login, const char *type)
{
  size_t n = login ? strlen(login) : 0;
  return (type && strcmp(type, "Bot") == 0) ||
         (n > 5 && strcmp(login + n - 5, "[bot]") == 0);
}

bool gh__json_user_is_bot(const json_t *user)
{
  return gh_user_is_bot(json_string_value(json_object_get(user, "login")),
                        json_string_value(json_object_get(user, "type")));
}

/* Copy the string member @p key of each object in @p arr. */
static char **names_of(const json_t *arr, const char *key, size_t *n)
{
  *n = 0;
  size_t len = json_array_size(arr);
  char **v = len ? calloc(len, sizeof(*v)) : NULL;
  for (size_t i = 0; v && i < len; i++) {
    const json_t *it = json_array_get(arr, i);
    /* labels may also be plain strings in some payloads */
    const char *s = json_is_string(it) ? json_string_value(it)
                                       : json_string_value(json_object_get(it, key));
    if (s && (v[*n] = strdup(s)))
      (*n)++;
  }
  return v;
}

static void issue_from(const json_t *o, gh_issue_t *out)
{
  memset(out, 0, sizeof(*out));
  const json_t *user = json_object_get(o, "user");
  out->number = ju32(o, "number");
  out->title = gh__json_strdup(o, "title");
  out->body = gh__json_strdup(o, "body");
  out->state = gh__json_strdup(o, "state");
  out->html_url = gh__json_strdup(o, "html_url");
  out->author = gh__json_strdup(user, "login");
  out->author_bot = gh__json_user_is_bot(user);
  out->author_association = gh__json_strdup(o, "author_association");
  out->labels = names_of(json_object_get(o, "labels"), "name", &out->n_labels);
  out->assignees =
      names_of(json_object_get(o, "assignees"), "login", &out->n_assignees);
  out->created_at = jtime(o, "created_at");
  out->updated_at = jtime(o, "updated_at");
  out->closed_at = jtime(o, "closed_at");
  out->comments = ju32(o, "comments");
  out->is_pull_request = json_object_get(o, "pull_request") != NULL;
}

static json_t *load(const char *json, size_t len)
{
  return json ? json_loadb(json, len, 0, NULL) : NULL;
}

int gh_issue_parse(const char *json, size_t len, gh_issue_t *out)
{
  memset(out, 0, sizeof(*out));
  json_t *root = load(json, len);
  if (!json_is_object(root)) {
    json_decref(root);
    return GH_EMALFORMED;
  }
  issue_from(root, out);
  json_decref(root);
  return 0;
}

/* Parse a JSON array whose object items @p one converts into @p size-byte
 * records; non-object items are skipped. */
static int parse_array(const char *json, size_t len, size_t size,
                       void (*one)(const json_t *, void *), void **out,
                       size_t *n)
{
  *out = NULL;
  *n = 0;
  json_t *root = load(json, len);
  if (!json_is_array(root)) {
    json_decref(root);
    return GH_EMALFORMED;
  }
  size_t cnt = json_array_size(root);
  char *v = cnt ? calloc(cnt, size) : NULL;
  if (cnt && !v) {
    json_decref(root);
    return GH_ENOMEM;
  }
  for (size_t i = 0; i < cnt; i++) {
    const json_t *it = json_array_get(root, i);
    if (json_is_object(it))
      one(it, v + size * (*n)++);
  }
  json_decref(root);
  *out = v;
  return 0;
}

static void issue_one(const json_t *o, void *dst)
{
  issue_from(o, dst);
}

int gh_issues_parse(const char *json, size_t len, gh_issue_t **out, size_t *n)
{
  return parse_array(json, len, sizeof(gh_issue_t), issue_one, (void **)out,
                     n);
}

static void free_strings(char **v, size_t n)
{
  for (size_t i = 0; i < n; i++)
    free(v[i]);
  free(v);
}

void gh_issue_fini(gh_issue_t *i)
{
  if (!i)
    return;
  free(i->title);
  free(i->body);
  free(i->state);
  free(i->html_url);
  free(i->author);
  free(i->author_association);
  free_strings(i->labels, i->n_labels);
  free_strings(i->assignees, i->n_assignees);
  memset(i, 0, sizeof(*i));
}

void gh_issues_free(gh_issue_t *v, size_t n)
{
  for (size_t i = 0; v && i < n; i++)
    gh_issue_fini(&v[i]);
  free(v);
}

static void comment_one(const json_t *o, void *dst)
{
  gh_activity_t *a = dst;
  const json_t *user = json_object_get(o, "user");
  a->kind = strdup("commented");
  a->actor = gh__json_strdup(user, "login");
  a->actor_bot = gh__json_user_is_bot(user);
  a->author_association = gh__json_strdup(o, "author_association");
  a->at = jtime(o, "created_at");
}

int gh_comments_parse(const char *json, size_t len, gh_activity_t **out,
                      size_t *n)
{
  return parse_array(json, len, sizeof(gh_activity_t), comment_one,
                     (void **)out, n);
}

/* Timeline items name their actor differently per event type: "actor"
 * (most), "user" (commented), "author" (committed, by name only). */
static void timeline_one(const json_t *o, void *dst)
{
  gh_activity_t *a = dst;
  const json_t *who = json_object_get(o, "actor");
  if (!json_is_object(who))
    who = json_object_get(o, "user");
  a->kind = gh__json_strdup(o, "event");
  a->actor = gh__json_strdup(who, "login");
  a->actor_bot = gh__json_user_is_bot(who);
  a->author_association = gh__json_strdup(o, "author_association");
  a->at = jtime(o, "created_at");
  if (!a->at)
    a->at = jtime(o, "submitted_at");
  if (!a->at)
    a->at = gh_time_parse(json_string_value(
        json_object_get(json_object_get(o, "committer"), "date")));
}

int gh_timeline_parse(const char *json, size_t len, gh_activity_t **out,
                      size_t *n)
{
  return parse_array(json, len, sizeof(gh_activity_t), timeline_one,
                     (void **)out, n);
}

void gh_activities_free(gh_activity_t *v, size_t n)
{
  for (size_t i = 0; v && i < n; i++) {
    free(v[i].kind);
    free(v[i].actor);
    free(v[i].author_association);
  }
  free(v);
}

int gh_pull_parse(const char *json, size_t len, gh_pull_t *out)
{
  memset(out, 0, sizeof(*out));
  json_t *o = load(json, len);
  if (!json_is_object(o)) {
    json_decref(o);
    return GH_EMALFORMED;
  }
  const json_t *head = json_object_get(o, "head");
  out->number = ju32(o, "number");
  out->state = gh__json_strdup(o, "state");
  out->merged = json_is_true(json_object_get(o, "merged"));
  out->draft = json_is_true(json_object_get(o, "draft"));
  out->merged_at = jtime(o, "merged_at");
  out->closed_at = jtime(o, "closed_at");
  out->merged = out->merged || out->merged_at != 0;
  out->html_url = gh__json_strdup(o, "html_url");
  out->head_ref = gh__json_strdup(head, "ref");
  out->head_sha = gh__json_strdup(head, "sha");
  out->base_ref = gh__json_strdup(json_object_get(o, "base"), "ref");
  json_decref(o);
  return 0;
}

void gh_pull_fini(gh_pull_t *p)
{
  if (!p)
    return;
  free(p->state);
  free(p->html_url);
  free(p->head_ref);
  free(p->base_ref);
  free(p->head_sha);
  memset(p, 0, sizeof(*p));
}
