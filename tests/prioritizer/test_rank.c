/*
 * test_rank.c: the ranked set (actors/prioritizer/rank.h).
 *
 * Contract: after any sequence of inserts, removes and updates (remove +
 * insert with a new key), an in-order walk equals a full sort of the live
 * keys by prio_rkey_cmp; prio_rank_at(k) is the k-th of that sort and
 * prio_rank_position(key) its index; sizes stay right. Checked on random
 * operations with fixed seeds (printed on failure).
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "actors/prioritizer/rank.h"

#define N 1500
#define OPS 20000

typedef struct item {
  prio_rnode_t node;
  char id[16];
  bool in;
} item_t;

static uint64_t rng_state;
static uint64_t rnd(void)
{
  rng_state ^= rng_state << 13;
  rng_state ^= rng_state >> 7;
  rng_state ^= rng_state << 17;
  return rng_state;
}

static int cmp_nodes(const void *a, const void *b)
{
  return prio_rkey_cmp(&(*(prio_rnode_t *const *)a)->key,
                       &(*(prio_rnode_t *const *)b)->key);
}

typedef struct walk_ctx {
  prio_rnode_t **seen;
  size_t n;
} walk_ctx_t;

static int collect(prio_rnode_t *n, void *arg)
{
  walk_ctx_t *c = arg;
  c->seen[c->n++] = n;
  return 0;
}

static void random_key(item_t *it)
{
  /* few distinct scores and seqs, so ties and pins are common */
  it->node.key = (prio_rkey_t){.pinned = rnd() % 10 == 0,
                               .score = (double)(rnd() % 40) / 4,
                               .seq = (int64_t)(rnd() % 50), .id = it->id};
}

static void check_equal_to_sort(prio_rank_t *r, item_t *items, uint64_t seed)
{
  static prio_rnode_t *want[N], *got[N];
  size_t n = 0;
  for (size_t i = 0; i < N; i++)
    if (items[i].in)
      want[n++] = &items[i].node;
  qsort(want, n, sizeof *want, cmp_nodes);
  cr_assert_eq(prio_rank_count(r), n, "seed %llu: count", (unsigned long long)seed);
  walk_ctx_t c = {got, 0};
  prio_rank_walk(r, 0, collect, &c);
  cr_assert_eq(c.n, n, "seed %llu", (unsigned long long)seed);
  for (size_t k = 0; k < n; k++) {
    cr_assert_eq(got[k], want[k], "seed %llu: position %zu differs",
                 (unsigned long long)seed, k);
    if (k % 37 == 0) {
      cr_assert_eq(prio_rank_at(r, k), want[k]);
      cr_assert_eq(prio_rank_position(r, &want[k]->key), k);
    }
  }
  cr_assert_null(prio_rank_at(r, n));
}

static void run_seed(uint64_t seed)
{
  static item_t items[N];
  memset(items, 0, sizeof items);
  rng_state = seed;
  prio_rank_t r;
  prio_rank_init(&r, seed);
  for (size_t i = 0; i < N; i++)
    snprintf(items[i].id, sizeof items[i].id, "t%05zu", i);
  for (int op = 0; op < OPS; op++) {
    item_t *it = &items[rnd() % N];
    if (!it->in) {
      random_key(it);
      prio_rank_insert(&r, &it->node);
      it->in = true;
    } else if (rnd() % 4 == 0) {
      cr_assert(prio_rank_remove(&r, &it->node));
      it->in = false;
    } else { /* an update: its score or pin changed */
      cr_assert(prio_rank_remove(&r, &it->node));
      random_key(it);
      prio_rank_insert(&r, &it->node);
    }
    if (op % 2000 == 1999)
      check_equal_to_sort(&r, items, seed);
  }
  check_equal_to_sort(&r, items, seed);
}

Test(rank, incremental_order_equals_full_sort)
{
  run_seed(42);
  run_seed(20261124);
}

Test(rank, order_is_pinned_then_score_then_seq_then_id)
{
  item_t a = {.id = "a"}, b = {.id = "b"}, c = {.id = "c"}, d = {.id = "d"};
  a.node.key = (prio_rkey_t){false, 9, 1, a.id};
  b.node.key = (prio_rkey_t){true, 1, 5, b.id};
  c.node.key = (prio_rkey_t){false, 9, 0, c.id};
  d.node.key = (prio_rkey_t){false, 9, 0, d.id};
  prio_rank_t r;
  prio_rank_init(&r, 1);
  prio_rank_insert(&r, &a.node);
  prio_rank_insert(&r, &b.node);
  prio_rank_insert(&r, &d.node);
  prio_rank_insert(&r, &c.node);
  cr_assert_eq(prio_rank_at(&r, 0), &b.node); /* pinned */
  cr_assert_eq(prio_rank_at(&r, 1), &c.node); /* seq 0, id c < d */
  cr_assert_eq(prio_rank_at(&r, 2), &d.node);
  cr_assert_eq(prio_rank_at(&r, 3), &a.node);
}

Test(rank, remove_of_absent_node_changes_nothing)
{
  item_t a = {.id = "a"}, b = {.id = "b"};
  a.node.key = (prio_rkey_t){false, 1, 0, a.id};
  b.node.key = (prio_rkey_t){false, 2, 0, b.id};
  prio_rank_t r;
  prio_rank_init(&r, 7);
  prio_rank_insert(&r, &a.node);
  cr_assert_not(prio_rank_remove(&r, &b.node));
  cr_assert_eq(prio_rank_count(&r), 1);
}

static int stop_at_third(prio_rnode_t *n, void *arg)
{
  int *seen = arg;
  return ++*seen == 3;
}

Test(rank, walk_from_an_offset_and_stop)
{
  static item_t items[100];
  prio_rank_t r;
  prio_rank_init(&r, 3);
  for (int i = 0; i < 100; i++) {
    snprintf(items[i].id, sizeof items[i].id, "%03d", i);
    items[i].node.key = (prio_rkey_t){false, 100 - i, 0, items[i].id};
    prio_rank_insert(&r, &items[i].node);
  }
  prio_rnode_t *got[100];
  walk_ctx_t c = {got, 0};
  prio_rank_walk(&r, 90, collect, &c);
  cr_assert_eq(c.n, 10);
  cr_assert_eq(got[0], &items[90].node);
  int seen = 0;
  cr_assert_eq(prio_rank_walk(&r, 0, stop_at_third, &seen), 1);
  cr_assert_eq(seen, 3);
}
