/*
 * gh_ops.h: GitHub operations as requests for the client actor, and
 * tolerant parsers of their answers. Pure: no I/O.
 *
 * A builder fills a gh_op_t whose `req` is ready for gh_request_msg() or
 * gh_call(); bodies are compact JSON (jansson JSON_COMPACT), which is what
 * GitHub and its recordings expect. Repositories are "owner/name" and are
 * checked (GitHub's character set), so a path can never be smuggled in.
 * Parsers accept missing or null fields (zero / NULL in the result) and
 * fail only on a body that is not the JSON shape at all.
 */
#ifndef GH_GH_OPS_H
#define GH_GH_OPS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "github/gh.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct gh_op {
  gh_request_t req; /* public: what to send */
  char *path_buf;   /* private */
  char *body_buf;   /* private */
} gh_op_t;
/** Free what an op owns. NULL is a no-op. */
void gh_op_fini(gh_op_t *op);

/** True when @p repo is "owner/name" in GitHub's character set. */
bool gh_repo_valid(const char *repo);

typedef struct gh_issue_query {
  unsigned per_page;     /* 1..100; 0 = 100 */
  const char *labels;    /* comma-separated filter, or NULL */
  const char *since;     /* ISO 8601: updated at or after, or NULL */
  const char *state;     /* "open" (default, not sent), "closed", "all" */
  uint32_t max_pages;    /* 0 = the client's default */
} gh_issue_query_t;

/* Every builder returns 0, GH_EINVAL (bad repo, number 0, empty text), or
 * GH_ENOMEM, and leaves *op empty on failure. */

/** GET /repos/{repo}/issues: open issues (and pull requests: see
 * gh_issue_t.is_pull_request), every page. @p q may be NULL. */
int gh_op_list_issues(gh_op_t *op, const char *repo,
                      const gh_issue_query_t *q);
/** GET /repos/{repo}/issues/{n}/comments, every page. */
int gh_op_issue_comments(gh_op_t *op, const char *repo, uint32_t number);
/** GET /repos/{repo}/issues/{n}/timeline, every page. */
int gh_op_issue_timeline(gh_op_t *op, const char *repo, uint32_t number);
/** POST /repos/{repo}/issues {"title", "body"?, "labels"?}. */
int gh_op_create_issue(gh_op_t *op, const char *repo, const char *title,
                       const char *body, const char *const *labels,
                       size_t n_labels);
/** POST /repos/{repo}/issues/{n}/comments {"body"}. */
int gh_op_comment(gh_op_t *op, const char *repo, uint32_t number,
                  const char *body);
/** POST /repos/{repo}/issues/{n}/labels {"labels": [...]}. */
int gh_op_add_labels(gh_op_t *op, const char *repo, uint32_t number,
                     const char *const *labels, size_t n_labels);
/** PATCH /repos/{repo}/issues/{n} {"state": "closed", "state_reason"?}
 * (@p reason: "completed", "not_planned" or NULL). */
int gh_op_close_issue(gh_op_t *op, const char *repo, uint32_t number,
                      const char *reason);
/** PATCH /repos/{repo}/issues/{n} {"state": "open"}. */
int gh_op_reopen_issue(gh_op_t *op, const char *repo, uint32_t number);
/** POST /repos/{repo}/pulls {"title", "head", "base", "body"?, "draft"?}. */
int gh_op_create_pull(gh_op_t *op, const char *repo, const char *title,
                      const char *head, const char *base, const char *body,
                      bool draft);
/** GET /repos/{repo}/pulls/{n}. */
int gh_op_get_pull(gh_op_t *op, const char *repo, uint32_t number);

/* ---- parsed answers (strings owned; *_free / *_fini release them) ---- */

typedef struct gh_issue {
  uint32_t number;
  char *title;
  char *state;              /* "open" / "closed" */
  char *html_url;
  char *body;               /* the description (markdown), NULL if none */
  char *author;             /* user.login */
  bool author_bot;          /* user.type "Bot" or a "[bot]" login */
  char *author_association; /* OWNER, MEMBER, CONTRIBUTOR, NONE, ... */
  char **labels;            /* label names */
  size_t n_labels;
  char **assignees;         /* logins */
  size_t n_assignees;
  int64_t created_at, updated_at, closed_at; /* unix s, 0 unknown */
  uint32_t comments;
  bool is_pull_request;     /* the issues list includes pull requests */
} gh_issue_t;

/** Parse an array of issues. @return 0, GH_EMALFORMED, GH_ENOMEM. */
int gh_issues_parse(const char *json, size_t len, gh_issue_t **out,
                    size_t *n);
/** Parse one issue object. */
int gh_issue_parse(const char *json, size_t len, gh_issue_t *out);
void gh_issue_fini(gh_issue_t *i);
void gh_issues_free(gh_issue_t *v, size_t n);

/* Something that happened on an issue: a comment or a timeline event. */
typedef struct gh_activity {
  char *kind;               /* timeline "event" ("labeled", "commented",
                               ...); "commented" for comments */
  char *actor;              /* login, NULL when unknown */
  bool actor_bot;
  char *author_association; /* comments only */
  int64_t at;               /* unix s, 0 unknown */
} gh_activity_t;

/** Parse an array of issue comments. */
int gh_comments_parse(const char *json, size_t len, gh_activity_t **out,
                      size_t *n);
/** Parse an issue timeline (events without a time are kept, at = 0). */
int gh_timeline_parse(const char *json, size_t len, gh_activity_t **out,
                      size_t *n);
void gh_activities_free(gh_activity_t *v, size_t n);

typedef struct gh_pull {
  uint32_t number;
  char *state;     /* "open" / "closed" */
  bool merged;
  bool draft;
  int64_t merged_at, closed_at;
  char *html_url;
  char *head_ref, *base_ref, *head_sha;
} gh_pull_t;
int gh_pull_parse(const char *json, size_t len, gh_pull_t *out);
void gh_pull_fini(gh_pull_t *p);

/** True for a bot account: GitHub's type "Bot", or a "[bot]" login (some
 * payloads carry the login only). Either argument may be NULL. */
bool gh_user_is_bot(const char *login, const char *type);

/** "2017-10-10T16:00:00Z" (or with an offset) -> unix seconds; 0 when it
 * does not parse. */
int64_t gh_time_parse(const char *iso8601);

#ifdef __cplusplus
}
#endif
#endif /* GH_GH_OPS_H */
