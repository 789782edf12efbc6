package engine

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/trovedb/trove"
	"github.com/trovedb/trove/blob/local"
	"github.com/trovedb/trove/index"
	"github.com/trovedb/trove/segment"
)

// Report is what Check found.
type Report struct {
	Segments   int    // sealed segment files checked
	Blocks     int    // their blocks
	Records    int    // records in segments and the WAL
	Events     uint64 // events found
	WALEntries int    // WAL entries checked
	Files      int    // file ids checked (Check only: files/, see local.Check)
	// SegIndexes counts the segment indexes (segments/*.idx) found equal
	// to the index rebuilt from their segment. A segment without one is
	// not damage: the next writable Open builds it.
	SegIndexes int
	// IDRuns counts the id runs (segments/ids-*.run) found equal to the
	// merge of the segment indexes they cover.
	IDRuns int
	// KeyRuns counts the key runs (segments/keys-*.run) found equal to the
	// run built from the segment indexes they cover.
	KeyRuns int
	// TornTail describes the WAL's torn tail, bytes of a write that was
	// never acknowledged, which the next Open truncates ("" when none). It
	// is not a problem.
	TornTail string
	Problems []string // one line per problem; empty when all is well
	// Repairable lists damage that loses nothing and that the next
	// writable Open repairs by itself: an index snapshot (index.snap) that
	// cannot be read or decoded is rebuilt from the log. Check still
	// reports it as damage (its error wraps ErrCorrupt). So is a damaged
	// segment index (segments/*.idx), rebuilt from its segment.
	Repairable []string
}

// Check verifies the store in dir (see Store.Check) without changing
// anything on disk: the WAL is verified in a private copy, a torn tail is
// reported in Report.TornTail but not truncated, and no snapshot is
// written. Damage that Open would refuse (such as a damaged WAL entry that
// the index snapshot proves was acknowledged) is returned as a problem.
// Check takes the directory's lock shared: while a store has dir open for
// writing (a running daemon) it fails at once with an error wrapping
// trove.ErrLocked, and no writer can open dir while it runs.
//
// The files in files/ are checked too (local.Check: every record of the
// packs of small files and every file's bytes against its size and
// SHA-256); their problems join the report's, and a torn tail of the last
// pack, which the next Open truncates, is noted in TornTail.
func Check(ctx context.Context, dir string) (Report, error) {
	st, err := openReadOnly(ctx, dir, Options{})
	if err != nil {
		if errors.Is(err, trove.ErrCorrupt) {
			return Report{Problems: []string{err.Error()}}, fmt.Errorf("engine: check found 1 problem: %w", err)
		}
		return Report{}, err
	}
	defer st.Close() // holds dir's lock (shared) while files/ is checked
	rep, err := st.Check(ctx)
	if err != nil && !errors.Is(err, trove.ErrCorrupt) {
		return rep, err
	}
	frep, ferr := local.Check(ctx, filepath.Join(dir, "files"))
	rep.Files = frep.Keys
	if frep.TornTail != "" {
		rep.TornTail = strings.TrimPrefix(rep.TornTail+"; files: "+frep.TornTail, "; ")
	}
	rep.Problems = append(rep.Problems, frep.Problems...)
	switch {
	case ferr != nil && !errors.Is(ferr, trove.ErrCorrupt):
		return rep, fmt.Errorf("engine: check files: %w", ferr)
	case err == nil && ferr != nil:
		err = fmt.Errorf("engine: check found %d problems: %w", len(rep.Problems), ferr)
	}
	if cerr := st.Close(); err == nil && cerr != nil {
		err = cerr
	}
	return rep, err
}

