package local

import (
	"crypto/rand"
	"encoding/hex"
)

// randomName returns 16 random hex digits for a staged file's name.
func randomName() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
