package local

import (
	"os"

	"golang.org/x/sys/unix"
)

// fdatasync makes f's written bytes (and its size) durable.
func fdatasync(f *os.File) error {
	for {
		err := unix.Fdatasync(int(f.Fd()))
		if err != unix.EINTR {
			return err
		}
	}
}
