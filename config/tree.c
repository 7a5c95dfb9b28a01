/*
 * tree.c: libyaml events -> a tree of cfg_node_t with line and column
 * (see the design note in config_int.h for why not yaml_parser_load).
 *
 * One builder walks the events with an explicit stack of open lists and
 * maps (depth capped), attaches each new node to the top of the stack,
 * registers anchors, and resolves aliases to nodes already built. YAML
 * problems that libyaml lets through (duplicate keys, aliases as keys,
 * recursive aliases, unknown anchors, custom tags, more documents) are
 * reported here; the walk in schema.c reports everything else.
 */
#include <stdlib.h>
#include <string.h>

#include <yaml.h>

#include "config/config_int.h"

#define YAML_TAG_PREFIX "tag:yaml.org,2002:"

typedef struct anchor {
  char *name;
  cfg_node_t *node;
} anchor_t;

typedef struct builder {
  cfg_tree_t *t;
  cfg_errors_t *errs;
  cfg_node_t *stack[CFG_DEPTH_MAX];
  size_t depth;
  anchor_t *anchors;
  size_t nanchors, capanchors;
  unsigned docs;
  bool stop;    /* a second document: ignore the rest */
  bool broken;  /* a syntax error: the tree is incomplete */
  unsigned end_line, end_col; /* the place just after the last character */
} builder_t;

typedef struct place {
  unsigned line, col; /* 1-based */
} place_t;

/* Bytes of the line break at @p i (0: none), as libyaml counts them:
 * \r\n, \r, \n, NEL (U+0085), LS and PS (U+2028, U+2029). */
static size_t break_at(const char *t, size_t len, size_t i)
{
  const unsigned char *u = (const unsigned char *)t;
  if (u[i] == '\r')
    return i + 1 < len && u[i + 1] == '\n' ? 2 : 1;
  if (u[i] == '\n')
    return 1;
  if (u[i] == 0xC2 && i + 1 < len && u[i + 1] == 0x85)
    return 2;
  if (u[i] == 0xE2 && i + 2 < len && u[i + 1] == 0x80 &&
      (u[i + 2] == 0xA8 || u[i + 2] == 0xA9))
    return 3;
  return 0;
}

/* Line and column (1-based, in characters) of byte @p offset: reader
 * errors carry an offset, not a mark. */
static void place_of_offset(const char *text, size_t len, size_t offset,
                            unsigned *line, unsigned *col)
{
  *line = 1;
  *col = 1;
  for (size_t i = 0; i < offset && i < len;) {
    size_t br = break_at(text, len, i);
    if (br) {
      (*line)++;
      *col = 1;
      i += br;
      continue;
    }
    if (((unsigned char)text[i] & 0xC0) != 0x80)
      (*col)++;
    i++;
  }
}

/* The 1-based place of libyaml mark @p m. At the end of a file without
 * a final line break libyaml's marks are on the line after the last one:
 * those point at the end of the text instead. */
static place_t place_of(const builder_t *b, yaml_mark_t m)
{
  place_t p = {(unsigned)m.line + 1, (unsigned)m.column + 1};
  if (p.line > b->end_line)
    p = (place_t){b->end_line, b->end_col};
  return p;
}

static cfg_node_t *node_new(builder_t *b, cfg_node_kind_t kind,
                            yaml_mark_t m)
{
  cfg_tree_t *t = b->t;
  cfg_node_t *n = cfg__xcalloc(1, sizeof(*n));
  place_t at = place_of(b, m);
  n->kind = kind;
  n->line = at.line;
  n->column = at.col;
  cfg__grow(&t->all, &t->capall, t->nall + 1, sizeof(*t->all));
  t->all[t->nall++] = n;
  return n;
}

static cfg_node_t *null_node(builder_t *b, yaml_mark_t m)
{
  cfg_node_t *n = node_new(b, CFG_NODE_SCALAR, m);
  n->text = cfg__xstrdup("");
  n->plain = true;
  return n;
}

static void node_push(cfg_node_t *parent, cfg_node_t *child)
{
  cfg__grow(&parent->items, &parent->cap, parent->n + 1,
            sizeof(*parent->items));
  parent->items[parent->n++] = child;
}

static bool at_key(const builder_t *b)
{
  const cfg_node_t *top = b->depth ? b->stack[b->depth - 1] : NULL;
  return top && top->kind == CFG_NODE_MAP && top->n % 2 == 0;
}

/* Attach @p child where the event stream puts it: the root of the
 * document, or the next item of the innermost open list or map. */
static void attach(builder_t *b, cfg_node_t *child)
{
  if (b->depth == 0) {
    if (!b->t->root)
      b->t->root = child;
    return;
  }
  if (at_key(b) && child->kind != CFG_NODE_SCALAR)
    cfg__error_add(b->errs, child->line, child->column,
                   "a key must be a plain string, not %s",
                   cfg__node_what(child));
  node_push(b->stack[b->depth - 1], child);
}

