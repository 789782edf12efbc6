package trove

import (
	"bytes"
	"container/list"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"golang.org/x/text/language"
	"golang.org/x/text/message"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/santhosh-tekuri/jsonschema/v6/kind"
)

// DefaultSchemaCacheBytes is the memory the compiled-schema cache may hold
// when Config.SchemaCacheBytes is zero: 64 MiB.
const DefaultSchemaCacheBytes = 64 << 20

// schemaCostFactor estimates the heap a compiled schema takes per byte of
// its document (measured at about 34× for an object schema of 200
// properties; TestSchemaCostEstimate keeps the estimate above what it
// measures), and schemaCostBase what any compiled schema takes.
const (
	schemaCostFactor = 48
	schemaCostBase   = 4 << 10
)

// Limits of what schema validation reads exactly. The JSON Schema library
// compares numbers through big.Rat, whose cost grows with the exponent and
// faster than linearly with the digits; so schema documents hold no number
// beyond them, and payload numbers past them are handled as described at
// validationInstance.
const (
	// validateExpLimit bounds the decimal exponent of numbers the
	// validator sees as written: |exponent| ≤ 400.
	validateExpLimit = 400
	// validateDigitLimit bounds the significant digits of any number
	// schema validation looks at.
	validateDigitLimit = 10000
)

// validators compiles JSON Schemas and caches them by content, so any number
// of events may share a "$id" and each distinct document is compiled once.
// Documents without "$schema" are read as draft 2020-12; draft-07 (and the
// other drafts) are used when "$schema" names them.
//
// References ($ref, $dynamicRef, $schema) resolve only inside the
// document, to the standard metaschemas the library ships, and to schemas
// of the core's registry (resolve); anything else — files, URLs — is
// refused with an error naming the reference, and nothing is ever read
// from a file or the network. No lock is held while a schema compiles or
// a payload validates.
//
// The cache holds at most capBytes of estimated compiled size, least
// recently used first out. A document is cached once a payload has passed
// it (or it was registered), so schemas of refused events never pin
// memory.
type validators struct {
	capBytes int64                           // ≤ 0: nothing is cached
	resolve  func(url string) ([]byte, bool) // a registered schema's document by URL
	gen      func() uint64                   // the registry's generation
	// run checks an instance against a compiled schema; nil: the
	// schema's own Validate (tests put a failing one in its place).
	run func(s *jsonschema.Schema, inst any) error
	mu  struct {
		sync.Mutex
		entries map[string]*list.Element // of *compiled, by document; guarded by mu
		lru     list.List                // most recently used first
		bytes   int64                    // sum of cost of entries
	}
}

// compiled is one compiled schema document.
type compiled struct {
	// key is the document itself: the cache finds a document by its
	// bytes, hashed by the map and compared in full, so that no digest
	// is computed per event.
	key    string
	schema *jsonschema.Schema
	cost   int64
	// numLen is the longest number in the document, in bytes.
	numLen int
	// members: the only members of a payload the document looks at
	// (nil: any; see rootMembers).
	members map[string]bool
	// registry: the document refers to registered schemas, as of gen.
	registry bool
	gen      uint64
}

// cacheBytes reports the estimated bytes the cache holds and its entries.
func (v *validators) cacheBytes() (int64, int) {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.mu.bytes, v.mu.lru.Len()
}

func (v *validators) lookup(doc []byte) *compiled {
	v.mu.Lock()
	defer v.mu.Unlock()
	el, ok := v.mu.entries[string(doc)] // no copy of doc is made
	if !ok {
		return nil
	}
	c := el.Value.(*compiled)
	if c.registry && v.gen != nil && c.gen != v.gen() {
		v.removeLocked(el)
		return nil
	}
	v.mu.lru.MoveToFront(el)
	return c
}

func (v *validators) removeLocked(el *list.Element) {
	c := v.mu.lru.Remove(el).(*compiled)
	delete(v.mu.entries, c.key)
	v.mu.bytes -= c.cost
}

