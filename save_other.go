//go:build !unix

package nearkit

// processGone cannot tell here, so no temporary file counts as stale;
// CleanTemp removes them.
func processGone(pid int) bool { return false }