// Check verifies every sealed block's CRC and header, every WAL entry's
// frame, that event positions are dense and increasing, and that the index
// agrees with the log: each event's id, version, schema, producer and
// createdAt. It returns an error wrapping ErrCorrupt when anything is
// wrong (the first problem as a *trove.CorruptionError); the report lists
// all of them.
func (s *Store) Check(ctx context.Context) (Report, error) {
	if err := s.enter("check", false); err != nil {
		return Report{}, err
	}
	defer s.leave(false)
	for attempt := 0; ; attempt++ {
		v := s.view.Load()
		rep, err := s.checkView(ctx, v)
		// A seal that completed during the check truncated WAL entries the
		// check's view still expected there: check again with the new view.
		if err == nil || attempt == 3 || len(s.view.Load().segs) == len(v.segs) {
			return rep, err
		}
	}
}

// checkView checks the log as view v sees it.
func (s *Store) checkView(ctx context.Context, v *view) (Report, error) {
	var rep Report
	if s.readOnly {
		rep.TornTail = s.w.tornTail
		if s.w.snapDamage != nil {
			rep.Repairable = append(rep.Repairable, fmt.Sprintf("%v (the next open rebuilds the index from the log)", s.w.snapDamage))
		}
		for _, d := range s.w.segIdxDamage {
			rep.Repairable = append(rep.Repairable, fmt.Sprintf("%v (the next open rebuilds it from its segment)", d))
		}
	}
	var first error
	problem := func(err error) {
		rep.Problems = append(rep.Problems, err.Error())
		if first == nil {
			first = err
		}
	}
	var cols index.Columns
	s.ix.Read(func(r index.Reader) { cols = r.Columns().Upto(uint32(v.last)) })
	var expect uint64 = 1
	checkRec := func(file string, r *segment.Record) {
		rep.Records++
		if r.Type != recEvent {
			return
		}
		rep.Events++
		if r.Position != expect {
			problem(&trove.CorruptionError{File: file, Offset: -1, Reason: fmt.Sprintf("engine: position %d where %d was expected", r.Position, expect)})
		}
		expect = r.Position + 1
		if r.Position > v.last {
			return // committed after the view was taken
		}
		e, err := decodeEvent(r, v.schemas)
		if err != nil {
			problem(&trove.CorruptionError{File: file, Offset: -1, Reason: fmt.Sprintf("engine: position %d: %v", r.Position, err)})
			return
		}
		if r.Position > uint64(cols.Last) {
			return
		}
		// The id table is checked by finding this very position by the
		// event's id and version.
		p := uint32(r.Position)
		found, inIndex := s.ix.LookupAt(e.ID.ID, e.ID.Version, uint32(v.last))
		ok := inIndex && found == p && cols.Version(p) == e.ID.Version &&
			cols.Schemas[cols.SchemaNum(p)] == e.Schema.Identity() && cols.Producers[cols.ProducerNum(p)] == e.Producer &&
			cols.Created(p) == e.CreatedAt.UnixMilli()
		if !ok {
			problem(&trove.CorruptionError{File: s.snapPath(), Offset: -1, Reason: fmt.Sprintf("engine: index disagrees with the log at position %d (%s)", r.Position, e.ID)})
		}
	}
	for _, sg := range v.segs {
		if err := ctx.Err(); err != nil {
			return rep, err
		}
		rep.Segments++
		rep.Blocks += sg.seg.NumBlocks()
		if err := sg.seg.Check(); err != nil {
			problem(err)
			continue
		}
		sb := newSegIndexBuilder(sg.meta.FirstPosition, sg.meta.LastPosition, v.schemas, cols.Prev)
		var buildErr error
		err := sg.seg.Scan(func(r segment.Record) error {
			checkRec(sg.path, &r)
			if buildErr == nil && r.Position <= uint64(cols.Last) {
				buildErr = sb.add(&r)
			}
			return nil
		})
		if err != nil {
			problem(err)
			continue
		}
		if buildErr == nil && sg.meta.LastPosition <= uint64(cols.Last) {
			s.checkSegIndex(sg, sb, &rep, problem)
		}
	}
	s.checkIDRuns(v, &rep, problem)
	s.checkKeyRuns(v, &rep, problem)
	if n := len(v.segs); n > 0 {
		expect = v.segs[n-1].meta.LastPosition + 1
	}
	firstW, lastW := s.wal.FirstIndex(), s.wal.LastIndex()
	for i := firstW; firstW != 0 && i <= lastW; i++ {
		recs, err := s.wal.Read(i)
		if err != nil {
			if errors.Is(err, trove.ErrNotFound) {
				continue // truncated by a concurrent seal
			}
			problem(err)
			continue
		}
		rep.WALEntries++
		for j := range recs {
			if recs[j].Type == recEvent && recs[j].Position < expect {
				continue // already sealed (a seal raced with the check)
			}
			checkRec(s.walDir(), &recs[j])
		}
	}
	if uint64(cols.Last) > rep.Events {
		problem(&trove.CorruptionError{File: s.snapPath(), Offset: -1, Reason: fmt.Sprintf("engine: index holds %d events, the log %d", cols.Last, rep.Events)})
	}
	if first != nil {
		return rep, fmt.Errorf("engine: check found %d problems: %w", len(rep.Problems), first)
	}
	if d := s.w.snapDamage; d != nil && s.readOnly {
		if !errors.Is(d, trove.ErrCorrupt) {
			d = &trove.CorruptionError{File: s.snapPath(), Offset: -1, Reason: d.Error()}
		}
		return rep, fmt.Errorf("engine: check found damage that the next open repairs: %w", d)
	}
	if s.readOnly && len(s.w.segIdxDamage) > 0 { // a writable store's writer appends to it
		d := s.w.segIdxDamage[0]
		if !errors.Is(d, trove.ErrCorrupt) {
			d = &trove.CorruptionError{File: s.segDir(), Offset: -1, Reason: d.Error()}
		}
		return rep, fmt.Errorf("engine: check found damage that the next open repairs: %w", d)
	}
	if len(s.w.idRunDamage) > 0 && s.readOnly {
		return rep, fmt.Errorf("engine: check found damage that the next open repairs: %w", s.w.idRunDamage[0])
	}
	if len(s.w.keyRunDamage) > 0 && s.readOnly {
		return rep, fmt.Errorf("engine: check found damage that the next open repairs: %w", s.w.keyRunDamage[0])
	}
	return rep, nil
}

