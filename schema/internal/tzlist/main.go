// Command tzlist writes the names of the IANA time zones in the zip file
// it is given (Go's own database, $GOROOT/lib/time/zoneinfo.zip, the data
// time/tzdata embeds) to standard output, one per line, sorted. `go generate ./schema/` runs it to
// refresh schema/timezones.txt, the list vet suggests zone names from.
package main

import (
	"archive/zip"
	"fmt"
	"os"
	"slices"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: tzlist ZONEINFO.zip")
		os.Exit(2)
	}
	r, err := zip.OpenReader(os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, "tzlist:", err)
		os.Exit(1)
	}
	defer r.Close()
	var names []string
	for _, f := range r.File {
		if !f.FileInfo().IsDir() {
			names = append(names, f.Name)
		}
	}
	slices.Sort(names)
	for _, n := range names {
		fmt.Println(n)
	}
}
