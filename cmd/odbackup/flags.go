package main

import (
	"bytes"
	"errors"
	"strings"
	"time"

	"github.com/spf13/pflag"
)

// errHelp is returned by a parse function for --help; helpError carries the
// text to print.
var errHelp = errors.New("help requested")

type helpError struct{ text string }

func (h *helpError) Error() string        { return "help requested" }
func (h *helpError) Is(target error) bool { return target == errHelp }

// newFlagSet makes a flag set that reports errors instead of exiting.
func newFlagSet(name string) *pflag.FlagSet {
	fs := pflag.NewFlagSet(name, pflag.ContinueOnError)
	fs.SortFlags = false
	fs.SetOutput(new(bytes.Buffer))
	return fs
}

// parseFlags parses args; a bad flag is a usage error naming the command,
// --help is a helpError with the command's usage.
func parseFlags(fs *pflag.FlagSet, usage string, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			return &helpError{text: usage + "\nFlags:\n" + fs.FlagUsages()}
		}
		return usagef("%s: %v (see odbackup %s --help)", fs.Name(), err, fs.Name())
	}
	return nil
}

// oneOf checks an enumerated flag value.
func oneOf(flag, value string, allowed ...string) error {
	for _, a := range allowed {
		if value == a {
			return nil
		}
	}
	return usagef("--%s must be one of %s, not %q", flag, strings.Join(allowed, ", "), value)
}

// checkDate checks a date flag (YYYY-MM-DD); "" means not given.
func checkDate(flag, value string) error {
	if value == "" {
		return nil
	}
	if _, err := time.Parse(time.DateOnly, value); err != nil {
		return usagef("--%s must be a date YYYY-MM-DD, not %q", flag, value)
	}
	return nil
}