// checkSegIndex compares the segment index file of sg with the one sb
// built from the segment's records. A missing file is no damage (Open
// builds it); an undecodable one is repairable (Open rebuilds it; a
// read-only store listed it when it opened); one that decodes but
// disagrees with its segment is a problem.
func (s *Store) checkSegIndex(sg *sealed, sb *segIndexBuilder, rep *Report, problem func(error)) {
	path := segIndexPath(sg.path)
	built, err := sb.bytes()
	if err != nil {
		problem(&trove.CorruptionError{File: sg.path, Offset: -1, Reason: fmt.Sprintf("engine: cannot index the segment: %v", err)})
		return
	}
	file, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return // not written yet (a store from before segment indexes, a crash): Open builds it
	}
	if err != nil {
		problem(fmt.Errorf("engine: check: %w", err))
		return
	}
	if bytes.Equal(file, built) {
		rep.SegIndexes++
		return
	}
	ix, err := index.DecodeSegIndex(path, file)
	if err == nil {
		err = segIndexFits(sg, ix)
	}
	if err != nil {
		if !s.readOnly {
			rep.Repairable = append(rep.Repairable, fmt.Sprintf("%v (the next open rebuilds it from its segment)", err))
		}
		return
	}
	if v := ix.Format(); v != index.SegIndexVersion {
		// Written by an earlier version: compare it with that version's
		// encoding of the same events.
		var old bytes.Buffer
		if err := sb.b.EncodeVersion(&old, v); err == nil && bytes.Equal(file, old.Bytes()) {
			rep.SegIndexes++
			return
		}
	}
	problem(&trove.CorruptionError{File: path, Offset: -1, Reason: "engine: the segment index disagrees with its segment"})
}
