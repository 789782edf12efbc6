package fulltext

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/blevesearch/bleve/v2/document"
	"github.com/blevesearch/bleve/v2/numeric"
	index "github.com/blevesearch/bleve_index_api"
	"github.com/trovedb/trove"
	"github.com/trovedb/trove/internal/jsonscan"
)

// The search index's documents are built here from the payload's JSON
// directly, without decoding it and without bleve's mapping:
//
//   - every string becomes tokens (exactly trove.Tokenize's) of a text
//     field named by its dotted path (array elements share their array's
//     field); text fields keep neither term vectors nor stored values nor
//     doc values: phrases are searched as conjunctions of their tokens and
//     verified;
//   - every number becomes a numeric field (float64, rounded, ±Inf past the
//     range, -0 as 0) with terms at a precision step of searchNumStep from
//     shift searchNumMin, which searchRange searches; every boolean a
//     boolean field (without frequencies, as text);
//   - searchPosField holds the document's position (searchPosShifts), which
//     searchPosRange searches.
//
// There is no "_all" field: a bare clause, which looks at every string of
// the payload, is searched in every field (anyFieldQuery). An "_all" field
// repeated every token of the document and took a fifth of the index's
// bytes. A payload key whose path would clash with bleve's own field (_id,
// or _all, which earlier mappings kept) is indexed under searchFieldName's
// name for it.

// searchTextOptions: indexed only (no term vectors, stored value or doc
// values), without frequencies (searches never score).
const searchTextOptions = index.IndexField | index.SkipFreqNorm

// searchFieldName is the bleve field of a dotted payload path: the path,
// except under a first key bleve keeps for itself.
func searchFieldName(path string) string {
	first, _, _ := strings.Cut(path, ".")
	if first == "_id" || first == "_all" {
		return "_trove" + path
	}
	return path
}

// searchText is a text field: the tokens of the strings at one path of a
// payload, tokenized when bleve analyzes the document.
type searchText struct {
	name  string
	vals  [][]byte // the strings, unescaped
	n     int      // tokens
	freqs index.TokenFrequencies
}

var _ document.Field = (*searchText)(nil)

func (f *searchText) Name() string                                     { return f.name }
func (f *searchText) ArrayPositions() []uint64                         { return nil }
func (f *searchText) Options() index.FieldIndexingOptions              { return searchTextOptions }
func (f *searchText) Value() []byte                                    { return nil }
func (f *searchText) EncodedFieldType() byte                           { return 't' }
func (f *searchText) AnalyzedLength() int                              { return f.n }
func (f *searchText) AnalyzedTokenFrequencies() index.TokenFrequencies { return f.freqs }

func (f *searchText) NumPlainTextBytes() uint64 {
	n := 0
	for _, v := range f.vals {
		n += len(v)
	}
	return uint64(n)
}

func (f *searchText) Size() int {
	n := 64 + len(f.name)
	for _, v := range f.vals {
		n += 24 + len(v)
	}
	return n + f.freqs.Size()
}

// Analyze computes the field's token set.
func (f *searchText) Analyze() {
	f.freqs = make(index.TokenFrequencies, 8)
	for _, v := range f.vals {
		f.n += eachToken(v, func(tok []byte) {
			if _, ok := f.freqs[string(tok)]; !ok {
				f.freqs[string(tok)] = &index.TokenFreq{Term: tok}
			}
		})
	}
}

// searchNumStep is the precision step of numeric fields: a number is
// indexed as its sortable 64 bits shifted right by searchNumMin,
// searchNumMin+8, …, 56 bits, each prefix-coded as bleve codes numbers, and
// searchRange covers a range with the coarsest of these terms that fit in
// it. (bleve's own numeric fields have a step of 4 from shift 0: more than
// twice the terms.)
const searchNumStep = 8

// searchNumMin is the finest shift indexed. The sortable bits of a float64
// are its sign, exponent and mantissa, so the terms at shift 24 tell apart
// numbers that differ by more than 2⁻²⁸ of their magnitude (every integer
// below 2²⁸, a millisecond timestamp to within 7 s): a search is rounded
// out to that grid and its candidates verified. The finer terms, nearly
// one distinct term per event for a sequence number or an amount, took
// most of the index's bytes (745 bytes an event at shift 0 against 403 at
// 24, harness-shaped events).
const searchNumMin = 24

