#!/bin/sh
# bench.sh takes the cluster package's closing measurements: the router's
# overhead over asking the nodes directly, in process and over loopback
# HTTP/2 (mode=paired: the two alternate, medians and the median ratio),
# throughput with 1, 2 and 4 shard nodes (mode=router-parallel), quorum
# write speed, placement balance and moved fraction for 4–64 nodes, and the
# allocations per routed search. Run it from anywhere on a quiet machine;
# it prints the CPU model and load first.
set -e
cd "$(dirname "$0")/.."
grep -m1 'model name' /proc/cpuinfo || true
uptime
go test -run '^$' -bench 'RouterSearch/nodes=./mode=(paired|router-parallel)$' -benchmem -benchtime 2000x -count 3 ./cluster/
go test -run '^$' -bench 'RouterSearchHTTP/nodes=./mode=(paired|router-parallel)$' -benchmem -benchtime 1000x -count 3 ./cluster/httpnode/
go test -run '^$' -bench 'RouterAdd' -benchmem -benchtime 200x ./cluster/
go test -run '^$' -bench 'Placement' -benchtime 1x ./cluster/
go test -run 'TestSearchAllocs' -v ./cluster/ | grep -E 'allocs per search|^(ok|FAIL)'
