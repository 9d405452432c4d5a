//go:build !linux

package writetree

import (
	"errors"
	"os"
	"syscall"
)

// swap replaces dir with next where no atomic exchange is available: dir
// is missing for the moment between two renames.
func swap(next, dir string) error { return swapByRenames(next, dir) }

// processRunning tells whether a process with this id exists; where that
// cannot be asked, every process counts as running and its temporary
// folder stays.
func processRunning(pid int) bool {
	p, err := os.FindProcess(pid)
	if err != nil {
		return false
	}
	return !errors.Is(p.Signal(syscall.Signal(0)), os.ErrProcessDone)
}
