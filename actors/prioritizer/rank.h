/*
 * rank.h: the prioritizer's ranked set, updated in O(log n) per task.
 *
 * An order-statistic treap (a binary search tree on the key, a heap on a
 * random priority, each node knowing its subtree's size) of intrusive
 * nodes: the caller embeds a prio_rnode_t in its own record, sets the key
 * and inserts it; an update is a remove and an insert, both expected
 * O(log n); the k-th node and a node's position are O(log n) too. The
 * order, best first:
 *   pinned first, then the higher score, then the smaller seq (the task
 *   seen first), then the smaller id (bytes).
 * Keys are unique (ids are). Priorities come from a xorshift generator
 * seeded per set, so runs are reproducible.
 *
 * Not thread-safe: the owner serialises access (board.c holds its lock).
 */
#ifndef CCM_PRIO_RANK_H
#define CCM_PRIO_RANK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct prio_rkey {
  bool pinned;
  double score;
  int64_t seq;
  const char *id; /* borrowed from the record the node is part of */
} prio_rkey_t;

typedef struct prio_rnode {
  struct prio_rnode *left, *right; /* private */
  uint32_t prio;                   /* private */
  uint32_t size;                   /* private: nodes in this subtree */
  prio_rkey_t key;                 /* public: set before inserting; do not
                                      change while inserted */
} prio_rnode_t;

typedef struct prio_rank {
  prio_rnode_t *root;
  uint64_t rng;
} prio_rank_t;

/** An empty set; @p seed chooses the priorities (any value). */
void prio_rank_init(prio_rank_t *r, uint64_t seed);
/** <0 when @p a ranks before @p b, >0 after, 0 equal. */
int prio_rkey_cmp(const prio_rkey_t *a, const prio_rkey_t *b);
/** Insert @p n (not in any set) by n->key. */
void prio_rank_insert(prio_rank_t *r, prio_rnode_t *n);
/** Remove @p n (in this set, its key unchanged since it was inserted).
 * @return false when it was not found (nothing changed). */
bool prio_rank_remove(prio_rank_t *r, prio_rnode_t *n);
/** Nodes in the set. */
size_t prio_rank_count(const prio_rank_t *r);
/** The node at position @p k (0: the best), or NULL past the end. */
prio_rnode_t *prio_rank_at(const prio_rank_t *r, size_t k);
/** How many nodes rank before @p key. */
size_t prio_rank_position(const prio_rank_t *r, const prio_rkey_t *key);
/** Visit nodes in order, from position @p from, until @p fn returns
 * non-zero; @return that value, or 0. */
int prio_rank_walk(const prio_rank_t *r, size_t from,
                   int (*fn)(prio_rnode_t *n, void *arg), void *arg);

#ifdef __cplusplus
}
#endif
#endif /* CCM_PRIO_RANK_H */
