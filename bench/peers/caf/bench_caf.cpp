// bench_caf.cpp -- CAF 0.17 peer for the ccm actor-runtime benchmark.
//
// Savina-style workloads, written the way a CAF user would write them:
// event-based (scheduled, non-detached) actors, behaviors, atoms as message
// tags, plain `send` for one-way messages and handler return values for
// replies. The main thread only starts the run (one kick-off message) and
// waits for the result via a scoped_actor.
//
// Build (Debian 12, libcaf-dev 0.17.6):
//   g++ -O2 -std=c++17 bench_caf.cpp -o bench_caf -lcaf_core -lpthread
//
// Run:
//   ./bench_caf WORKLOAD WORKERS [PARAM...]
//     WORKLOAD  pingpong | counting | fanout | threadring | big
//     WORKERS   number of CAF scheduler threads (scheduler.max-threads)
//     PARAM     optional overrides of the default parameters:
//       pingpong   [ROUNDTRIPS=1000000]
//       counting   [MESSAGES=10000000]
//       fanout     [ROUNDS=20000] [WORKERS_ACTORS=64]
//       threadring [HOPS=10000000] [RING=503]
//       big        [PINGS=20000] [ACTORS=120]
//
// Output (stdout, nothing else): RESULT <workload> <metric> <value> <unit>
// Diagnostics on stderr. Exit status 0 on success, 1 on a failed check,
// 2 on a usage error.

#include <chrono>
#include <cinttypes>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "caf/all.hpp"

using namespace caf;
using clk = std::chrono::steady_clock;

namespace {

// Message tags. (caf::ping_atom, caf::pong_atom and caf::get_atom already
// exist in 0.17.6's predefined atom list; the others are ours.)
using inc_atom = atom_constant<atom("inc")>;
using go_atom = atom_constant<atom("go")>;
using token_atom = atom_constant<atom("token")>;
using work_atom = atom_constant<atom("work")>;
using reply_atom = atom_constant<atom("reply")>;
using finished_atom = atom_constant<atom("finished")>;
using done_atom = atom_constant<atom("done")>;

// Sent to the main thread when the run is complete: end timestamp (ns since
// steady_clock epoch) and a check value (count, hops, ...).
int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
           clk::now().time_since_epoch())
    .count();
}

void result(const char* wl, const char* metric, double value,
            const char* unit) {
  std::printf("RESULT %s %s %.3f %s\n", wl, metric, value, unit);
  std::fflush(stdout);
}

int64_t arg_or(int argc, char** argv, int idx, int64_t dflt) {
  if (idx < argc) {
    char* end = nullptr;
    long long v = std::strtoll(argv[idx], &end, 10);
    if (end == argv[idx] || *end != '\0' || v <= 0) {
      std::fprintf(stderr, "bad parameter '%s'\n", argv[idx]);
      std::exit(2);
    }
    return v;
  }
  return dflt;
}

// Waits for (done_atom, end_ns, check) from the actors; returns elapsed ns.
struct run_result {
  int64_t elapsed_ns;
  int64_t check;
};

run_result await_done(scoped_actor& self, int64_t t0) {
  run_result r{0, -1};
  self->receive([&](done_atom, int64_t t1, int64_t check) {
    r.elapsed_ns = t1 - t0;
    r.check = check;
  });
  return r;
}

// ---------------------------------------------------------------------------
// 1. pingpong
// ---------------------------------------------------------------------------

behavior pong_actor(event_based_actor*) {
  return {
    [](ping_atom, int64_t n) { return make_message(pong_atom::value, n); },
  };
}

behavior ping_actor(event_based_actor* self, actor pong, int64_t rounds,
                    actor main) {
  return {
    [=](go_atom) { self->send(pong, ping_atom::value, int64_t{1}); },
    [=](pong_atom, int64_t n) {
      if (n < rounds) {
        self->send(pong, ping_atom::value, n + 1);
      } else {
        self->send(main, done_atom::value, now_ns(), n);
        self->quit();
      }
    },
  };
}

int run_pingpong(actor_system& sys, int argc, char** argv) {
  int64_t rounds = arg_or(argc, argv, 3, 1000000);
  scoped_actor self{sys};
  auto pong = sys.spawn(pong_actor);
  auto ping = sys.spawn(ping_actor, pong, rounds, actor{self});
  int64_t t0 = now_ns();
  self->send(ping, go_atom::value);
  auto r = await_done(self, t0);
  anon_send_exit(pong, exit_reason::user_shutdown);
  if (r.check != rounds) {
    std::fprintf(stderr, "pingpong: expected %" PRId64 " round trips, got %" PRId64 "\n",
                 rounds, r.check);
    return 1;
  }
  double secs = r.elapsed_ns / 1e9;
  result("pingpong", "rate", rounds / secs, "roundtrips/s");
  result("pingpong", "latency", double(r.elapsed_ns) / rounds, "ns");
  return 0;
}

