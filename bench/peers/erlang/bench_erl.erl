%% bench_erl.erl -- Erlang/OTP peer for the ccm actor-runtime benchmark.
%%
%% Savina-style workloads written as plain Erlang processes: spawn/1,
%% `!` and receive, tail-recursive loops carrying their state as arguments.
%% The process that runs main/1 starts the run (one kick-off message) and
%% waits for the result message.
%%
%% Build:
%%   erlc -o DIR bench_erl.erl
%% Run (W = number of schedulers):
%%   erl -noshell +S W:W -pa DIR -s bench_erl main WORKLOAD [PARAM...] -s init stop
%% (or: erl -noshell +S W:W -pa DIR -run bench_erl main WORKLOAD [PARAM...])
%%
%%   WORKLOAD  pingpong | counting | fanout | threadring | big
%%   PARAM     optional overrides of the default parameters:
%%     pingpong   [ROUNDTRIPS=1000000]
%%     counting   [MESSAGES=10000000]
%%     fanout     [ROUNDS=20000] [WORKER_ACTORS=64]
%%     threadring [HOPS=10000000] [RING=503]
%%     big        [PINGS=20000] [ACTORS=120]
%%
%% Output (stdout, nothing else): RESULT <workload> <metric> <value> <unit>
%% Diagnostics go to stderr. main/1 ends the VM itself with erlang:halt/1:
%% status 0 on success, 1 on a failed check, 2 on a usage error.

-module(bench_erl).
-export([main/1]).

%% ---------------------------------------------------------------------------
%% entry point
%% ---------------------------------------------------------------------------

main(Args0) ->
    Args = [to_list(A) || A <- Args0],
    Rc = try run(Args)
         catch Class:Reason:Stack ->
             err("bench_erl: ~p:~p~n~p~n", [Class, Reason, Stack]),
             1
         end,
    erlang:halt(Rc).

run([Wl | Params]) ->
    err("bench_erl: OTP ~s, ~b schedulers online~n",
        [erlang:system_info(otp_release),
         erlang:system_info(schedulers_online)]),
    case Wl of
        "pingpong"   -> pingpong(param(Params, 1, 1000000));
        "counting"   -> counting(param(Params, 1, 10000000));
        "fanout"     -> fanout(param(Params, 1, 20000), param(Params, 2, 64));
        "threadring" -> threadring(param(Params, 1, 10000000),
                                   param(Params, 2, 503));
        "big"        -> big(param(Params, 1, 20000), param(Params, 2, 120));
        _            -> usage()
    end;
run(_) ->
    usage().

usage() ->
    err("usage: erl -noshell +S W:W -pa DIR -s bench_erl main "
        "pingpong|counting|fanout|threadring|big [PARAM...]~n", []),
    2.

%% ---------------------------------------------------------------------------
%% helpers
%% ---------------------------------------------------------------------------

to_list(A) when is_atom(A) -> atom_to_list(A);
to_list(L) when is_list(L) -> L.

param(Params, I, _Default) when length(Params) >= I ->
    case string:to_integer(lists:nth(I, Params)) of
        {N, []} when N > 0 -> N;
        _ -> err("bad parameter ~s~n", [lists:nth(I, Params)]),
             erlang:halt(2)
    end;
param(_, _, Default) ->
    Default.

now_ns() -> erlang:monotonic_time(nanosecond).

err(Fmt, Args) -> io:format(standard_error, Fmt, Args).

result(Wl, Metric, Value, Unit) ->
    io:format("RESULT ~s ~s ~.3f ~s~n", [Wl, Metric, float(Value), Unit]).

%% Waits for {done, EndNs, Check}; returns {ElapsedNs, Check}.
await_done(T0) ->
    receive {done, T1, Check} -> {T1 - T0, Check} end.

%% ---------------------------------------------------------------------------
%% 1. pingpong
%% ---------------------------------------------------------------------------

