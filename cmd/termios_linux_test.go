package cmd_test

import (
	"os"

	"golang.org/x/sys/unix"
)

// echoing reports whether the terminal tty echoes what is typed.
func echoing(tty *os.File) bool {
	t, err := unix.IoctlGetTermios(int(tty.Fd()), unix.TCGETS)
	return err != nil || t.Lflag&unix.ECHO != 0
}
