package jsonscan

// keySetFrom is the member count from which an object's keys are checked
// for repeats through a map instead of by comparing each new key with the
// ones before.
const keySetFrom = 16

// Keys finds an object that names one key twice, at any depth, keys
// compared after unescaping (as encoding/json decodes them). Its owner
// feeds it the tokens of one document as a Scanner reads them: Open at
// each BeginObject, Close at each EndObject, Key at each Key. Its zero
// value is ready; Reset readies it for another document, keeping its
// buffers, so that checking a typical document allocates nothing.
type Keys struct {
	b      []byte // the document
	refs   []keyRef
	keys   []byte // unescaped text of keys that held escapes
	frames []objFrame
}

type keyRef struct {
	off, n int  // in the document, or in keys
	esc    bool // the key is in keys (it held escapes)
}

type objFrame struct {
	keys int // index of its first key in refs
	text int // length of keys when it opened
	set  map[string]struct{}
}

// Reset readies k for the document b, which the Scanner it is fed from
// reads.
func (k *Keys) Reset(b []byte) {
	clear(k.frames[:cap(k.frames)]) // drop key sets
	k.b, k.refs, k.frames, k.keys = b, k.refs[:0], k.frames[:0], k.keys[:0]
}

// Big reports whether k's buffers grew past what is worth keeping for
// another document.
func (k *Keys) Big() bool {
	return cap(k.refs) > 1<<12 || cap(k.keys) > 1<<16 || cap(k.frames) > 1<<10
}

// Open records that an object opens.
func (k *Keys) Open() {
	k.frames = append(k.frames, objFrame{keys: len(k.refs), text: len(k.keys)})
}

// Close records that the innermost open object closes.
func (k *Keys) Close() {
	f := k.frames[len(k.frames)-1]
	k.frames = k.frames[:len(k.frames)-1]
	k.refs = k.refs[:f.keys]
	k.keys = k.keys[:f.text]
}

func (k *Keys) key(r keyRef) []byte {
	if r.esc {
		return k.keys[r.off : r.off+r.n]
	}
	return k.b[r.off : r.off+r.n]
}

// Key records the key s is at (a Key token) in the innermost open object.
// When that object named it before, it returns the key's text and false,
// and records nothing.
func (k *Keys) Key(s *Scanner) (repeated []byte, ok bool) {
	var r keyRef
	if s.Escaped() {
		off := len(k.keys)
		k.keys = s.AppendText(k.keys)
		r = keyRef{off: off, n: len(k.keys) - off, esc: true}
	} else {
		r = keyRef{off: s.Offset() + 1, n: len(s.RawText())}
	}
	f := &k.frames[len(k.frames)-1]
	text := k.key(r)
	if f.set != nil {
		if _, dup := f.set[string(text)]; dup {
			return text, false
		}
		f.set[string(text)] = struct{}{}
	} else {
		for _, o := range k.refs[f.keys:] {
			if string(k.key(o)) == string(text) {
				return text, false
			}
		}
		if len(k.refs)-f.keys+1 >= keySetFrom {
			f.set = make(map[string]struct{}, 2*keySetFrom)
			for _, o := range k.refs[f.keys:] {
				f.set[string(k.key(o))] = struct{}{}
			}
			f.set[string(text)] = struct{}{}
		}
	}
	k.refs = append(k.refs, r)
	return nil, true
}
