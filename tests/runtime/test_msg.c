/*
 * test_msg.c: the message and shared-payload contract of runtime/msg.h.
 *
 * rt_msg_new copies (inline up to RT_MSG_INLINE bytes, on the heap above),
 * rt_msg_new_take adopts a malloc'd buffer (and frees it on failure), the
 * process-wide cap refuses larger payloads with RT_E2BIG, reserved types are
 * refused with RT_EINVAL, rt_msg_take_payload hands the bytes to the caller
 * (moving an owned buffer, copying a shared one), shared payloads are
 * reference counted with writable headroom, and the NULL cases are no-ops.
 * Leaks and double frees are caught by the ASan build.
 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/msg.h"
#include "tests/support/rt_test.h"

TestSuite(msg, .timeout = 10);

#define T_A (TST_MSG_BASE + 1)

static void fill(unsigned char *buf, size_t len, unsigned seed) {
  for (size_t i = 0; i < len; i++) buf[i] = (unsigned char)(seed + i * 7);
}

/* Build a message copying @p len patterned bytes and check it. */
static void check_copy(size_t len) {
  unsigned char *src = malloc(len ? len : 1);
  unsigned char *orig = malloc(len ? len : 1);
  cr_assert(src && orig);
  fill(src, len, (unsigned)len);
  memcpy(orig, src, len);
  rt_msg_t *m = (rt_msg_t *)1;
  cr_assert_eq(rt_msg_new(T_A, src, len, &m), 0, "len %zu", len);
  cr_assert_not_null(m);
  memset(src, 0xEE, len); /* the message holds its own copy */
  size_t n = 12345;
  const unsigned char *d = rt_msg_data(m, &n);
  cr_assert_eq(n, len);
  if (len) {
    cr_assert_not_null(d);
    cr_assert_neq((const void *)d, (const void *)src);
    cr_assert_arr_eq(d, orig, len, "payload of %zu bytes differs", len);
  }
  cr_assert_eq(rt_msg_type(m), T_A);
  cr_assert_eq(rt_msg_sender(m), 0u, "no actor sent it");
  cr_assert_eq(rt_msg_corr(m), 0u);
  rt_msg_free(m);
  free(src);
  free(orig);
}

Test(msg, new_copies_small_payload_inline) {
  check_copy(1);
  check_copy(13);
  check_copy(RT_MSG_INLINE - 1);
  check_copy(RT_MSG_INLINE);
  tst_check_leaks();
}

Test(msg, new_copies_large_payload_to_heap) {
  check_copy(RT_MSG_INLINE + 1);
  check_copy(4096);
  check_copy(1u << 20);
  tst_check_leaks();
}

Test(msg, new_accepts_empty_payload) {
  rt_msg_t *m = NULL;
  TST_OK(rt_msg_new(T_A, NULL, 0, &m));
  size_t n = 99;
  rt_msg_data(m, &n);
  cr_assert_eq(n, 0u);
  rt_msg_free(m);
  tst_check_leaks();
}

Test(msg, inline_payload_lives_inside_the_message) {
  /* Two messages of RT_MSG_INLINE bytes: each payload pointer lies within a
   * small distance of the message itself (no separate allocation). */
  unsigned char buf[RT_MSG_INLINE];
  fill(buf, sizeof buf, 3);
  rt_msg_t *m = tst_msg(T_A, buf, sizeof buf);
  size_t n;
  const char *d = rt_msg_data(m, &n);
  const char *base = (const char *)m;
  cr_assert(d >= base && d + n <= base + 512,
            "inline payload at %p is not inside the message at %p",
            (const void *)d, (const void *)base);
  rt_msg_free(m);
  tst_check_leaks();
}

Test(msg, new_take_adopts_the_buffer) {
  size_t len = 4096;
  unsigned char *buf = malloc(len);
  cr_assert_not_null(buf);
  fill(buf, len, 5);
  unsigned char copy[4096];
  memcpy(copy, buf, len);
  rt_msg_t *m = NULL;
  TST_OK(rt_msg_new_take(T_A, buf, len, &m));
  size_t n;
  const void *d = rt_msg_data(m, &n);
  cr_assert_eq(n, len);
  cr_assert_arr_eq(d, copy, len);
  /* Owned, so taking it back moves the same buffer out without a copy. */
  size_t tn = 0;
  void *t = rt_msg_take_payload(m, &tn);
  cr_assert_eq(tn, len);
  cr_assert_eq(t, (void *)buf, "an owned payload must move, not copy");
  rt_msg_data(m, &n);
  cr_assert_eq(n, 0u, "the message is left empty");
  rt_msg_free(m);
  free(t);
  tst_check_leaks();
}

Test(msg, new_take_small_buffer) {
  unsigned char *buf = malloc(8);
  cr_assert_not_null(buf);
  memcpy(buf, "abcdefg", 8);
  rt_msg_t *m = NULL;
  TST_OK(rt_msg_new_take(T_A, buf, 8, &m));
  size_t n;
  const char *d = rt_msg_data(m, &n);
  cr_assert_eq(n, 8u);
  cr_assert_str_eq(d, "abcdefg");
  rt_msg_free(m); /* frees buf: ASan reports a leak otherwise */
  tst_check_leaks();
}