static void anchor_add(builder_t *b, const yaml_char_t *name, cfg_node_t *n)
{
  if (!name)
    return;
  cfg__grow(&b->anchors, &b->capanchors, b->nanchors + 1,
            sizeof(*b->anchors));
  b->anchors[b->nanchors++] =
      (anchor_t){cfg__xstrdup((const char *)name), n};
}

/* The latest anchor of that name (YAML lets a later one replace it). */
static cfg_node_t *anchor_find(const builder_t *b, const char *name)
{
  for (size_t i = b->nanchors; i-- > 0;)
    if (!strcmp(b->anchors[i].name, name))
      return b->anchors[i].node;
  return NULL;
}

/* Standard tags are fine (!!str forces a string); any other is refused. */
static bool tag_ok(builder_t *b, const yaml_char_t *tag, yaml_mark_t m)
{
  if (!tag || !strcmp((const char *)tag, "!") ||
      !strncmp((const char *)tag, YAML_TAG_PREFIX, strlen(YAML_TAG_PREFIX)))
    return true;
  place_t at = place_of(b, m);
  cfg__error_add(b->errs, at.line, at.col,
                 "the tag '%.40s' is not supported here", (const char *)tag);
  return false;
}

static void on_scalar(builder_t *b, const yaml_event_t *ev)
{
  cfg_node_t *n = node_new(b, CFG_NODE_SCALAR, ev->start_mark);
  n->text = cfg__xstrndup((const char *)ev->data.scalar.value,
                          ev->data.scalar.length);
  n->len = ev->data.scalar.length;
  const char *tag = (const char *)ev->data.scalar.tag;
  bool str_tag = tag && !strcmp(tag, YAML_TAG_PREFIX "str");
  n->plain = ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE && !str_tag;
  tag_ok(b, ev->data.scalar.tag, ev->start_mark);
  anchor_add(b, ev->data.scalar.anchor, n);
  attach(b, n);
}

static void on_alias(builder_t *b, const yaml_event_t *ev)
{
  const char *name = (const char *)ev->data.alias.anchor;
  place_t at = place_of(b, ev->start_mark);
  unsigned line = at.line, col = at.col;
  cfg_node_t *target = anchor_find(b, name);
  if (at_key(b)) {
    cfg__error_add(b->errs, line, col, "an alias (*%.40s) cannot be a key",
                   name);
    cfg_node_t *placeholder = null_node(b, ev->start_mark);
    placeholder->bad_key = true;
    attach(b, placeholder);
    return;
  }
  if (!target) {
    cfg__error_add(b->errs, line, col, "unknown anchor in alias *%.40s",
                   name);
  } else if (target->open) {
    cfg__error_add(b->errs, line, col,
                   "the alias *%.40s refers to a list or map that contains it",
                   name);
    target = NULL;
  }
  attach(b, target ? target : null_node(b, ev->start_mark));
}

static void on_collection_start(builder_t *b, const yaml_event_t *ev,
                                cfg_node_kind_t kind)
{
  if (b->depth == CFG_DEPTH_MAX) {
    place_t at = place_of(b, ev->start_mark);
    cfg__error_add(b->errs, at.line, at.col,
                   "nested deeper than %d levels", CFG_DEPTH_MAX);
    b->broken = true;
    return;
  }
  const yaml_char_t *anchor = kind == CFG_NODE_MAP
                                  ? ev->data.mapping_start.anchor
                                  : ev->data.sequence_start.anchor;
  const yaml_char_t *tag = kind == CFG_NODE_MAP ? ev->data.mapping_start.tag
                                                : ev->data.sequence_start.tag;
  cfg_node_t *n = node_new(b, kind, ev->start_mark);
  n->open = true;
  tag_ok(b, tag, ev->start_mark);
  anchor_add(b, anchor, n);
  attach(b, n);
  b->stack[b->depth++] = n;
}

static int key_order(const void *x, const void *y)
{
  const cfg_node_t *const *a = x, *const *b = y;
  size_t n = (*a)->len < (*b)->len ? (*a)->len : (*b)->len;
  int c = memcmp((*a)->text, (*b)->text, n);
  if (c)
    return c;
  if ((*a)->len != (*b)->len)
    return (*a)->len < (*b)->len ? -1 : 1;
  if ((*a)->line != (*b)->line)
    return (*a)->line < (*b)->line ? -1 : 1;
  return (*a)->column < (*b)->column ? -1 : (*a)->column > (*b)->column;
}

/* Report every key of @p map that repeats an earlier one: sorted by text
 * then position, so that maps with many keys cost n log n. */
