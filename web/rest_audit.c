/*
 * rest_audit.c: GET /api/v1/audit?limit=&cursor=&who=&what=, the audit
 * log (store_audit.c), newest first:
 *
 *   {"audit":[{"seq","at","at_ms","who","what","subject","input_sha256",
 *              "input_bytes"}...], "next_cursor":"41"|null}
 *
 * Paging as /tasks: limit 1..1000 (default 100); next_cursor is opaque
 * to clients (the seq of the last entry listed, in decimal) and the next
 * page starts right after it, so entries appended meanwhile never shift
 * a page. who= and what= keep the entries with exactly that value. The
 * entries hold no secret by construction (identifiers and a digest).
 * Service thread only; reads go straight to the store.
 */
#include <stdlib.h>
#include <string.h>

#include "web/web_int.h"

#define AUDIT_LIMIT_DEFAULT 100
#define AUDIT_LIMIT_MAX 1000
/* who/what filters are identifiers (store_audit.c caps them at 64). */
#define AUDIT_ARG_MAX 128

typedef struct audit_page {
  json_t *list;
  size_t limit;
  const char *who, *what; /* NULL: any */
  uint64_t last_seq;
  bool more;
} audit_page_t;

static bool field_is(const json_t *e, const char *key, const char *want)
{
  const char *v = json_string_value(json_object_get(e, key));
  return !want || (v && !strcmp(v, want));
}

static int page_one(const json_t *e, void *arg)
{
  audit_page_t *p = arg;
  if (!field_is(e, "who", p->who) || !field_is(e, "what", p->what))
    return 0;
  if (json_array_size(p->list) == p->limit) {
    p->more = true;
    return 1;
  }
  p->last_seq = (uint64_t)json_integer_value(json_object_get(e, "seq"));
  return json_array_append(p->list, (json_t *)e) ? 1 : 0;
}

/* Read the arguments into @p p and *before; -1 with @p e on a bad one. */
static int audit_args(http_req_t *r, audit_page_t *p, uint64_t *before,
                      char *who, char *what, web_err_t *e)
{
  char num[32];
  int has;
  uint64_t limit = AUDIT_LIMIT_DEFAULT;
  if ((has = web__url_arg(r->wsi, "limit=", num, sizeof num)) < 0 ||
      (has && web__parse_u64(num, 1, AUDIT_LIMIT_MAX, &limit)))
    return web__err(e, 400, "bad_request", "limit must be 1..%d",
                    AUDIT_LIMIT_MAX);
  p->limit = (size_t)limit;
  *before = 0;
  if ((has = web__url_arg(r->wsi, "cursor=", num, sizeof num)) < 0 ||
      (has && web__parse_u64(num, 1, UINT64_MAX, before)))
    return web__err(e, 400, "bad_request", "bad cursor");
  if ((has = web__url_arg(r->wsi, "who=", who, AUDIT_ARG_MAX)) < 0 ||
      (has && !*who))
    return web__err(e, 400, "bad_request", "bad who");
  p->who = has ? who : NULL;
  if ((has = web__url_arg(r->wsi, "what=", what, AUDIT_ARG_MAX)) < 0 ||
      (has && !*what))
    return web__err(e, 400, "bad_request", "bad what");
  p->what = has ? what : NULL;
  return 0;
}

void web__rest_audit(web_t *w, http_req_t *r)
{
  audit_page_t p = {0};
  uint64_t before;
  char who[AUDIT_ARG_MAX], what[AUDIT_ARG_MAX];
  web_err_t e;
  if (audit_args(r, &p, &before, who, what, &e)) {
    web__http_error(r, &e);
    return;
  }
  p.list = json_array();
  int rc = p.list ? store_audit_foreach(w->store, before, page_one, &p) : -1;
  if (rc == STORE_ECORRUPT)
    rc = 0; /* the rest was listed */
  if (rc) {
    json_decref(p.list);
    web__err(&e, 503, "unavailable", "cannot read the store: %s",
             rc == -1 ? "out of memory" : store_strerror(rc));
    web__http_error(r, &e);
    return;
  }
  char cur[24];
  snprintf(cur, sizeof cur, "%llu", (unsigned long long)p.last_seq);
  web__http_json(r, 200,
                 json_pack("{s:o,s:o}", "audit", p.list, "next_cursor",
                           p.more ? json_string(cur) : json_null()));
}
