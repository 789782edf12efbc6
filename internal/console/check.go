package console

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/trovedb/trove/internal/fsutil"
)

// CheckFile is the name of the file, in a store's directory, that holds
// the result of the last integrity check.
const CheckFile = "last-check.json"

// maxCheckBytes caps the check file read back, so that a damaged or
// foreign file cannot grow a response.
const maxCheckBytes = 1 << 20

// CheckResult is the outcome of one integrity check (troved check), kept
// in CheckFile and shown by the console's overview.
type CheckResult struct {
	At       time.Time `json:"at"`                 // when the check finished
	OK       bool      `json:"ok"`                 // no damage found
	Summary  string    `json:"summary"`            // what was checked, or the error
	Problems []string  `json:"problems,omitempty"` // one line per problem
}

// WriteCheckResult stores r as dir's last check result, atomically.
func WriteCheckResult(dir string, r CheckResult) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	if err := fsutil.WriteFileBytes(filepath.Join(dir, CheckFile), b, 0o644); err != nil {
		return fmt.Errorf("console: saving the check result: %w", err)
	}
	return nil
}

// ReadCheckResult reads dir's last check result; ok is false when no check
// has left one.
func ReadCheckResult(dir string) (r CheckResult, ok bool, err error) {
	f, err := os.Open(filepath.Join(dir, CheckFile))
	if errors.Is(err, fs.ErrNotExist) {
		return r, false, nil
	}
	if err != nil {
		return r, false, err
	}
	defer f.Close()
	b := make([]byte, maxCheckBytes+1)
	n, _ := io.ReadFull(f, b)
	if n > maxCheckBytes {
		return r, false, fmt.Errorf("console: %s is over %d bytes", CheckFile, maxCheckBytes)
	}
	if err := json.Unmarshal(b[:n], &r); err != nil {
		return r, false, fmt.Errorf("console: reading %s: %w", CheckFile, err)
	}
	return r, true, nil
}
