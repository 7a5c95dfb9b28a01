/*
 * config_int.h: internals of config/ (this folder only).
 *
 * Design. Loading runs in two passes over the text:
 *
 *   1. tree.c turns libyaml's events into a small tree of nodes (scalar,
 *      list, map), each with its 1-based line and column. libyaml's own
 *      document loader is not used: it recurses once per nesting level
 *      (a deep file would exhaust the stack), resolves aliases silently
 *      and accepts duplicate keys. Here nesting is capped (CFG_DEPTH_MAX),
 *      an alias becomes a second reference to the anchored node (the tree
 *      is a DAG; every node is owned by the tree's flat list), and these
 *      are errors: an alias as a key, an alias to an unknown anchor or to
 *      a node that contains it, a list or map as a key, a duplicate key,
 *      a second document, a tag outside the standard YAML ones.
 *   2. schema.c walks the tree against one field table per section
 *      ({key, parser, offset into the section's struct, bounds}). Each
 *      parser checks type and range and writes one typed member; on an
 *      error it reports FILE:LINE:COLUMN with the key path
 *      ("repos[1].github") and leaves the default in place, and the walk
 *      goes on so that every error is reported. Cross-key rules
 *      (agents.default names a preset, auto_approve names known kinds)
 *      run after the walk.
 *
 * Scalars follow YAML 1.2's core schema, strictly: a number must be
 * written plain (a quoted "30" is a string), booleans are true/false only
 * (yes/no/on/off are refused rather than guessed), null is ~, null or
 * nothing. Aliases may reach a node many times, so the walk counts node
 * visits and stops past CFG_VISITS_MAX (a "billion laughs" file ends
 * there, not in an out-of-memory kill).
 *
 * Memory: the input is capped at CFG_FILE_MAX, so every allocation is
 * bounded by it; allocation failure aborts (cfg__xmalloc), as for the
 * runtime's small internal allocations.
 */
#ifndef CCM_CONFIG_CONFIG_INT_H
#define CCM_CONFIG_CONFIG_INT_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config/config.h"

/* Nesting deeper than this is no ccm config (the deepest key is four
 * levels down); it also bounds the builder's stack. */
#define CFG_DEPTH_MAX 64
/* Node visits of one walk: a 1 MiB file has at most ~500 k nodes; more
 * visits than 1 M means aliases multiply the work. */
#define CFG_VISITS_MAX 1000000u
/* Longest string value: paths, URLs and prompt templates fit in 64 KiB. */
#define CFG_STRING_MAX 65536

/* ---- allocation (aborts on failure: sizes are bounded by the input) ---- */
void *cfg__xmalloc(size_t n);
void *cfg__xcalloc(size_t n, size_t size);
void *cfg__xrealloc(void *p, size_t n);
char *cfg__xstrdup(const char *s);
char *cfg__xstrndup(const char *s, size_t n);
/* Grow *v (elements of @p size) to hold at least @p need; *cap tracks. */
void cfg__grow(void *v, size_t *cap, size_t need, size_t size);

void cfg__strv_fini(cfg_strv_t *v);
void cfg__strv_push(cfg_strv_t *v, const char *s);
void cfg__kvv_fini(cfg_kvv_t *v);