// ---------------------------------------------------------------------------
// 2. counting
// ---------------------------------------------------------------------------

struct counter_state {
  int64_t count = 0;
};

behavior counter_actor(stateful_actor<counter_state>* self) {
  return {
    [=](inc_atom) { ++self->state.count; },
    [=](get_atom) { return self->state.count; },
  };
}

behavior producer_actor(event_based_actor* self, actor counter, int64_t n,
                        actor main) {
  return {
    [=](go_atom) {
      for (int64_t i = 0; i < n; ++i)
        self->send(counter, inc_atom::value);
      self->request(counter, infinite, get_atom::value)
        .then([=](int64_t count) {
          self->send(main, done_atom::value, now_ns(), count);
          self->quit();
        });
    },
  };
}

int run_counting(actor_system& sys, int argc, char** argv) {
  int64_t n = arg_or(argc, argv, 3, 10000000);
  scoped_actor self{sys};
  auto counter = sys.spawn(counter_actor);
  auto producer = sys.spawn(producer_actor, counter, n, actor{self});
  int64_t t0 = now_ns();
  self->send(producer, go_atom::value);
  auto r = await_done(self, t0);
  anon_send_exit(counter, exit_reason::user_shutdown);
  if (r.check != n) {
    std::fprintf(stderr, "counting: expected count %" PRId64 ", got %" PRId64 "\n", n,
                 r.check);
    return 1;
  }
  result("counting", "rate", n / (r.elapsed_ns / 1e9), "msgs/s");
  return 0;
}

// ---------------------------------------------------------------------------
// 3. fanout
// ---------------------------------------------------------------------------

behavior fan_worker(event_based_actor*) {
  return {
    [](work_atom, int64_t round) { return make_message(reply_atom::value, round); },
  };
}

struct coord_state {
  std::vector<actor> workers;
  int64_t round = 0;
  int64_t pending = 0;
  int64_t replies = 0;
};

behavior fan_coordinator(stateful_actor<coord_state>* self, int64_t rounds,
                         int64_t nworkers, actor main) {
  for (int64_t i = 0; i < nworkers; ++i)
    self->state.workers.push_back(self->spawn(fan_worker));
  auto start_round = [=] {
    auto& st = self->state;
    st.pending = static_cast<int64_t>(st.workers.size());
    for (auto& w : st.workers)
      self->send(w, work_atom::value, st.round);
  };
  return {
    [=](go_atom) { start_round(); },
    [=](reply_atom, int64_t round) {
      auto& st = self->state;
      if (round != st.round) {
        std::fprintf(stderr, "fanout: stale reply\n");
        std::exit(1);
      }
      ++st.replies;
      if (--st.pending == 0) {
        if (++st.round < rounds) {
          start_round();
        } else {
          self->send(main, done_atom::value, now_ns(), st.replies);
          for (auto& w : st.workers)
            self->send_exit(w, exit_reason::user_shutdown);
          self->quit();
        }
      }
    },
  };
}

int run_fanout(actor_system& sys, int argc, char** argv) {
  int64_t rounds = arg_or(argc, argv, 3, 20000);
  int64_t nworkers = arg_or(argc, argv, 4, 64);
  scoped_actor self{sys};
  auto coord = sys.spawn(fan_coordinator, rounds, nworkers, actor{self});
  int64_t t0 = now_ns();
  self->send(coord, go_atom::value);
  auto r = await_done(self, t0);
  if (r.check != rounds * nworkers) {
    std::fprintf(stderr, "fanout: expected %" PRId64 " replies, got %" PRId64 "\n",
                 rounds * nworkers, r.check);
    return 1;
  }
  result("fanout", "rate", 2.0 * nworkers * rounds / (r.elapsed_ns / 1e9),
         "msgs/s");
  return 0;
}

// ---------------------------------------------------------------------------
// 4. threadring
// ---------------------------------------------------------------------------

// Token value v means "v more hops after this one"; the initial message
// carries HOPS-1, so exactly HOPS messages are delivered and the actor that
// receives 0 ends the run.
struct ring_state {
  actor next;
};

behavior ring_member(stateful_actor<ring_state>* self, actor main) {
  return {
    [=](actor next) { self->state.next = std::move(next); },
    [=](token_atom, int64_t v) {
      if (v > 0)
        self->send(self->state.next, token_atom::value, v - 1);
      else
        self->send(main, done_atom::value, now_ns(), int64_t{0});
    },
  };
}