Test(msg, new_take_frees_the_buffer_on_failure) {
  rt_msg_set_max_payload(16);
  rt_msg_t *m = (rt_msg_t *)1;
  void *buf = malloc(100);
  TST_RC(rt_msg_new_take(T_A, buf, 100, &m), RT_E2BIG);
  cr_assert_null(m);
  m = (rt_msg_t *)1;
  buf = malloc(10);
  TST_RC(rt_msg_new_take(RT_MSG_SYSTEM, buf, 10, &m), RT_EINVAL);
  cr_assert_null(m);
  /* Both buffers were freed by the runtime (LeakSanitizer checks). */
  tst_check_leaks();
}

Test(msg, payload_over_the_cap_is_refused) {
  rt_msg_set_max_payload(100);
  unsigned char buf[200] = {0};
  rt_msg_t *m = NULL;
  cr_assert_eq(rt_msg_new(T_A, buf, 100, &m), 0, "exactly the cap is allowed");
  rt_msg_free(m);
  m = (rt_msg_t *)1;
  TST_RC(rt_msg_new(T_A, buf, 101, &m), RT_E2BIG);
  cr_assert_null(m, "*out is written on failure");
  rt_payload_t *p = (rt_payload_t *)1;
  TST_RC(rt_payload_new(buf, 101, 0, &p), RT_E2BIG);
  cr_assert_null(p);
  rt_msg_set_max_payload(1000);
  cr_assert_eq(rt_msg_new(T_A, buf, 200, &m), 0, "the cap can be raised");
  rt_msg_free(m);
  tst_check_leaks();
}

Test(msg, runtime_new_sets_the_cap, .timeout = 30) {
  rt_config_t cfg;
  rt_config_defaults(&cfg);
  cfg.workers = 1;
  cfg.max_payload = 64;
  rt_runtime_t *rt = tst_runtime_cfg(&cfg);
  unsigned char buf[65] = {0};
  rt_msg_t *m = (rt_msg_t *)1;
  TST_RC(rt_msg_new(T_A, buf, 65, &m), RT_E2BIG);
  cr_assert_null(m);
  TST_OK(rt_msg_new(T_A, buf, 64, &m));
  rt_msg_free(m);
  tst_runtime_free(rt);
  tst_check_leaks();
}

Test(msg, reserved_types_are_refused) {
  static const uint32_t reserved[] = {RT_MSG_SYSTEM, RT_MSG_TIMEOUT,
                                      RT_MSG_CHILD_RESTARTED, RT_MSG_CHILD_DOWN,
                                      RT_MSG_IO_READY, 0xFFFFFFFFu};
  rt_payload_t *p = NULL;
  TST_OK(rt_payload_new("x", 1, 0, &p));
  for (size_t i = 0; i < sizeof reserved / sizeof reserved[0]; i++) {
    rt_msg_t *m = (rt_msg_t *)1;
    cr_assert_eq(rt_msg_new(reserved[i], "x", 1, &m), RT_EINVAL, "type %#x",
                 reserved[i]);
    cr_assert_null(m);
    m = (rt_msg_t *)1;
    cr_assert_eq(rt_msg_new_shared(reserved[i], p, &m), RT_EINVAL, "type %#x",
                 reserved[i]);
    cr_assert_null(m);
  }
  rt_msg_t *m = NULL;
  cr_assert_eq(rt_msg_new(RT_MSG_SYSTEM - 1, "x", 1, &m), 0,
               "the last user type is allowed");
  rt_msg_free(m);
  cr_assert_eq(rt_msg_new(0, NULL, 0, &m), 0, "type 0 is a user type");
  rt_msg_free(m);
  rt_payload_release(p);
  tst_check_leaks();
}

static void check_take(size_t len) {
  unsigned char src[1024];
  fill(src, len, 11);
  rt_msg_t *m = tst_msg(T_A, src, len);
  size_t n = 0;
  unsigned char *t = rt_msg_take_payload(m, &n);
  cr_assert_not_null(t, "len %zu", len);
  cr_assert_eq(n, len);
  cr_assert_arr_eq(t, src, len);
  size_t left = 99;
  rt_msg_data(m, &left);
  cr_assert_eq(left, 0u, "the message is left with an empty payload");
  rt_msg_free(m);
  t[0] ^= 1; /* the caller owns it after the message is gone */
  free(t);
}

Test(msg, take_payload_hands_over_the_bytes) {
  check_take(1);
  check_take(RT_MSG_INLINE);
  check_take(RT_MSG_INLINE + 1);
  check_take(1024);
  tst_check_leaks();
}

