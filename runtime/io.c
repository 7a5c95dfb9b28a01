/*
 * io.c: the blocking-job pool and the descriptor-readiness thread.
 *
 * Blocking pool: a mutex-guarded FIFO of jobs and N threads. Halting lets
 * every queued job run, then joins. Results are sent forced (each job sends
 * at most one message, so the submitter bounds them).
 *
 * Readiness: one thread in epoll_wait; watches are EPOLLONESHOT, so each
 * arming yields at most one RT_MSG_IO_READY. The table maps fd -> (target
 * actor id, tag); the target is kept by id, not by reference, so a watch
 * never keeps a stopped actor alive. An eventfd stops the thread.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "runtime/rt_int.h"

/* ------------------------------------------------------------- blocking */

typedef struct job {
  struct job *next;
  rt_blocking_fn fn;
  void *arg;
  rt_actor_t *reply_to;
} job_t;

struct rt_blocking {
  pthread_mutex_t lock;
  pthread_cond_t cond;
  job_t *head, *tail;
  bool stop;
  unsigned n;
  pthread_t *threads;
};

static void job_run(job_t *j)
{
  rt_msg_t *result = NULL;
  j->fn(j->arg, &result);
  if (result && j->reply_to)
    rt__send(j->reply_to, &result, true);
  else
    rt_msg_free(result);
  rt_actor_release(j->reply_to);
  free(j);
}

static void *blocking_main(void *arg)
{
  rt_blocking_t *b = arg;
  pthread_mutex_lock(&b->lock);
  for (;;) {
    while (!b->head && !b->stop)
      pthread_cond_wait(&b->cond, &b->lock);
    job_t *j = b->head;
    if (!j)
      break; /* stopping and nothing left */
    b->head = j->next;
    if (!b->head)
      b->tail = NULL;
    pthread_mutex_unlock(&b->lock);
    job_run(j);
    pthread_mutex_lock(&b->lock);
  }
  pthread_mutex_unlock(&b->lock);
  return NULL;
}

int rt__blocking_start(rt_runtime_t *rt, unsigned threads, rt_blocking_t **out)
{
  (void)rt;
  *out = NULL;
  rt_blocking_t *b = calloc(1, sizeof(*b));
  if (!b)
    return RT_ENOMEM;
  pthread_mutex_init(&b->lock, NULL);
  pthread_cond_init(&b->cond, NULL);
  b->threads = calloc(threads ? threads : 1, sizeof(pthread_t));
  if (!b->threads) {
    rt__blocking_free(b);
    return RT_ENOMEM;
  }
  for (unsigned i = 0; i < threads; i++) {
    int rc = pthread_create(&b->threads[i], NULL, blocking_main, b);
    if (rc) {
      rt__blocking_free(b);
      return -rc;
    }
    b->n++;
  }
  *out = b;
  return 0;
}

void rt__blocking_halt(rt_blocking_t *b)
{
  if (!b)
    return;
  pthread_mutex_lock(&b->lock);
  b->stop = true;
  pthread_cond_broadcast(&b->cond);
  pthread_mutex_unlock(&b->lock);
  for (unsigned i = 0; i < b->n; i++)
    pthread_join(b->threads[i], NULL);
  b->n = 0;
  /* With no thread at all (blocking_threads = 0) jobs run here. */
  while (b->head) {
    job_t *j = b->head;
    b->head = j->next;
    job_run(j);
  }
  b->tail = NULL;
}

void rt__blocking_free(rt_blocking_t *b)
{
  if (!b)
    return;
  rt__blocking_halt(b);
  free(b->threads);
  pthread_mutex_destroy(&b->lock);
  pthread_cond_destroy(&b->cond);
  free(b);
}

int rt_blocking_submit(rt_runtime_t *rt, rt_blocking_fn fn, void *arg,
                       rt_actor_t *reply_to)
{
  rt_blocking_t *b = rt ? rt->blocking : NULL;
  if (!fn || !rt)
    return RT_EINVAL;
  if (!b)
    return RT_ESHUTDOWN;
  job_t *j = calloc(1, sizeof(*j));
  if (!j)
    return RT_ENOMEM;
  j->fn = fn;
  j->arg = arg;
  j->reply_to = reply_to ? rt_actor_retain(reply_to) : NULL;
  pthread_mutex_lock(&b->lock);
  bool stopped = b->stop;
  if (!stopped) {
    if (b->tail)
      b->tail->next = j;
    else
      b->head = j;
    b->tail = j;
    pthread_cond_signal(&b->cond);
  }
  pthread_mutex_unlock(&b->lock);
  if (stopped) {
    rt_actor_release(j->reply_to);
    free(j);
    return RT_ESHUTDOWN;
  }
  return 0;
}

/* ------------------------------------------------------------ readiness */

typedef struct watch {
  uint64_t target;
  uint64_t tag;
} watch_t;

struct rt_io {
  rt_runtime_t *rt;
  int ep;
  int stopfd;
  bool thread_started;
  bool stop;
  pthread_t thread;
  pthread_mutex_t lock;
  rt_map_t watches; /* fd + 1 -> watch_t */
};

static uint32_t to_rt_events(uint32_t ev)
{
  uint32_t r = 0;
  if (ev & EPOLLIN)
    r |= RT_IO_READ;
  if (ev & EPOLLOUT)
    r |= RT_IO_WRITE;
  if (ev & EPOLLERR)
    r |= RT_IO_ERROR;
  if (ev & (EPOLLHUP | EPOLLRDHUP))
    r |= RT_IO_HANGUP;
  return r;
}