int run_threadring(actor_system& sys, int argc, char** argv) {
  int64_t hops = arg_or(argc, argv, 3, 10000000);
  int64_t ring = arg_or(argc, argv, 4, 503);
  scoped_actor self{sys};
  std::vector<actor> members;
  members.reserve(ring);
  for (int64_t i = 0; i < ring; ++i)
    members.push_back(sys.spawn(ring_member, actor{self}));
  for (int64_t i = 0; i < ring; ++i)
    self->send(members[i], members[(i + 1) % ring]);
  // Wiring messages are sent (FIFO per sender) before the token, so every
  // member knows its successor before the token can reach it.
  int64_t t0 = now_ns();
  self->send(members[0], token_atom::value, hops - 1);
  auto r = await_done(self, t0);
  for (auto& m : members)
    anon_send_exit(m, exit_reason::user_shutdown);
  if (r.check != 0)
    return 1;
  result("threadring", "rate", hops / (r.elapsed_ns / 1e9), "msgs/s");
  return 0;
}

// ---------------------------------------------------------------------------
// 5. big
// ---------------------------------------------------------------------------

struct big_state {
  uint32_t rng = 1;
  int64_t pongs = 0;
};

using peer_list = std::shared_ptr<std::vector<actor>>;

inline uint32_t xorshift32(uint32_t& s) {
  s ^= s << 13;
  s ^= s >> 17;
  s ^= s << 5;
  return s;
}

behavior big_actor(stateful_actor<big_state>* self, int64_t idx,
                   peer_list peers, int64_t pings, actor sink) {
  // seed per actor (never 0)
  self->state.rng = static_cast<uint32_t>(idx) * 2654435761u + 12345u;
  if (self->state.rng == 0)
    self->state.rng = 1;
  auto send_ping = [=] {
    auto& ps = *peers;
    auto n = static_cast<uint32_t>(ps.size());
    uint32_t r = xorshift32(self->state.rng) % (n - 1);
    if (r >= static_cast<uint32_t>(idx))
      ++r; // uniform over the other n-1 actors
    self->send(ps[r], ping_atom::value);
  };
  return {
    [=](go_atom) { send_ping(); },
    [=](ping_atom) { return pong_atom::value; },
    [=](pong_atom) {
      if (++self->state.pongs < pings)
        send_ping();
      else
        self->send(sink, finished_atom::value);
    },
  };
}

struct sink_state {
  int64_t heard = 0;
};

behavior big_sink(stateful_actor<sink_state>* self, int64_t nactors,
                  actor main) {
  return {
    [=](finished_atom) {
      if (++self->state.heard == nactors) {
        self->send(main, done_atom::value, now_ns(), self->state.heard);
        self->quit();
      }
    },
  };
}

int run_big(actor_system& sys, int argc, char** argv) {
  int64_t pings = arg_or(argc, argv, 3, 20000);
  int64_t nactors = arg_or(argc, argv, 4, 120);
  if (nactors < 2) {
    std::fprintf(stderr, "big: need at least 2 actors\n");
    return 2;
  }
  scoped_actor self{sys};
  auto sink = sys.spawn(big_sink, nactors, actor{self});
  auto peers = std::make_shared<std::vector<actor>>();
  peers->reserve(nactors);
  for (int64_t i = 0; i < nactors; ++i)
    peers->push_back(sys.spawn(big_actor, i, peers, pings, sink));
  // The peer list is complete before any go message is sent (send/enqueue
  // gives the happens-before edge); it is read-only afterwards.
  int64_t t0 = now_ns();
  for (auto& a : *peers)
    self->send(a, go_atom::value);
  auto r = await_done(self, t0);
  for (auto& a : *peers)
    anon_send_exit(a, exit_reason::user_shutdown);
  peers->clear(); // break the actor <-> peer-list reference cycle
  if (r.check != nactors)
    return 1;
  result("big", "rate", 2.0 * nactors * pings / (r.elapsed_ns / 1e9), "msgs/s");
  return 0;
}

void usage() {
  std::fprintf(stderr,
               "usage: bench_caf pingpong|counting|fanout|threadring|big "
               "WORKERS [PARAM...]\n");
}

} // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    usage();
    return 2;
  }
  std::string wl = argv[1];
  int64_t workers = arg_or(argc, argv, 2, 1);
  actor_system_config cfg;
  cfg.set("scheduler.max-threads", static_cast<size_t>(workers));
  actor_system sys{cfg};
  std::fprintf(stderr, "bench_caf: CAF %d.%d.%d, %zu scheduler threads\n",
               CAF_MAJOR_VERSION, CAF_MINOR_VERSION, CAF_PATCH_VERSION,
               sys.scheduler().num_workers());
  if (static_cast<int64_t>(sys.scheduler().num_workers()) != workers) {
    std::fprintf(stderr, "bench_caf: scheduler.max-threads not honoured\n");
    return 1;
  }
  int rc;
  if (wl == "pingpong")
    rc = run_pingpong(sys, argc, argv);
  else if (wl == "counting")
    rc = run_counting(sys, argc, argv);
  else if (wl == "fanout")
    rc = run_fanout(sys, argc, argv);
  else if (wl == "threadring")
    rc = run_threadring(sys, argc, argv);
  else if (wl == "big")
    rc = run_big(sys, argc, argv);
  else {
    usage();
    return 2;
  }
  return rc;
}
