/*
 * stats.c: fixed-size rings of samples and their percentiles.
 *
 * Percentiles are nearest rank (the smallest value with at least p% of
 * the values at or below it): always a value that was observed, and p100
 * is the maximum. A ring sorts a copy of at most MON_OUTCOMES doubles,
 * which is cheap once per sample. Also the arrays' doubling growth.
 */
#include <stdlib.h>
#include <string.h>

#include "actors/monitor/monitor_int.h"

void mon__ring_init(mon_ring_t *r, uint32_t cap)
{
  memset(r, 0, sizeof(*r));
  r->cap = cap && cap <= MON_OUTCOMES ? cap : MON_OUTCOMES;
}

void mon__ring_push(mon_ring_t *r, double v)
{
  r->v[r->next] = v;
  r->next = (r->next + 1) % r->cap;
  if (r->n < r->cap)
    r->n++;
}

double mon__ring_last(const mon_ring_t *r)
{
  if (!r->n)
    return NAN;
  return r->v[(r->next + r->cap - 1) % r->cap];
}

double mon__ring_mean(const mon_ring_t *r)
{
  if (!r->n)
    return NAN;
  double sum = 0;
  for (uint32_t i = 0; i < r->n; i++)
    sum += r->v[i];
  return sum / r->n;
}

static int cmp_double(const void *a, const void *b)
{
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

double mon__pct_sorted(const double *v, size_t n, double p)
{
  if (!n)
    return NAN;
  size_t rank = (size_t)ceil(p / 100.0 * (double)n);
  if (rank < 1)
    rank = 1;
  if (rank > n)
    rank = n;
  return v[rank - 1];
}

void mon__ring_pcts(const mon_ring_t *r, double out[3])
{
  double tmp[MON_OUTCOMES];
  /* The slots hold the newest r->n values in some rotation; order does
   * not matter once sorted. */
  memcpy(tmp, r->v, r->n * sizeof(double));
  qsort(tmp, r->n, sizeof(double), cmp_double);
  out[0] = mon__pct_sorted(tmp, r->n, 50);
  out[1] = mon__pct_sorted(tmp, r->n, 95);
  out[2] = mon__pct_sorted(tmp, r->n, 99);
}

double mon__hist_quantile(const uint64_t *hist, size_t buckets, double q)
{
  uint64_t total = 0;
  for (size_t i = 0; i < buckets; i++)
    total += hist[i];
  if (!total)
    return NAN;
  uint64_t want = (uint64_t)ceil(q * (double)total);
  if (want < 1)
    want = 1;
  uint64_t seen = 0;
  size_t i = 0;
  for (; i < buckets; i++) {
    seen += hist[i];
    if (seen >= want)
      break;
  }
  if (i == buckets)
    i = buckets - 1;
  /* [2^i, 2^(i+1)) ns: its geometric middle is 2^i * sqrt(2). */
  return ldexp(M_SQRT2, (int)i) * 1e-9;
}

bool mon__grow(void *vp, size_t *cap, size_t n, size_t size)
{
  if (n < *cap)
    return true;
  size_t want = *cap ? *cap * 2 : 8;
  void *old; /* through memcpy: *vp is some T *, not a void * */
  memcpy(&old, vp, sizeof old);
  void *p = realloc(old, want * size);
  if (!p)
    return false;
  memcpy(vp, &p, sizeof p);
  *cap = want;
  return true;
}
