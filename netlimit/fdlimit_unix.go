//go:build unix

package netlimit

import (
	"math"
	"syscall"
)

// FDLimit returns the process's current (soft) limit on open files.
func FDLimit() (int, error) {
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
		return 0, err
	}
	return int(min(rl.Cur, math.MaxInt32)), nil
}