// searchNumber is a numeric field: the numbers at one path of a payload
// (float64, as numeric.Float64ToInt64 orders them).
type searchNumber struct {
	name  string
	vals  []int64
	freqs index.TokenFrequencies
}

var _ document.Field = (*searchNumber)(nil)

func (f *searchNumber) Name() string                        { return f.name }
func (f *searchNumber) ArrayPositions() []uint64            { return nil }
func (f *searchNumber) Options() index.FieldIndexingOptions { return searchTextOptions }
func (f *searchNumber) Value() []byte                       { return nil }
func (f *searchNumber) EncodedFieldType() byte              { return 'n' }
func (f *searchNumber) NumPlainTextBytes() uint64           { return uint64(8 * len(f.vals)) }
func (f *searchNumber) Size() int                           { return 64 + len(f.name) + 8*len(f.vals) + f.freqs.Size() }
func (f *searchNumber) AnalyzedLength() int                 { return len(f.freqs) }
func (f *searchNumber) AnalyzedTokenFrequencies() index.TokenFrequencies {
	return f.freqs
}

// Analyze computes the field's terms.
func (f *searchNumber) Analyze() {
	const perVal = (64 - searchNumMin) / searchNumStep
	f.freqs = make(index.TokenFrequencies, perVal*len(f.vals))
	buf := make([]byte, 56*len(f.vals)) // the terms of a number take 53 bytes
	for _, v := range f.vals {
		for shift := uint(searchNumMin); shift < 64; shift += searchNumStep {
			var pc numeric.PrefixCoded
			pc, buf, _ = numeric.NewPrefixCodedInt64Prealloc(v, shift, buf)
			pc = pc[:len(pc):len(pc)]
			if _, ok := f.freqs[string(pc)]; !ok {
				f.freqs[string(pc)] = &index.TokenFreq{Term: pc}
			}
		}
	}
}

// searchPos is a document's position in searchPosField (see
// searchPosShifts).
type searchPos struct {
	pos   uint64
	freqs index.TokenFrequencies
}

var _ document.Field = (*searchPos)(nil)

func (f *searchPos) Name() string                        { return searchPosField }
func (f *searchPos) ArrayPositions() []uint64            { return nil }
func (f *searchPos) Options() index.FieldIndexingOptions { return searchTextOptions }
func (f *searchPos) Value() []byte                       { return nil }
func (f *searchPos) EncodedFieldType() byte              { return 'n' }
func (f *searchPos) NumPlainTextBytes() uint64           { return 8 }
func (f *searchPos) Size() int                           { return 64 + f.freqs.Size() }
func (f *searchPos) AnalyzedLength() int                 { return len(f.freqs) }
func (f *searchPos) AnalyzedTokenFrequencies() index.TokenFrequencies {
	return f.freqs
}

// Analyze computes the position's terms.
func (f *searchPos) Analyze() {
	f.freqs = make(index.TokenFrequencies, len(searchPosShifts))
	for _, shift := range searchPosShifts {
		t := searchPosTerm(f.pos, shift)
		f.freqs[string(t)] = &index.TokenFreq{Term: t}
	}
}

// eachToken calls fn with every token of s, in order, and returns their
// number: exactly trove.Tokenize(s). tok is valid only during the call
// unless s is already lowercase ASCII (then it aliases s).
func eachToken(s []byte, fn func(tok []byte)) int {
	ascii := true
	for _, c := range s {
		if c >= utf8.RuneSelf {
			ascii = false
			break
		}
	}
	if !ascii {
		// Lowercasing may change a rune's class or length ('İ' becomes
		// "i̇", whose combining dot splits the word): go through Tokenize.
		toks := trove.Tokenize(string(s))
		for _, t := range toks {
			fn([]byte(t))
		}
		return len(toks)
	}
	n := 0
	for i := 0; i < len(s); {
		for i < len(s) && !isAlnum(s[i]) {
			i++
		}
		j := i
		upper := false
		for j < len(s) && isAlnum(s[j]) {
			upper = upper || s[j] >= 'A' && s[j] <= 'Z'
			j++
		}
		if j > i {
			tok := s[i:j:j]
			if upper {
				tok = []byte(strings.ToLower(string(tok)))
			}
			fn(tok)
			n++
		}
		i = j
	}
	return n
}