static void check_duplicate_keys(builder_t *b, const cfg_node_t *map)
{
  size_t pairs = map->n / 2, nk = 0;
  if (pairs < 2)
    return;
  const cfg_node_t **keys = cfg__xmalloc(pairs * sizeof(*keys));
  for (size_t i = 0; i < pairs; i++)
    if (map->items[2 * i]->kind == CFG_NODE_SCALAR &&
        !map->items[2 * i]->bad_key)
      keys[nk++] = map->items[2 * i];
  qsort(keys, nk, sizeof(*keys), key_order);
  for (size_t i = 1, first = 0; i < nk; i++) {
    const cfg_node_t *a = keys[first], *k = keys[i];
    if (a->len != k->len || memcmp(a->text, k->text, k->len)) {
      first = i;
      continue;
    }
    char ex[64];
    cfg__excerpt(k, ex, sizeof ex);
    cfg__error_add(b->errs, k->line, k->column,
                   "duplicate key '%s' (first at line %u, column %u)", ex,
                   a->line, a->column);
  }
  free(keys);
}

static void on_collection_end(builder_t *b)
{
  if (b->depth == 0)
    return;
  cfg_node_t *n = b->stack[--b->depth];
  n->open = false;
  if (n->kind == CFG_NODE_MAP)
    check_duplicate_keys(b, n);
}

static void on_document_start(builder_t *b, const yaml_event_t *ev)
{
  if (++b->docs < 2)
    return;
  place_t at = place_of(b, ev->start_mark);
  cfg__error_add(b->errs, at.line, at.col,
                 "a second YAML document starts here; a config file holds "
                 "one document");
  b->stop = true;
}

static void report_parser_error(builder_t *b, const yaml_parser_t *p,
                                const char *text, size_t len)
{
  const char *problem = p->problem ? p->problem : "malformed YAML";
  if (p->error == YAML_READER_ERROR) {
    unsigned line, col;
    place_of_offset(text, len, p->problem_offset, &line, &col);
    cfg__error_add(b->errs, line, col, "not readable as YAML text: %s",
                   problem);
  } else if (p->error == YAML_MEMORY_ERROR) {
    cfg__error_add(b->errs, 0, 0, "out of memory while parsing YAML");
  } else {
    place_t at = place_of(b, p->problem_mark);
    place_t ctx = place_of(b, p->context_mark);
    if (p->context)
      cfg__error_add(b->errs, at.line, at.col,
                     "YAML syntax error: %s (%s at line %u, column %u)",
                     problem, p->context, ctx.line, ctx.col);
    else
      cfg__error_add(b->errs, at.line, at.col, "YAML syntax error: %s",
                     problem);
  }
  b->broken = true;
}

/* Handle one event; false when the walk is over. */
static bool on_event(builder_t *b, const yaml_event_t *ev)
{
  switch (ev->type) {
  case YAML_DOCUMENT_START_EVENT:
    on_document_start(b, ev);
    break;
  case YAML_SCALAR_EVENT:
    on_scalar(b, ev);
    break;
  case YAML_ALIAS_EVENT:
    on_alias(b, ev);
    break;
  case YAML_SEQUENCE_START_EVENT:
    on_collection_start(b, ev, CFG_NODE_SEQ);
    break;
  case YAML_MAPPING_START_EVENT:
    on_collection_start(b, ev, CFG_NODE_MAP);
    break;
  case YAML_SEQUENCE_END_EVENT:
  case YAML_MAPPING_END_EVENT:
    on_collection_end(b);
    break;
  case YAML_STREAM_END_EVENT:
    return false;
  default:
    break;
  }
  return !b->stop && !b->broken;
}

bool cfg__tree_parse(cfg_tree_t *t, const char *text, size_t len,
                     cfg_errors_t *errs)
{
  memset(t, 0, sizeof(*t));
  builder_t b = {.t = t, .errs = errs};
  place_of_offset(text, len, len, &b.end_line, &b.end_col);
  yaml_parser_t p;
  if (!yaml_parser_initialize(&p)) {
    cfg__error_add(errs, 0, 0, "out of memory while parsing YAML");
    return false;
  }
  yaml_parser_set_input_string(&p, (const unsigned char *)text, len);
  for (bool more = true; more;) {
    yaml_event_t ev;
    if (!yaml_parser_parse(&p, &ev)) {
      report_parser_error(&b, &p, text, len);
      break;
    }
    more = on_event(&b, &ev);
    yaml_event_delete(&ev);
  }
  yaml_parser_delete(&p);
  for (size_t i = 0; i < b.nanchors; i++)
    free(b.anchors[i].name);
  free(b.anchors);
  return !b.broken;
}

void cfg__tree_fini(cfg_tree_t *t)
{
  for (size_t i = 0; i < t->nall; i++) {
    free(t->all[i]->text);
    free(t->all[i]->items);
    free(t->all[i]);
  }
  free(t->all);
  memset(t, 0, sizeof(*t));
}

const cfg_node_t *cfg__map_get(const cfg_node_t *map, const char *key)
{
  if (!map || map->kind != CFG_NODE_MAP)
    return NULL;
  size_t klen = strlen(key);
  for (size_t i = 0; i + 1 < map->n; i += 2) {
    const cfg_node_t *k = map->items[i];
    if (k->kind == CFG_NODE_SCALAR && k->len == klen &&
        !memcmp(k->text, key, klen))
      return map->items[i + 1];
  }
  return NULL;
}
