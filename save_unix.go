//go:build unix

package nearkit

import (
	"errors"
	"syscall"
)

// processGone reports whether no process with this ID runs on this host
// (signal 0 probes without sending). A process of another user answers
// EPERM: it exists.
func processGone(pid int) bool {
	if pid <= 0 {
		return false
	}
	return errors.Is(syscall.Kill(pid, 0), syscall.ESRCH)
}
