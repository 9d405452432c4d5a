package plan

import (
	"fmt"

	"github.com/odbackup/odbackup/schema"
)

// Kept is how much of a store's past one step keeps, in its method's terms.
// The plan decides it once; the scripts and the coverage report both read
// it, so what the report promises is what the jobs do.
type Kept struct {
	// GFS is restic's forget --keep-daily/--keep-weekly/--keep-monthly,
	// for every method that stores into restic.
	GFS *schema.Retention `json:"gfs,omitempty"`
	// Snapshots is how many VolumeSnapshots of the volume the snapshot job
	// keeps (the newest ones).
	Snapshots int `json:"snapshots,omitempty"`
	// ArchiveDays is how long a bucket mirror keeps the objects a sync
	// replaced or deleted; the mirror itself always holds the latest state.
	ArchiveDays int `json:"archiveDays,omitempty"`
}

// ArchiveDays is how long a bucket mirror keeps replaced and deleted
// objects: as long as the oldest restic snapshot GFS would keep.
func ArchiveDays(r schema.Retention) int {
	switch {
	case r.Monthly > 0:
		return r.Monthly * 31
	case r.Weekly > 0:
		return r.Weekly * 7
	default:
		return r.Daily
	}
}

func (k Kept) String() string {
	switch {
	case k.GFS != nil:
		return fmt.Sprintf("%d daily, %d weekly, %d monthly", k.GFS.Daily, k.GFS.Weekly, k.GFS.Monthly)
	case k.Snapshots > 0:
		return fmt.Sprintf("newest %d snapshots", k.Snapshots)
	case k.ArchiveDays > 0:
		return fmt.Sprintf("mirror + %d days of old versions", k.ArchiveDays)
	}
	return "nothing"
}

// CompareKept says whether b keeps more than a (+1), less (-1), the same
// (0), or more of one kind and less of another (mixed). Retentions of
// different methods are not comparable and count as mixed.
func CompareKept(a, b Kept) (cmp int, mixed bool) {
	var pairs [][2]int
	switch {
	case a.GFS != nil && b.GFS != nil:
		pairs = [][2]int{{a.GFS.Daily, b.GFS.Daily}, {a.GFS.Weekly, b.GFS.Weekly}, {a.GFS.Monthly, b.GFS.Monthly}}
	case a.GFS == nil && b.GFS == nil:
		pairs = [][2]int{{a.Snapshots, b.Snapshots}, {a.ArchiveDays, b.ArchiveDays}}
	default:
		return 0, true
	}
	more, less := false, false
	for _, p := range pairs {
		more = more || p[1] > p[0]
		less = less || p[1] < p[0]
	}
	switch {
	case more && less:
		return 0, true
	case more:
		return 1, false
	case less:
		return -1, false
	}
	return 0, false
}
