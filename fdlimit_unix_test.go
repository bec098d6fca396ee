//go:build unix

package ws

import "syscall"

// fdLimit is the soft RLIMIT_NOFILE, 0 if unknown.
func fdLimit() int {
	var lim syscall.Rlimit
	if syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim) != nil {
		return 0
	}
	return int(lim.Cur)
}
