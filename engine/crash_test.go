package engine

import (
	"context"
	"fmt"
	"testing"

	"github.com/trovedb/trove"
	"github.com/trovedb/trove/storagetest/crashtest"
)

// crashOptions seal often, so kills land in seals and snapshots too.
func crashOptions() Options {
	return Options{SegmentSize: 32 << 10, BlockSize: 4 << 10}
}

// TestCrash is the SIGKILL crash test (crashtest): concurrent writers of
// events, batches, links and files killed at random moments; after every
// kill each acknowledged write is there, batches are whole, positions
// dense, and Check finds no problem.
func TestCrash(t *testing.T) {
	crashtest.Run(t, crashtest.Backend{
		Open: func(t testing.TB, dir string) trove.Plugin { return NewPlugin(dir, crashOptions()) },
		Check: func(ctx context.Context, dir string, p trove.Plugin) error {
			st, err := p.(*Plugin).Store()
			if err != nil {
				return err
			}
			rep, err := st.Check(ctx)
			if err != nil {
				return fmt.Errorf("check: %w (problems: %v)", err, rep.Problems)
			}
			return nil
		},
	})
}