// keep caches c, evicting the least recently used entries beyond the cap.
// A document larger than the whole cap is not kept.
func (v *validators) keep(c *compiled) {
	if c.cost > v.capBytes {
		return
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.mu.entries == nil {
		v.mu.entries = map[string]*list.Element{}
	}
	if el, ok := v.mu.entries[c.key]; ok {
		v.removeLocked(el)
	}
	v.mu.entries[c.key] = v.mu.lru.PushFront(c)
	v.mu.bytes += c.cost
	for v.mu.bytes > v.capBytes {
		v.removeLocked(v.mu.lru.Back())
	}
}

// compile returns doc compiled, from the cache or compiled now; cache
// says whether to keep a new compilation.
func (v *validators) compile(doc []byte, cache bool) (*compiled, error) {
	if c := v.lookup(doc); c != nil {
		return c, nil
	}
	c, err := v.compileNew(doc)
	if err != nil {
		return nil, err
	}
	if cache {
		v.keep(c)
	}
	return c, nil
}

func (v *validators) compileNew(doc []byte) (c *compiled, err error) {
	numLen, err := checkSchemaNumbers(doc)
	if err != nil {
		return nil, err
	}
	parsed, err := jsonschema.UnmarshalJSON(bytes.NewReader(doc))
	if err != nil {
		return nil, invalidf("schema: %v", err)
	}
	ld := &refLoader{resolve: v.resolve}
	var gen uint64
	if v.gen != nil {
		gen = v.gen()
	}
	defer func() {
		if r := recover(); r != nil {
			c, err = nil, invalidf("schema: the validator cannot compile this document (%v)", r)
		}
	}()
	// Each document gets its own compiler: two documents may share an $id.
	comp := jsonschema.NewCompiler()
	comp.DefaultDraft(jsonschema.Draft2020)
	comp.UseLoader(ld)
	sum := sha256.Sum256(doc)
	url := "mem://trove/" + hex.EncodeToString(sum[:8]) + ".json"
	if err := comp.AddResource(url, parsed); err != nil {
		return nil, compileError(err)
	}
	s, err := comp.Compile(url)
	if err != nil {
		if ld.refused != "" {
			return nil, invalidf("schema: reference %q is not resolved: a reference may point inside the document, to a registered schema or to a standard metaschema, never to a file or a URL", strings.TrimPrefix(ld.refused, strings.TrimSuffix(registryBase, "/")))
		}
		return nil, compileError(err)
	}
	return &compiled{
		key: string(doc), schema: s, numLen: numLen, members: rootMembers(parsed),
		cost:     schemaCostBase + schemaCostFactor*int64(len(doc)),
		registry: ld.used, gen: gen,
	}, nil
}

// rootMembers returns the members of a payload object that the schema
// document doc (as parsed) can look at, when its root holds only keywords
// that look at named members or at the payload's type: "properties" (the
// values of the members it names), "required" (whether the named members
// are present) and "type"; the others it may hold look at nothing
// ("$defs" and "definitions" only apply where a reference inside a member's
// schema points, to a value inside that member). It returns nil, meaning
// any member may be looked at, for every other document.
func rootMembers(doc any) map[string]bool {
	m, ok := doc.(map[string]any)
	if !ok {
		return nil
	}
	members := map[string]bool{}
	for k, v := range m {
		switch k {
		case "$schema", "$id", "$comment", "title", "description", "examples", "default",
			"deprecated", "readOnly", "writeOnly", "$defs", "definitions", "type":
		case "properties":
			props, ok := v.(map[string]any)
			if !ok {
				return nil
			}
			for name := range props {
				members[name] = true
			}
		case "required":
			names, ok := v.([]any)
			if !ok {
				return nil
			}
			for _, n := range names {
				name, ok := n.(string)
				if !ok {
					return nil
				}
				members[name] = true
			}
		default:
			return nil
		}
	}
	return members
}

// registryBase is the base URL of a document without an absolute "$id":
// its relative references ("$ref": "address") resolve to registryBase +
// the reference, which names a registered schema's id.
const registryBase = "mem://trove/"

// refLoader is the only loader schema compilation has: it hands out
// registered schemas and refuses everything else without touching a file
// or the network. (The standard metaschemas are served from the library's
// embedded copies before any loader is asked.)
type refLoader struct {
	resolve func(url string) ([]byte, bool)
	used    bool   // a registered schema was loaded
	refused string // the first reference refused
}

func (l *refLoader) Load(url string) (any, error) {
	if l.resolve != nil {
		if doc, ok := l.resolve(url); ok {
			l.used = true
			return jsonschema.UnmarshalJSON(bytes.NewReader(doc))
		}
	}
	if l.refused == "" {
		l.refused = url
	}
	return nil, fmt.Errorf("reference %q: not in the document, the registry or the standard metaschemas", url)
}

// checkSchemaNumbers refuses a schema document holding a number the
// validator cannot compare exactly and cheaply (see validateExpLimit), and
// returns the length of its longest number.
func checkSchemaNumbers(doc []byte) (int, error) {
	longest := 0
	var bad string
	eachNumber(doc, func(num []byte) bool {
		longest = max(longest, len(num))
		d, ok := parseDecimal(string(num))
		if ok && d.n > 0 && (d.bigExp != "" || d.exp > validateExpLimit || d.exp < -validateExpLimit || d.n > validateDigitLimit) {
			bad = string(num)
			return false
		}
		return true
	})
	if bad != "" {
		if len(bad) > 40 {
			bad = bad[:40] + "…"
		}
		return 0, invalidf("schema: number %s is out of the range schemas may hold (at most %d significant digits, exponent within ±%d)", bad, validateDigitLimit, validateExpLimit)
	}
	return longest, nil
}

// eachNumber calls fn with the text of every number in the JSON document
// doc (outside strings), until fn returns false.
func eachNumber(doc []byte, fn func(num []byte) bool) {
	for i := 0; i < len(doc); {
		switch c := doc[i]; {
		case c == '"':
			i++
			for i < len(doc) && doc[i] != '"' {
				if doc[i] == '\\' {
					i++
				}
				i++
			}
			i++
		case c == '-' || c >= '0' && c <= '9':
			start := i
			for i < len(doc) && (isDigit(doc[i]) || strings.IndexByte("+-.eE", doc[i]) >= 0) {
				i++
			}
			if !fn(doc[start:i]) {
				return
			}
		default:
			i++
		}
	}
}

// validate checks payload against the schema document doc, whose identity is
// id. A failing payload returns a *ValidationError listing every failing
// location.
func (v *validators) validate(id string, doc, payload []byte) error {
	c := v.lookup(doc)
	fresh := c == nil
	if fresh {
		var err error
		if c, err = v.compileNew(doc); err != nil {
			return err
		}
	}
	err := v.check(id, c, payload)
	if err == nil && fresh {
		v.keep(c) // only documents that passed a payload are kept
	}
	return err
}

// check validates payload, which compactObject accepted, against c.
func (v *validators) check(id string, c *compiled, payload []byte) error {
	inst, short, ok := decodeInstanceMembers(payload, c.members)
	if ok && !short && c.members != nil {
		// Far numbers are respelled (or refused) in the whole payload.
		inst, short, ok = decodeInstanceNumbers(payload)
	}
	if !ok {
		var err error
		if inst, err = jsonschema.UnmarshalJSON(bytes.NewReader(payload)); err != nil {
			return invalidf("payload: %v", err)
		}
	}
	if !short { // short numbers leave the instance as it is
		var err error
		if inst, err = validationInstance(inst, c.numLen); err != nil {
			return err
		}
	}
	err := v.safeValidate(c.schema, inst)
	if err == nil {
		return nil
	}
	var ve *jsonschema.ValidationError
	if !errors.As(err, &ve) {
		return err
	}
	return &ValidationError{Schema: id, Causes: leafCauses(ve, payload)}
}

// leafCauses lists the failures of ve, each once, by instance path: every
// keyword that failed, a combinator ("'anyOf' failed") before the failures
// of its branches. A reference ("$ref", "$dynamicRef") or a group of
// keywords tells nothing of itself ("validation failed"): only what failed
// inside it is listed. (The library's flat BasicOutput shows the failure
// under a reference as the reference's "validation failed" and drops what
// lies under it, so a payload failing a referenced schema did not say why.)
// payload is the document validated, whose numbers some messages show as
// written (numberMessage).
func leafCauses(ve *jsonschema.ValidationError, payload []byte) []ValidationCause {
	var out []ValidationCause
	seen := map[ValidationCause]bool{}
	root := payloadRoot(payload)
	var walk func(e *jsonschema.ValidationError)
	walk = func(e *jsonschema.ValidationError) {
		switch e.ErrorKind.(type) {
		case *kind.Reference, *kind.Group, *kind.Schema:
		default:
			path := instancePointer(e.InstanceLocation)
			msg, ok := numberMessage(e.ErrorKind, path, root)
			if !ok {
				// The name a document is compiled under is no name of the
				// client's: "mem://trove/….json#/$defs/a" is "#/$defs/a".
				msg = internalDoc.ReplaceAllString(e.ErrorKind.LocalizedString(englishPrinter), "")
			}
			c := ValidationCause{Path: path, Message: msg}
			if !seen[c] {
				seen[c] = true
				out = append(out, c)
			}
		}
		for _, cause := range e.Causes {
			walk(cause)
		}
	}
	walk(ve)
	if len(out) == 0 {
		out = append(out, ValidationCause{Message: ve.Error()})
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out
}

// internalDoc matches the name a document is compiled under, before its
// fragment.
var internalDoc = regexp.MustCompile(`mem://trove/[0-9a-f]+\.json`)

// englishPrinter words the library's messages.
var englishPrinter = message.NewPrinter(language.English)

// instancePointer is the JSON pointer of an instance location.
func instancePointer(tokens []string) string {
	var b strings.Builder
	for _, tok := range tokens {
		b.WriteByte('/')
		b.WriteString(strings.ReplaceAll(strings.ReplaceAll(tok, "~", "~0"), "/", "~1"))
	}
	return b.String()
}

// compileError tells why a schema document does not compile in the
// words of JSON Schema: where the document breaks the metaschema, or the
// library's reason with its internal document name taken out.
func compileError(err error) error {
	var sve *jsonschema.SchemaValidationError
	var ve *jsonschema.ValidationError
	if errors.As(err, &sve) && errors.As(sve.Err, &ve) {
		var parts []string
		seen := map[string]bool{}
		p := message.NewPrinter(language.English)
		var walk func(e *jsonschema.ValidationError)
		walk = func(e *jsonschema.ValidationError) {
			if len(e.Causes) == 0 {
				part := "/" + strings.Join(e.InstanceLocation, "/") + ": " + e.ErrorKind.LocalizedString(p)
				if !seen[part] {
					seen[part] = true
					parts = append(parts, part)
				}
			}
			for _, c := range e.Causes {
				walk(c)
			}
		}
		walk(ve)
		return invalidf("schema is not a valid JSON Schema: %s", strings.Join(parts, "; "))
	}
	return invalidf("schema: %s", internalURL.ReplaceAllString(err.Error(), "the schema"))
}

// internalURL matches the name a document is compiled under.
var internalURL = regexp.MustCompile(`"?mem://trove/[0-9a-f]*\.json#?"?`)

// safeValidate runs the library's validation, turning a panic inside it
// into ErrInvalid: no input may stop the caller.
func (v *validators) safeValidate(s *jsonschema.Schema, inst any) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = invalidf("payload: the validator cannot check this payload (%v)", r)
		}
	}()
	run := (*jsonschema.Schema).Validate
	if v.run != nil {
		run = v.run
	}
	if err := run(s, inst); err != nil {
		var ve *jsonschema.ValidationError
		if errors.As(err, &ve) {
			return err
		}
		return invalidf("payload: %v", err)
	}
	return nil
}

