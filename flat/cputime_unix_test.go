//go:build unix

package flat

import (
	"syscall"
	"time"
)

// cpuTime returns the process's user+system CPU time. On a shared machine
// it measures work done, unlike wall time, which includes the time other
// processes held the cores.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
