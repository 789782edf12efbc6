package postgres

import (
	"context"
	"strconv"

	"github.com/trovedb/trove"
)

// Position windows.
//
// A limited query in position order whose filter is a payload or search
// term can be read two ways. Through the term's GIN index: every candidate
// in the table is fetched and sorted — cheap for a rare value, costly for
// a common one, since all its rows are read however small the limit. Or
// along the log in position order, testing each row: the limit of a
// common value is reached after a few hundred rows, but a rare one makes
// it a scan of the table. PostgreSQL cannot choose between them: it keeps
// no statistics for jsonb containment, and a tsquery's estimate does not
// tell how far along the log its matches are.
//
// walk therefore reads the log first, in windows of positions (positions
// are dense: a window of n positions holds n rows at most), and estimates
// from what it found how common the filter is. It goes on while walking
// to the limit promises to read fewer rows than the index would fetch for
// the rest of the log (ginRowCost weighs the index's random reads and
// sort), and otherwise hands the rest of the log over to the index. The
// filter itself is the same either way, so results do not depend on the
// choice.
const (
	minWalkWindow = 256
	maxWalkWindow = 65536
	// firstWalkFactor sizes the first window: the rows wanted times this
	// (a filter matching one row in ten fills it).
	firstWalkFactor = 10
	// ginRowCost is what a candidate fetched through a GIN index costs,
	// in rows walked in position order: a heap page read at random and a
	// sort entry against a row of a page read in order (on 1M events,
	// 10,000 candidates took 11 times as long as walking 10,000 rows).
	ginRowCost = 8
)

// walk reads q's candidates along the log in position windows (desc: from
// head down; head is the snapshot's), handing each window's rows to keep, until have() reaches
// want, the log ends, or the index promises to be cheaper. done reports
// that the query is answered; else the rest of the log is the positions
// after last (desc: before last), for the keyset pages of the index.
func (s *Store) walk(ctx context.Context, tx querier, c *trove.CompiledQuery, cols string, desc bool, head int64, want int,
	have func() int, keep func([]scanned, [][]trove.EventLink) error) (last int64, done bool, err error) {
	w := whereClause(c, true)
	n := len(w.args)
	stmt := walkStatement(cols, w, desc)
	// The walked positions are (0, b], or (b, head] with desc.
	b := int64(0)
	if desc {
		b = head
	}
	remaining := func() int64 {
		if desc {
			return b
		}
		return head - b
	}
	var scanned, found int64
	window := min(max(int64(want)*firstWalkFactor, minWalkWindow), maxWalkWindow)
	for {
		window = min(window, remaining())
		if window <= 0 {
			return 0, true, nil
		}
		lo, hi := b, b+window
		if desc {
			lo, hi = b-window, b
		}
		page, _, err := s.readRows(ctx, tx, stmt, append(w.args[:n:n], lo, hi), false)
		if err != nil {
			return 0, false, err
		}
		if err := keep(page, nil); err != nil {
			return 0, false, err
		}
		scanned, found = scanned+window, found+int64(len(page))
		if desc {
			b = lo
		} else {
			b = hi
		}
		need := want - have()
		finished := need <= 0 || remaining() == 0
		var walkRows float64
		handOver := !finished && found == 0
		if !finished && !handOver {
			rate := float64(found) / float64(scanned)
			walkRows = float64(need) / rate
			handOver = walkRows > rate*float64(remaining())*ginRowCost
		}
		if s.walked != nil {
			s.walked(window, len(page), handOver)
		}
		switch {
		case finished:
			return 0, true, nil
		case handOver:
			if desc {
				return b + 1, false, nil
			}
			return b, false, nil
		}
		window = min(max(int64(walkRows*1.25)+minWalkWindow/4, minWalkWindow), maxWalkWindow)
	}
}

// walkStatement reads the candidates of w in one position window, its
// bounds the two parameters after w's: e.position > lo AND <= hi.
func walkStatement(cols string, w where, desc bool) string {
	n := len(w.args)
	stmt := `SELECT ` + cols + ` FROM events e WHERE e.position > $` + strconv.Itoa(n+1) + ` AND e.position <= $` + strconv.Itoa(n+2) +
		w.sql + ` ORDER BY e.position`
	if desc {
		stmt += ` DESC`
	}
	return stmt
}
