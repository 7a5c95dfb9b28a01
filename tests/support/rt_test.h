/*
 * rt_test.h: helpers shared by the runtime test suites (tests/runtime/).
 *
 * Everything here asserts with criterion on failure, so a test body stays a
 * list of behaviours. Waits are bounded (TST_WAIT_MS) and driven by ports,
 * condition variables or an explicit condition: never by a fixed sleep.
 */
#ifndef TESTS_SUPPORT_RT_TEST_H
#define TESTS_SUPPORT_RT_TEST_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "runtime/actor.h"
#include "runtime/io.h"
#include "runtime/msg.h"
#include "runtime/rt.h"
#include "runtime/timer.h"
#include "tests/support/leak_check.h" /* TST_ASAN, tst_leak_check */

/* Upper bound for any wait on something that must happen. Generous, so
 * sanitizer builds on a loaded 2-core machine do not flake; a test that
 * reaches it has failed anyway. */
#define TST_WAIT_MS 20000

/* First user message type the suites use; below RT_MSG_SYSTEM. */
#define TST_MSG_BASE 0x100u

/* Sanitizer builds run the stress tests with fewer messages. */
#if defined(__SANITIZE_THREAD__) || defined(__SANITIZE_ADDRESS__)
#define TST_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer) || __has_feature(address_sanitizer)
#define TST_SANITIZED 1
#endif
#endif
#ifndef TST_SANITIZED
#define TST_SANITIZED 0
#endif

/* Assert that @p expr (an rt_ call) returned @p want, naming both codes. */
#define TST_RC(expr, want)                                                   \
  do {                                                                       \
    int tst_rc_ = (expr);                                                    \
    cr_assert_eq(tst_rc_, (want), "%s\n  returned %d (%s), expected %s",     \
                 #expr, tst_rc_, rt_strerror(tst_rc_), rt_strerror(want));   \
  } while (0)
#define TST_OK(expr) TST_RC(expr, 0)

/* ---- runtime and ports ---- */
/** A runtime with @p workers workers and otherwise default settings. */
rt_runtime_t *tst_runtime(unsigned workers);
/** A runtime from @p cfg (asserts rt_runtime_new succeeded). */
rt_runtime_t *tst_runtime_cfg(const rt_config_t *cfg);
/** Shut the runtime down (DRAIN): every actor stopped, every worker joined.
 * Call it before freeing ports that actors send to: actors in these tests
 * use borrowed port addresses, and a sender may still be inside rt_send (the
 * port's wake-up) after the receiver has seen its message. */
void tst_quiesce(rt_runtime_t *rt);
/** rt_runtime_free, then (ASan builds) assert that nothing leaked. */
void tst_runtime_free(rt_runtime_t *rt);
/** tst_leak_check() (leak_check.h), where the build has it: a check
 * part-way through a test. Every test also ends with one by itself. */
void tst_check_leaks(void);
/** A port of @p capacity messages (asserts success). */
rt_port_t *tst_port(rt_runtime_t *rt, uint32_t capacity);

/** Receive one message within TST_WAIT_MS or fail the test. */
rt_msg_t *tst_recv(rt_port_t *p);
/** Receive one message of @p type within TST_WAIT_MS or fail the test. */
rt_msg_t *tst_recv_type(rt_port_t *p, uint32_t type);
/** Assert that nothing arrives on @p p within @p window_ms. (An absence
 * check: a longer wait could only catch more, never flake.) */
void tst_expect_silence(rt_port_t *p, int window_ms);
/** Number of messages waiting in @p p, freeing them. */
unsigned tst_drain(rt_port_t *p);

/* ---- messages ---- */
/** Build a message (asserts success). */
rt_msg_t *tst_msg(uint32_t type, const void *data, size_t len);
/** Build a message carrying one uint64_t (asserts success). */
rt_msg_t *tst_msg_u64(uint32_t type, uint64_t v);
/** Send a fresh message; returns rt_send's code. */
int tst_send(rt_actor_t *to, uint32_t type, const void *data, size_t len);
int tst_send_u64(rt_actor_t *to, uint32_t type, uint64_t v);
/** Send, retrying on RT_EAGAIN (sched_yield between tries). */
int tst_send_retry(rt_actor_t *to, uint32_t type, const void *data, size_t len);
/** The uint64_t a message carries (asserts the size). */
uint64_t tst_u64(const rt_msg_t *m);
/** Copy a payload of exactly @p len bytes into @p dst (asserts the size). */
void tst_payload(const rt_msg_t *m, void *dst, size_t len);

/* ---- time ---- */
uint64_t tst_now_ns(void);
void tst_sleep_ms(unsigned ms);

/* Poll @p cond (an expression) until it holds or @p ms pass; evaluates to
 * whether it held. For counters the runtime updates after a hook returns. */
#define TST_EVENTUALLY(cond, ms)                                             \
  ({                                                                         \
    uint64_t tst_deadline_ = tst_now_ns() + (uint64_t)(ms) * 1000000u;      \
    bool tst_ok_;                                                            \
    while (!(tst_ok_ = (cond)) && tst_now_ns() < tst_deadline_)             \
      tst_pause_();                                                          \
    tst_ok_;                                                                 \
  })
void tst_pause_(void);

/* ---- gate: a handler blocks in tst_gate_wait until the test opens it ---- */
typedef struct tst_gate {
  pthread_mutex_t mu;
  pthread_cond_t cv;
  int open;
  int entered; /* threads that reached tst_gate_wait */
} tst_gate_t;
void tst_gate_init(tst_gate_t *g);
/** Block until the gate is open (counts the caller in 'entered'). */
void tst_gate_wait(tst_gate_t *g);
/** Wait until @p n threads have entered the gate (asserts within TST_WAIT_MS). */
void tst_gate_await_entered(tst_gate_t *g, int n);
void tst_gate_open(tst_gate_t *g);
void tst_gate_destroy(tst_gate_t *g);

/* ---- latch: wait for N events from other threads ---- */
typedef struct tst_latch {
  pthread_mutex_t mu;
  pthread_cond_t cv;
  long count;
} tst_latch_t;
void tst_latch_init(tst_latch_t *l, long count);
void tst_latch_count_down(tst_latch_t *l);
/** @return true when the count reached 0 within @p ms. */
bool tst_latch_wait(tst_latch_t *l, int ms);
void tst_latch_destroy(tst_latch_t *l);

#endif /* TESTS_SUPPORT_RT_TEST_H */