/* ---- errors ---- */
void cfg__errors_init(cfg_errors_t *e, const char *file);
/* Add one error; over CFG_ERRORS_MAX only dropped is counted. */
void cfg__error_add(cfg_errors_t *e, unsigned line, unsigned column,
                    const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
void cfg__error_vadd(cfg_errors_t *e, unsigned line, unsigned column,
                     const char *fmt, va_list ap)
    __attribute__((format(printf, 4, 0)));
/* Add the error that stopped a walk: kept even past the cap (the list
 * then holds CFG_ERRORS_MAX + 1), since it explains why checking ended. */
void cfg__error_fatal(cfg_errors_t *e, unsigned line, unsigned column,
                      const char *message);
void cfg__errors_sort(cfg_errors_t *e);
size_t cfg__errors_count(const cfg_errors_t *e);

/* ---- the node tree (tree.c) ---- */
typedef enum cfg_node_kind {
  CFG_NODE_SCALAR,
  CFG_NODE_SEQ,
  CFG_NODE_MAP,
} cfg_node_kind_t;

typedef struct cfg_node cfg_node_t;
struct cfg_node {
  cfg_node_kind_t kind;
  unsigned line, column; /* 1-based */
  /* scalars */
  char *text;            /* NUL-terminated; may hold NULs (len counts) */
  size_t len;
  bool plain;            /* unquoted, untagged: may be a number/bool/null */
  /* lists: items[0..n); maps: key, value, key, value... (n = 2 x pairs) */
  cfg_node_t **items;
  size_t n, cap;
  bool open;             /* being built: an alias to it would loop */
  bool bad_key;          /* stands for a key already reported (alias) */
};

typedef struct cfg_tree {
  cfg_node_t **all;      /* every node, owned */
  size_t nall, capall;
  cfg_node_t *root;      /* NULL: empty file */
} cfg_tree_t;

/**
 * Parse @p len bytes at @p text. Errors go to @p errs.
 * @return true when the text is well-formed YAML for a config (the
 *         tree is usable, though errors may have been added for it).
 */
bool cfg__tree_parse(cfg_tree_t *t, const char *text, size_t len,
                     cfg_errors_t *errs);
void cfg__tree_fini(cfg_tree_t *t);
/* The value of key @p key in map @p map, or NULL. */
const cfg_node_t *cfg__map_get(const cfg_node_t *map, const char *key);

/* ---- scalar values (values.c) ---- */
bool cfg__is_null(const cfg_node_t *n);
/* "a list", "a quoted string", "a number", ... for messages. */
const char *cfg__node_what(const cfg_node_t *n);
/* A printable excerpt of a scalar for messages (at most 40 characters). */
void cfg__excerpt(const cfg_node_t *n, char *buf, size_t cap);

int cfg__parse_int(const char *s, int64_t *out);    /* 0 or -1 */
int cfg__parse_double(const char *s, double *out);  /* 0 or -1 */
/* "10m", "1h30m", "500ms", "2d" -> ms; 0 or -1. */
int cfg__parse_duration(const char *s, uint64_t *ms);
/* "1MiB", "512 KiB", "1000", "2MB" -> bytes; 0 or -1. */
int cfg__parse_size(const char *s, uint64_t *bytes);
/* "ADDR:PORT" -> host (malloc'd, brackets removed) and port; 0 or -1. */
int cfg__parse_listen(const char *s, char **host, uint16_t *port);
/* Why "owner/name" is not a GitHub repository, or NULL when it is. */
const char *cfg__github_name_problem(const char *s);
/* Why @p s is not an environment variable name, or NULL. */
const char *cfg__env_name_problem(const char *s);
/* Why @p s is not an http(s) URL ccm accepts, or NULL. */
const char *cfg__url_problem(const char *s);
/* Does @p s look like a token value (ghp_..., sk-ant-..., AKIA...)? */
bool cfg__looks_like_token(const char *s);
/* Does the key or variable name @p s look like it holds a secret? */
bool cfg__name_is_secret(const char *s);
/* Levenshtein distance, capped at 3 (enough for "did you mean"). */
unsigned cfg__edit_distance(const char *a, const char *b);

/* ---- the walk (schema.c) ---- */
/* Fill @p c (already holding the defaults) from the tree's root. */
void cfg__apply_tree(cfg_t *c, const cfg_node_t *root, cfg_errors_t *errs);

/* Free what one list element owns and zero it (config.c). */
void cfg__repo_fini(cfg_repo_t *r);
void cfg__alert_fini(cfg_alert_t *a);
void cfg__webhook_fini(cfg_webhook_t *w);
/* schema.c: what a priority section owns (the struct itself stays). */
void cfg__priority_fini(cfg_priority_t *p);

#endif /* CCM_CONFIG_CONFIG_INT_H */
