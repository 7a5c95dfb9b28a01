/*
 * registry.c: a small open-addressing hash map from u64 keys to pointers,
 * used for the id table, the name table, pending requests and timers.
 *
 * Keys 0 and UINT64_MAX are reserved (empty and deleted slots). Linear
 * probing; the table doubles at 50% load counting tombstones, so a probe
 * always finds an empty slot. The caller provides any locking.
 */
#include <stdlib.h>

#include "runtime/rt_int.h"

#define MAP_EMPTY 0u
#define MAP_TOMB UINT64_MAX

void rt__map_init(rt_map_t *m)
{
  m->keys = NULL;
  m->vals = NULL;
  m->cap = m->len = m->used = 0;
}

void rt__map_fini(rt_map_t *m)
{
  free(m->keys);
  free(m->vals);
  rt__map_init(m);
}

static size_t slot_of(uint64_t key, size_t cap)
{
  /* Fibonacci hashing spreads sequential ids across the table. */
  return (size_t)((key * 0x9E3779B97F4A7C15ull) >> 20) & (cap - 1);
}

static int map_grow(rt_map_t *m)
{
  size_t cap = m->cap ? m->cap * 2 : 16;
  if (m->len * 4 < m->cap)
    cap = m->cap; /* mostly tombstones: rehash at the same size */
  uint64_t *keys = calloc(cap, sizeof(*keys));
  void **vals = calloc(cap, sizeof(*vals));
  if (!keys || !vals) {
    free(keys);
    free(vals);
    return RT_ENOMEM;
  }
  for (size_t i = 0; i < m->cap; i++) {
    uint64_t k = m->keys[i];
    if (k == MAP_EMPTY || k == MAP_TOMB)
      continue;
    size_t j = slot_of(k, cap);
    while (keys[j] != MAP_EMPTY)
      j = (j + 1) & (cap - 1);
    keys[j] = k;
    vals[j] = m->vals[i];
  }
  free(m->keys);
  free(m->vals);
  m->keys = keys;
  m->vals = vals;
  m->cap = cap;
  m->used = m->len;
  return 0;
}

int rt__map_put(rt_map_t *m, uint64_t key, void *val)
{
  if (key == MAP_EMPTY || key == MAP_TOMB)
    return RT_EINVAL;
  if ((m->used + 1) * 2 > m->cap) {
    int rc = map_grow(m);
    if (rc)
      return rc;
  }
  size_t i = slot_of(key, m->cap), tomb = SIZE_MAX;
  for (;; i = (i + 1) & (m->cap - 1)) {
    uint64_t k = m->keys[i];
    if (k == key) {
      m->vals[i] = val;
      return 0;
    }
    if (k == MAP_TOMB && tomb == SIZE_MAX)
      tomb = i;
    if (k == MAP_EMPTY)
      break;
  }
  if (tomb != SIZE_MAX) {
    i = tomb;
  } else {
    m->used++;
  }
  m->keys[i] = key;
  m->vals[i] = val;
  m->len++;
  return 0;
}

static size_t map_find(const rt_map_t *m, uint64_t key)
{
  if (!m->cap || key == MAP_EMPTY || key == MAP_TOMB)
    return SIZE_MAX;
  for (size_t i = slot_of(key, m->cap);; i = (i + 1) & (m->cap - 1)) {
    if (m->keys[i] == key)
      return i;
    if (m->keys[i] == MAP_EMPTY)
      return SIZE_MAX;
  }
}

void *rt__map_get(const rt_map_t *m, uint64_t key)
{
  size_t i = map_find(m, key);
  return i == SIZE_MAX ? NULL : m->vals[i];
}

void *rt__map_del(rt_map_t *m, uint64_t key)
{
  size_t i = map_find(m, key);
  if (i == SIZE_MAX)
    return NULL;
  void *v = m->vals[i];
  m->keys[i] = MAP_TOMB;
  m->vals[i] = NULL;
  m->len--;
  return v;
}

uint64_t rt__hash_str(const char *s)
{
  /* FNV-1a, 64 bit; never returns a reserved key. */
  uint64_t h = 0xcbf29ce484222325ull;
  for (; *s; s++) {
    h ^= (unsigned char)*s;
    h *= 0x100000001b3ull;
  }
  if (h == MAP_EMPTY || h == MAP_TOMB)
    h = 1;
  return h;
}
