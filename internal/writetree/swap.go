package writetree

import "os"

// swapByRenames is the fallback of swap: dir moves aside to a name of its
// own, next takes its place, and the old tree ends up at next, as after an
// exchange. Between the two renames dir does not exist; if the second
// fails, dir is put back.
func swapByRenames(next, dir string) error {
	aside := next + ".old"
	if err := os.Rename(dir, aside); err != nil {
		return err
	}
	if err := os.Rename(next, dir); err != nil {
		os.Rename(aside, dir)
		return err
	}
	return os.Rename(aside, next)
}
