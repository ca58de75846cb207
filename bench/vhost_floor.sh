#!/usr/bin/env bash
# What creating N vhosts costs RabbitMQ itself (on a cluster: node 1, replicating to the others), with no HTTP and no client: `rabbit_vhost:add/2` called
# N times inside the broker (rabbitmqctl eval), then `rabbit_vhost:delete/2` for each. This is the floor
# under any tool's cold run at large N; bench/README.md ("N=1000 and the broker") explains the growth.
#   bench/vhost_floor.sh [N]        (default 1000; vhosts are named oshfloor_0001 ... and removed after)
# Prints one line, an Erlang proplist: n, total_ms, first10_ms / middle10_ms / last10_ms (ms per vhost at
# the start, the middle and the end), delete_ms.
set -euo pipefail
n="${1:-1000}"
if ! [[ "$n" =~ ^[0-9]+$ ]] || ((n < 30)); then
  echo "vhost_floor.sh: N must be a whole number of at least 30, not '$n'" >&2
  exit 2
fi
# Erlang source, read verbatim (no shell escapes); @N@ is replaced by the count.
read -r -d '' expr <<'ERLANG' || true
Name = fun(I) -> list_to_binary(io_lib:format("oshfloor_~4..0B", [I])) end,
N = @N@,
T0 = erlang:monotonic_time(millisecond),
Each = [begin {T, ok} = timer:tc(rabbit_vhost, add, [Name(I), <<"osa-hybrid-msg-bench">>]), T div 1000 end
        || I <- lists:seq(1, N)],
Total = erlang:monotonic_time(millisecond) - T0,
T1 = erlang:monotonic_time(millisecond),
[rabbit_vhost:delete(Name(I), <<"osa-hybrid-msg-bench">>) || I <- lists:seq(1, N)],
Delete = erlang:monotonic_time(millisecond) - T1,
io:format("~w~n", [[{n, N}, {total_ms, Total}, {first10_ms, lists:sublist(Each, 1, 10)},
                     {middle10_ms, lists:sublist(Each, N div 2, 10)}, {last10_ms, lists:sublist(Each, N - 9, 10)},
                     {delete_ms, Delete}]]).
ERLANG
# The RabbitMQ under test (OSA_RABBITMQ_PROFILE, default 4.3): a 4.x cluster's node 1 through its chroot's
# rabbitmqctl (scripts/brokers/rabbitmq.sh ctl), or the host's 3.10 node.
profile="${OSA_RABBITMQ_PROFILE:-4.3}"
if [ "$profile" = 3.10 ]; then
  rabbitmqctl eval "${expr//@N@/$n}"
else
  "$(dirname "${BASH_SOURCE[0]}")/../scripts/brokers/rabbitmq.sh" --profile "$profile" ctl 1 eval "${expr//@N@/$n}"
fi