pingpong(Rounds) ->
    Main = self(),
    Pong = spawn(fun pong_loop/0),
    Ping = spawn(fun() -> receive go -> ping_loop(Pong, 1, Rounds, Main) end end),
    T0 = now_ns(),
    Ping ! go,
    {Ns, Check} = await_done(T0),
    Pong ! stop,
    if Check =/= Rounds ->
           err("pingpong: expected ~b round trips, got ~p~n", [Rounds, Check]),
           1;
       true ->
           result(pingpong, rate, Rounds / (Ns / 1.0e9), "roundtrips/s"),
           result(pingpong, latency, Ns / Rounds, "ns"),
           0
    end.

pong_loop() ->
    receive
        {ping, From, N} -> From ! {pong, N}, pong_loop();
        stop -> ok
    end.

ping_loop(Pong, N, Rounds, Main) ->
    Pong ! {ping, self(), N},
    receive
        {pong, N} when N < Rounds -> ping_loop(Pong, N + 1, Rounds, Main);
        {pong, N} -> Main ! {done, now_ns(), N}
    end.

%% ---------------------------------------------------------------------------
%% 2. counting
%% ---------------------------------------------------------------------------

counting(N) ->
    Main = self(),
    Counter = spawn(fun() -> counter_loop(0) end),
    Producer = spawn(fun() -> receive go -> producer(Counter, N, Main) end end),
    T0 = now_ns(),
    Producer ! go,
    {Ns, Count} = await_done(T0),
    exit(Counter, kill),
    if Count =/= N ->
           err("counting: expected count ~b, got ~p~n", [N, Count]),
           1;
       true ->
           result(counting, rate, N / (Ns / 1.0e9), "msgs/s"),
           0
    end.

counter_loop(Count) ->
    receive
        increment -> counter_loop(Count + 1);
        {get, From} -> From ! {count, Count}, counter_loop(Count)
    end.

producer(Counter, N, Main) ->
    send_increments(Counter, N),
    Counter ! {get, self()},
    receive {count, C} -> Main ! {done, now_ns(), C} end.

send_increments(_, 0) -> ok;
send_increments(Counter, K) ->
    Counter ! increment,
    send_increments(Counter, K - 1).

%% ---------------------------------------------------------------------------
%% 3. fanout
%% ---------------------------------------------------------------------------

fanout(Rounds, NWorkers) ->
    Main = self(),
    Coord = spawn(fun() ->
                      Workers = [spawn(fun fan_worker/0)
                                 || _ <- lists:seq(1, NWorkers)],
                      receive go -> ok end,
                      Replies = fan_rounds(Workers, NWorkers, 0, Rounds, 0),
                      Main ! {done, now_ns(), Replies},
                      [W ! stop || W <- Workers]
                  end),
    T0 = now_ns(),
    Coord ! go,
    {Ns, Replies} = await_done(T0),
    if Replies =/= Rounds * NWorkers ->
           err("fanout: expected ~b replies, got ~p~n",
               [Rounds * NWorkers, Replies]),
           1;
       true ->
           result(fanout, rate, 2 * NWorkers * Rounds / (Ns / 1.0e9), "msgs/s"),
           0
    end.

fan_worker() ->
    receive
        {work, From, R} -> From ! {reply, R}, fan_worker();
        stop -> ok
    end.

fan_rounds(_, _, Rounds, Rounds, Replies) ->
    Replies;
fan_rounds(Workers, NWorkers, R, Rounds, Replies) ->
    Self = self(),
    fan_send(Workers, Self, R),
    fan_collect(NWorkers, R),
    fan_rounds(Workers, NWorkers, R + 1, Rounds, Replies + NWorkers).

fan_send([], _, _) -> ok;
fan_send([W | Ws], Self, R) -> W ! {work, Self, R}, fan_send(Ws, Self, R).

fan_collect(0, _) -> ok;
fan_collect(K, R) -> receive {reply, R} -> fan_collect(K - 1, R) end.

%% ---------------------------------------------------------------------------
%% 4. threadring
%% ---------------------------------------------------------------------------