// validationInstance prepares a decoded payload for the validator, which
// compares numbers through big.Rat: a number with more than
// validateDigitLimit significant digits is refused (ErrInvalid) — its
// check would cost far more than its text — and numbers whose exponent is
// beyond ±validateExpLimit (1e999999, 9e-9999999) are respelled with
// smaller exponents that keep every answer a schema can ask of them: their
// order among themselves and against every number a schema may hold (see
// checkSchemaNumbers), equality, integrality and divisibility (the
// respelled exponents stay above the powers of 2 and 5 of any schema
// number, and above the digits, see schemaNumLen). Payloads without such
// numbers are returned as they are.
func validationInstance(inst any, schemaNumLen int) (any, error) {
	type far struct {
		d   decimal
		set func(any) // puts the respelled number where it sits
	}
	var fars []far
	var bad string
	var walk func(v any, set func(any))
	walk = func(v any, set func(any)) {
		switch x := v.(type) {
		case map[string]any:
			for k, e := range x {
				walk(e, func(n any) { x[k] = n })
			}
		case []any:
			for i, e := range x {
				walk(e, func(n any) { x[i] = n })
			}
		case json.Number:
			d, ok := parseDecimal(string(x))
			if !ok || d.n == 0 {
				return
			}
			if d.n > validateDigitLimit && bad == "" {
				bad = string(x[:40]) + "…"
			}
			if d.bigExp != "" || d.exp > validateExpLimit || d.exp < -validateExpLimit {
				fars = append(fars, far{d, set})
			}
		}
	}
	walk(inst, func(n any) { inst = n })
	if bad != "" {
		return nil, invalidf("payload: number %s has more than %d significant digits, more than schema validation checks", bad, validateDigitLimit)
	}
	if len(fars) == 0 {
		return inst, nil
	}
	digits := 0
	for _, f := range fars {
		digits = max(digits, f.d.n)
	}
	base := int64(4*(schemaNumLen+validateExpLimit) + digits + 1)
	// Rank the distinct exponents, those above the limit and those below
	// it apart, and give each rank an exponent of its own past base.
	var hi, lo []int
	for i, f := range fars {
		if f.d.bigExp != "" && !f.d.bigNeg || f.d.bigExp == "" && f.d.exp > 0 {
			hi = append(hi, i)
		} else {
			lo = append(lo, i)
		}
	}
	byExp := func(a, b int) int { return cmpExp(&fars[a].d, &fars[b].d) }
	ranks := func(idx []int) []int64 {
		slices.SortFunc(idx, byExp)
		r := make([]int64, len(idx))
		for k := 1; k < len(idx); k++ {
			r[k] = r[k-1]
			if byExp(idx[k-1], idx[k]) != 0 {
				r[k]++
			}
		}
		return r
	}
	exps := make([]int64, len(fars))
	for k, r := range ranks(hi) {
		exps[hi[k]] = base + r
	}
	if rl := ranks(lo); len(rl) > 0 {
		top := rl[len(rl)-1]
		for k, r := range rl {
			exps[lo[k]] = -(base + top - r)
		}
	}
	for i := range fars {
		d := fars[i].d
		d.bigExp, d.exp = "", exps[i]
		fars[i].set(json.Number(d.appendCanonical(nil)))
	}
	return inst, nil
}