static void io_deliver(rt_io_t *io, int fd, uint32_t events)
{
  pthread_mutex_lock(&io->lock);
  watch_t *w = rt__map_get(&io->watches, (uint64_t)fd + 1);
  watch_t copy = w ? *w : (watch_t){0, 0};
  pthread_mutex_unlock(&io->lock);
  if (!w)
    return;
  rt_io_event_t ev = {.fd = fd, .events = to_rt_events(events), .tag = copy.tag};
  rt_msg_t *m = NULL;
  if (rt__msg_new_system(RT_MSG_IO_READY, &ev, sizeof(ev), &m) == 0)
    rt__send_id(io->rt, copy.target, &m, true);
}

static void *io_main(void *arg)
{
  rt_io_t *io = arg;
  struct epoll_event evs[64];
  for (;;) {
    int n = epoll_wait(io->ep, evs, 64, -1);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0)
      break;
    for (int i = 0; i < n; i++) {
      int fd = (int)evs[i].data.u64;
      if (fd == io->stopfd)
        return NULL;
      io_deliver(io, fd, evs[i].events);
    }
  }
  return NULL;
}

int rt__io_start(rt_runtime_t *rt, rt_io_t **out)
{
  *out = NULL;
  rt_io_t *io = calloc(1, sizeof(*io));
  if (!io)
    return RT_ENOMEM;
  io->rt = rt;
  io->ep = epoll_create1(EPOLL_CLOEXEC);
  io->stopfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  pthread_mutex_init(&io->lock, NULL);
  rt__map_init(&io->watches);
  int rc = (io->ep < 0 || io->stopfd < 0) ? -errno : 0;
  if (!rc) {
    struct epoll_event ev = {.events = EPOLLIN, .data.u64 = (uint64_t)io->stopfd};
    if (epoll_ctl(io->ep, EPOLL_CTL_ADD, io->stopfd, &ev) < 0)
      rc = -errno;
  }
  if (!rc)
    rc = -pthread_create(&io->thread, NULL, io_main, io);
  if (rc) {
    rt__io_free(io);
    return rc;
  }
  io->thread_started = true;
  *out = io;
  return 0;
}

void rt__io_halt(rt_io_t *io)
{
  if (!io)
    return;
  pthread_mutex_lock(&io->lock);
  io->stop = true;
  pthread_mutex_unlock(&io->lock);
  if (io->thread_started) {
    uint64_t one = 1;
    ssize_t w = write(io->stopfd, &one, sizeof(one));
    (void)w;
    pthread_join(io->thread, NULL);
    io->thread_started = false;
  }
}

void rt__io_free(rt_io_t *io)
{
  if (!io)
    return;
  rt__io_halt(io);
  for (size_t i = 0; i < io->watches.cap; i++)
    free(io->watches.vals[i]);
  rt__map_fini(&io->watches);
  if (io->ep >= 0)
    close(io->ep);
  if (io->stopfd >= 0)
    close(io->stopfd);
  pthread_mutex_destroy(&io->lock);
  free(io);
}

static uint32_t to_epoll_events(uint32_t ev)
{
  uint32_t r = EPOLLONESHOT;
  if (ev & RT_IO_READ)
    r |= EPOLLIN | EPOLLRDHUP;
  if (ev & RT_IO_WRITE)
    r |= EPOLLOUT;
  return r;
}

int rt_fd_watch(rt_runtime_t *rt, int fd, uint32_t events, rt_actor_t *target,
                uint64_t tag)
{
  rt_io_t *io = rt ? rt->io : NULL;
  if (!rt || fd < 0 || !target || !(events & (RT_IO_READ | RT_IO_WRITE)))
    return RT_EINVAL;
  if (!io || atomic_load_explicit(&rt->shutting_down, memory_order_acquire))
    return RT_ESHUTDOWN;
  int rc = 0;
  pthread_mutex_lock(&io->lock);
  watch_t *w = rt__map_get(&io->watches, (uint64_t)fd + 1);
  int op = w ? EPOLL_CTL_MOD : EPOLL_CTL_ADD;
  if (io->stop)
    rc = RT_ESHUTDOWN;
  else if (!w && !(w = calloc(1, sizeof(*w))))
    rc = RT_ENOMEM;
  if (!rc) {
    w->target = target->id;
    w->tag = tag;
    struct epoll_event ev = {.events = to_epoll_events(events),
                             .data.u64 = (uint64_t)fd};
    if (epoll_ctl(io->ep, op, fd, &ev) < 0)
      rc = -errno;
    else if (op == EPOLL_CTL_ADD && rt__map_put(&io->watches, (uint64_t)fd + 1, w))
      rc = RT_ENOMEM;
    if (rc && op == EPOLL_CTL_ADD) {
      epoll_ctl(io->ep, EPOLL_CTL_DEL, fd, NULL);
      free(w);
    }
  }
  pthread_mutex_unlock(&io->lock);
  return rc;
}

int rt_fd_unwatch(rt_runtime_t *rt, int fd)
{
  rt_io_t *io = rt ? rt->io : NULL;
  if (!io || fd < 0)
    return RT_ENOTFOUND;
  pthread_mutex_lock(&io->lock);
  watch_t *w = rt__map_del(&io->watches, (uint64_t)fd + 1);
  if (w)
    epoll_ctl(io->ep, EPOLL_CTL_DEL, fd, NULL);
  pthread_mutex_unlock(&io->lock);
  bool found = w != NULL;
  free(w);
  return found ? 0 : RT_ENOTFOUND;
}