%% Token value V means "V more hops after this one"; the first message carries
%% HOPS-1, so exactly HOPS messages are delivered and the process receiving 0
%% ends the run.
threadring(Hops, Ring) ->
    Main = self(),
    Members = [spawn(fun() -> receive {next, Next} -> ring_loop(Next, Main) end end)
               || _ <- lists:seq(1, Ring)],
    [First | Rest] = Members,
    [M ! {next, N} || {M, N} <- lists:zip(Members, Rest ++ [First])],
    %% Wiring messages are sent before the token, so each member knows its
    %% successor before the token reaches it.
    T0 = now_ns(),
    First ! {token, Hops - 1},
    {Ns, 0} = await_done(T0),
    [exit(M, kill) || M <- Members],
    result(threadring, rate, Hops / (Ns / 1.0e9), "msgs/s"),
    0.

ring_loop(Next, Main) ->
    receive
        {token, 0} -> Main ! {done, now_ns(), 0}, ring_loop(Next, Main);
        {token, V} -> Next ! {token, V - 1}, ring_loop(Next, Main)
    end.

%% ---------------------------------------------------------------------------
%% 5. big
%% ---------------------------------------------------------------------------

big(Pings, NActors) when NActors >= 2 ->
    Main = self(),
    Sink = spawn(fun() -> sink(NActors, Main) end),
    Actors = [spawn(fun() -> big_init(I, Pings, Sink) end)
              || I <- lists:seq(0, NActors - 1)],
    Peers = list_to_tuple(Actors),
    [A ! {peers, Peers} || A <- Actors],
    T0 = now_ns(),
    [A ! go || A <- Actors],
    {Ns, Heard} = await_done(T0),
    [exit(A, kill) || A <- Actors],
    if Heard =/= NActors -> 1;
       true ->
           result(big, rate, 2 * NActors * Pings / (Ns / 1.0e9), "msgs/s"),
           0
    end;
big(_, _) ->
    err("big: need at least 2 actors~n", []),
    2.

sink(N, Main) -> sink_loop(N, N, Main).

sink_loop(Total, 0, Main) -> Main ! {done, now_ns(), Total};
sink_loop(Total, Left, Main) ->
    receive finished -> sink_loop(Total, Left - 1, Main) end.

big_init(Idx, Pings, Sink) ->
    Seed0 = (Idx * 2654435761 + 12345) band 16#FFFFFFFF,
    Seed = if Seed0 =:= 0 -> 1; true -> Seed0 end,
    receive {peers, Peers} -> ok end,
    receive go -> ok end,
    N = tuple_size(Peers),
    Self = self(),
    Rng = send_ping(Peers, N, Idx, Seed, Self),
    big_loop(Peers, N, Idx, Rng, Pings - 1, Sink, Self).

%% Left = pings still to send after the one in flight; -1 once done.
big_loop(Peers, N, Idx, Rng, Left, Sink, Self) ->
    receive
        {ping, From} ->
            From ! pong,
            big_loop(Peers, N, Idx, Rng, Left, Sink, Self);
        pong when Left > 0 ->
            Rng1 = send_ping(Peers, N, Idx, Rng, Self),
            big_loop(Peers, N, Idx, Rng1, Left - 1, Sink, Self);
        pong ->
            Sink ! finished,
            big_loop(Peers, N, Idx, Rng, -1, Sink, Self)
    end.

send_ping(Peers, N, Idx, Rng0, Self) ->
    Rng = xorshift32(Rng0),
    R0 = Rng rem (N - 1),
    R = if R0 >= Idx -> R0 + 1; true -> R0 end,   % uniform over the others
    element(R + 1, Peers) ! {ping, Self},
    Rng.

xorshift32(X0) ->
    X1 = X0 bxor ((X0 bsl 13) band 16#FFFFFFFF),
    X2 = X1 bxor (X1 bsr 17),
    X2 bxor ((X2 bsl 5) band 16#FFFFFFFF).
