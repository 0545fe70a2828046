//go:build !linux

package cmd_test

import "os"

// echoing cannot read the terminal's flags here: it reports no echo, and a
// test types as soon as the prompt shows.
func echoing(*os.File) bool { return false }