func isAlnum(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

// searchDoc builds a position's bleve document from its payload's JSON.
type searchDoc struct {
	doc   *document.Document
	texts map[string]*searchText   // by path
	nums  map[string]*searchNumber // by path
	path  []byte
}

// buildSearchDoc returns the document of the payload at position pos.
func buildSearchDoc(pos uint64, payload []byte) (*document.Document, error) {
	d := searchDoc{
		doc:   document.NewDocument(strconv.FormatUint(pos, 10)),
		texts: make(map[string]*searchText, 8),
		nums:  make(map[string]*searchNumber, 8),
	}
	s := jsonscan.New(payload)
	err := d.value(&s, s.Next())
	if err == nil && s.Next() != jsonscan.End {
		err = errSearchJSON
	}
	if err != nil {
		return nil, fmt.Errorf("engine: position %d: %w", pos, err)
	}
	d.doc.AddField(&searchPos{pos: pos})
	for _, f := range d.nums {
		d.doc.AddField(f)
	}
	// Text fields in a stable order.
	names := make([]string, 0, len(d.texts))
	for k := range d.texts {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		d.doc.AddField(d.texts[k])
	}
	return d.doc, nil
}

var errSearchJSON = fmt.Errorf("%w: malformed JSON payload", errRecord)

// name is the field of the current path.
func (d *searchDoc) name() string { return searchFieldName(string(d.path)) }

// text returns the text field of the current path.
func (d *searchDoc) text() *searchText {
	f := d.texts[string(d.path)]
	if f == nil {
		// Keyed by path: a renamed field's path is its own.
		f = &searchText{name: d.name()}
		d.texts[string(d.path)] = f
	}
	return f
}

// number adds v to the numeric field of path.
func (d *searchDoc) number(path string, v float64) {
	f := d.nums[path]
	if f == nil {
		f = &searchNumber{name: searchFieldName(path)}
		d.nums[path] = f
	}
	f.vals = append(f.vals, numeric.Float64ToInt64(v))
}

// value indexes the value whose first token s has just read (k) under
// the current path (an array's elements share it), and leaves s at the
// value's last token.
func (d *searchDoc) value(s *jsonscan.Scanner, k jsonscan.Kind) error {
	switch k {
	case jsonscan.BeginObject:
		return d.object(s)
	case jsonscan.BeginArray:
		for k = s.Next(); k != jsonscan.EndArray; k = s.Next() {
			if err := d.value(s, k); err != nil {
				return err
			}
		}
	case jsonscan.String:
		if len(d.path) > 0 {
			f := d.text()
			f.vals = append(f.vals, jsonString(s))
		}
	case jsonscan.Number:
		if len(d.path) > 0 {
			d.number(string(d.path), searchFloat(string(s.Raw())))
		}
	case jsonscan.True, jsonscan.False:
		if len(d.path) > 0 {
			d.doc.AddField(document.NewBooleanFieldWithIndexingOptions(d.name(), nil, k == jsonscan.True, searchTextOptions))
		}
	case jsonscan.Null:
	default: // Invalid
		return errSearchJSON
	}
	return nil
}

// object indexes an object's members; s has just read its '{'.
func (d *searchDoc) object(s *jsonscan.Scanner) error {
	base := len(d.path)
	defer func() { d.path = d.path[:base] }()
	for k := s.Next(); k != jsonscan.EndObject; k = s.Next() {
		if k != jsonscan.Key {
			return errSearchJSON
		}
		d.path = d.path[:base]
		if base > 0 {
			d.path = append(d.path, '.')
		}
		d.path = append(d.path, jsonString(s)...)
		if err := d.value(s, s.Next()); err != nil {
			return err
		}
	}
	return nil
}

// jsonString returns the text of the string s is at: its raw bytes,
// aliasing the payload, when it has no escapes.
func jsonString(s *jsonscan.Scanner) []byte {
	if s.Escaped() {
		return s.AppendText(nil)
	}
	return s.RawText()
}
