/* rank.c: see rank.h. Split/merge treap with subtree sizes. */
#include "actors/prioritizer/rank.h"

#include <string.h>

void prio_rank_init(prio_rank_t *r, uint64_t seed)
{
  r->root = NULL;
  r->rng = seed ? seed : 0x9E3779B97F4A7C15ull;
}

static uint32_t next_prio(prio_rank_t *r)
{
  uint64_t x = r->rng; /* xorshift64 */
  x ^= x << 13;
  x ^= x >> 7;
  x ^= x << 17;
  r->rng = x;
  return (uint32_t)(x >> 32);
}

int prio_rkey_cmp(const prio_rkey_t *a, const prio_rkey_t *b)
{
  if (a->pinned != b->pinned)
    return a->pinned ? -1 : 1;
  if (a->score != b->score)
    return a->score > b->score ? -1 : 1;
  if (a->seq != b->seq)
    return a->seq < b->seq ? -1 : 1;
  return strcmp(a->id ? a->id : "", b->id ? b->id : "");
}

static uint32_t size_of(const prio_rnode_t *n)
{
  return n ? n->size : 0;
}

static void fix(prio_rnode_t *n)
{
  n->size = 1 + size_of(n->left) + size_of(n->right);
}

/* Split @p t into the nodes ranking before @p key (*lo) and the rest. */
static void split(prio_rnode_t *t, const prio_rkey_t *key, prio_rnode_t **lo,
                  prio_rnode_t **hi)
{
  if (!t) {
    *lo = *hi = NULL;
  } else if (prio_rkey_cmp(&t->key, key) < 0) {
    split(t->right, key, &t->right, hi);
    fix(t);
    *lo = t;
  } else {
    split(t->left, key, lo, &t->left);
    fix(t);
    *hi = t;
  }
}

/* Join @p a and @p b, every node of @p a ranking before every one of @p b. */
static prio_rnode_t *merge(prio_rnode_t *a, prio_rnode_t *b)
{
  if (!a || !b)
    return a ? a : b;
  if (a->prio > b->prio) {
    a->right = merge(a->right, b);
    fix(a);
    return a;
  }
  b->left = merge(a, b->left);
  fix(b);
  return b;
}

void prio_rank_insert(prio_rank_t *r, prio_rnode_t *n)
{
  prio_rnode_t *lo, *hi;
  n->left = n->right = NULL;
  n->prio = next_prio(r);
  n->size = 1;
  split(r->root, &n->key, &lo, &hi);
  r->root = merge(merge(lo, n), hi);
}

/* Remove @p n from the subtree at *@p link; sizes fixed on the way up. */
static bool remove_at(prio_rnode_t **link, prio_rnode_t *n)
{
  prio_rnode_t *t = *link;
  if (!t)
    return false;
  if (t == n) {
    *link = merge(t->left, t->right);
    return true;
  }
  int c = prio_rkey_cmp(&n->key, &t->key);
  bool found = remove_at(c < 0 ? &t->left : &t->right, n);
  if (found)
    t->size--;
  return found;
}

bool prio_rank_remove(prio_rank_t *r, prio_rnode_t *n)
{
  bool found = remove_at(&r->root, n);
  if (found)
    n->left = n->right = NULL;
  return found;
}

size_t prio_rank_count(const prio_rank_t *r)
{
  return size_of(r->root);
}

prio_rnode_t *prio_rank_at(const prio_rank_t *r, size_t k)
{
  prio_rnode_t *t = r->root;
  while (t) {
    size_t ls = size_of(t->left);
    if (k < ls) {
      t = t->left;
    } else if (k == ls) {
      return t;
    } else {
      k -= ls + 1;
      t = t->right;
    }
  }
  return NULL;
}

size_t prio_rank_position(const prio_rank_t *r, const prio_rkey_t *key)
{
  size_t pos = 0;
  for (prio_rnode_t *t = r->root; t;) {
    if (prio_rkey_cmp(&t->key, key) < 0) {
      pos += size_of(t->left) + 1;
      t = t->right;
    } else {
      t = t->left;
    }
  }
  return pos;
}

/* In-order from the @p skip-th node of @p t; *stop set by @p fn. */
static int walk(prio_rnode_t *t, size_t skip,
                int (*fn)(prio_rnode_t *n, void *arg), void *arg)
{
  while (t) {
    size_t ls = size_of(t->left);
    if (skip < ls) {
      int rc = walk(t->left, skip, fn, arg);
      if (rc)
        return rc;
      skip = 0;
    } else {
      skip -= ls;
    }
    if (skip == 0) {
      int rc = fn(t, arg);
      if (rc)
        return rc;
    } else {
      skip--;
    }
    t = t->right;
  }
  return 0;
}

int prio_rank_walk(const prio_rank_t *r, size_t from,
                   int (*fn)(prio_rnode_t *n, void *arg), void *arg)
{
  return walk(r->root, from, fn, arg);
}