Test(msg, take_payload_of_empty_message_is_null) {
  rt_msg_t *m = tst_msg(T_A, NULL, 0);
  size_t n = 77;
  cr_assert_null(rt_msg_take_payload(m, &n));
  cr_assert_eq(n, 0u);
  /* Taking twice: the second take finds it empty. */
  rt_msg_free(m);
  m = tst_msg(T_A, "abc", 3);
  void *t = rt_msg_take_payload(m, &n);
  cr_assert_not_null(t);
  free(t);
  n = 77;
  cr_assert_null(rt_msg_take_payload(m, &n));
  cr_assert_eq(n, 0u);
  rt_msg_free(m);
  tst_check_leaks();
}

Test(msg, shared_payload_is_reference_counted) {
  unsigned char src[300];
  fill(src, sizeof src, 2);
  rt_payload_t *p = NULL;
  TST_OK(rt_payload_new(src, sizeof src, 0, &p));
  cr_assert_not_null(p);
  memset(src, 0, sizeof src); /* the payload holds a copy */
  size_t plen = 0;
  const unsigned char *pd = rt_payload_data(p, &plen);
  cr_assert_eq(plen, sizeof src);

  rt_msg_t *ms[3];
  for (int i = 0; i < 3; i++) {
    ms[i] = NULL;
    TST_OK(rt_msg_new_shared(T_A, p, &ms[i]));
  }
  cr_assert_eq(rt_payload_retain(p), p, "retain returns its argument");
  rt_payload_release(p); /* undo the retain */
  rt_payload_release(p); /* drop the creator's reference: messages keep it */

  for (int i = 0; i < 3; i++) {
    size_t n;
    const unsigned char *d = rt_msg_data(ms[i], &n);
    cr_assert_eq(n, 300u);
    cr_assert_eq((const void *)d, (const void *)pd, "shared, not copied");
    for (size_t k = 0; k < n; k++)
      cr_assert_eq(d[k], (unsigned char)(2 + k * 7));
  }
  rt_payload_t *ref = rt_msg_payload_ref(ms[0]);
  cr_assert_eq(ref, p, "the message's payload is the shared one");
  rt_msg_free(ms[0]);
  rt_msg_free(ms[1]);
  rt_msg_free(ms[2]);
  /* The reference from rt_msg_payload_ref outlives every message. */
  size_t n;
  const unsigned char *d = rt_payload_data(ref, &n);
  cr_assert_eq(n, 300u);
  cr_assert_eq(d[299], (unsigned char)(2 + 299 * 7));
  rt_payload_release(ref); /* last reference: freed (ASan checks) */
  tst_check_leaks();
}

Test(msg, shared_payload_has_writable_headroom) {
  rt_payload_t *p = NULL;
  TST_OK(rt_payload_new("hello", 5, 16, &p));
  size_t n;
  const char *d = rt_payload_data(p, &n);
  char *h = rt_payload_headroom(p);
  cr_assert_eq(n, 5u);
  cr_assert_eq(h + 16, d, "headroom ends where the data starts");
  memset(h, 'H', 16); /* writable, and does not disturb the data */
  cr_assert_arr_eq(d, "hello", 5);
  rt_payload_release(p);

  TST_OK(rt_payload_new("x", 1, 0, &p));
  d = rt_payload_data(p, &n);
  cr_assert_eq((const char *)rt_payload_headroom(p), d, "no headroom");
  rt_payload_release(p);
  tst_check_leaks();
}

Test(msg, take_payload_copies_a_shared_payload) {
  rt_payload_t *p = NULL;
  TST_OK(rt_payload_new("shared bytes", 12, 8, &p));
  rt_msg_t *a = NULL, *b = NULL;
  TST_OK(rt_msg_new_shared(T_A, p, &a));
  TST_OK(rt_msg_new_shared(T_A, p, &b));
  size_t n = 0;
  char *t = rt_msg_take_payload(a, &n);
  cr_assert_not_null(t);
  cr_assert_eq(n, 12u);
  cr_assert_arr_eq(t, "shared bytes", 12);
  size_t pn;
  const char *pd = rt_payload_data(p, &pn);
  cr_assert_neq((const char *)t, pd, "a shared payload is copied, not moved");
  memset(t, 'X', n); /* ours alone */
  free(t);
  const char *bd = rt_msg_data(b, &n);
  cr_assert_eq(n, 12u);
  cr_assert_arr_eq(bd, "shared bytes", 12, "the other message is intact");
  cr_assert_null(rt_msg_payload_ref(a) , "a took its payload");
  rt_msg_free(a);
  rt_msg_free(b);
  rt_payload_release(p);
  tst_check_leaks();
}

Test(msg, payload_ref_is_null_for_unshared_payloads) {
  rt_msg_t *m = tst_msg(T_A, "abc", 3);
  cr_assert_null(rt_msg_payload_ref(m));
  rt_msg_free(m);
  m = tst_msg(T_A, NULL, 0);
  cr_assert_null(rt_msg_payload_ref(m));
  rt_msg_free(m);
  tst_check_leaks();
}

Test(msg, free_null_is_a_noop) {
  rt_msg_free(NULL);
  rt_payload_release(NULL);
  tst_check_leaks();
}
