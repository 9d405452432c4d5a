package writetree

import (
	"errors"
	"os"

	"golang.org/x/sys/unix"
)

// swap exchanges the folders next and dir in one step with renameat2's
// RENAME_EXCHANGE (Linux 3.15), so dir always exists, holding either the
// old or the new tree; afterwards next holds the old tree. File systems
// without the flag (some network and FUSE ones) get the fallback.
func swap(next, dir string) error {
	err := unix.Renameat2(unix.AT_FDCWD, next, unix.AT_FDCWD, dir, unix.RENAME_EXCHANGE)
	if errors.Is(err, unix.EINVAL) || errors.Is(err, unix.ENOSYS) || errors.Is(err, unix.EOPNOTSUPP) {
		return swapByRenames(next, dir)
	}
	if err != nil {
		return &os.LinkError{Op: "exchange", Old: next, New: dir, Err: err}
	}
	return nil
}

// processRunning tells whether a process with this id exists (signal 0
// checks without sending anything; EPERM means it exists under another
// user).
func processRunning(pid int) bool {
	err := unix.Kill(pid, 0)
	return err == nil || errors.Is(err, unix.EPERM)
}
