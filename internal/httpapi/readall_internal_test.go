package httpapi

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/iotest"
)

// readAll reads what io.ReadAll reads, with the same error, whatever the
// declared length says of the body.
func TestReadAllMatchesIOReadAll(t *testing.T) {
	broken := errors.New("broken body")
	for _, body := range []string{"", "x", `{"schema":{},"payload":{}}`, strings.Repeat("abc", 10_000)} {
		readers := map[string]func() io.Reader{
			"whole":     func() io.Reader { return strings.NewReader(body) },
			"one byte":  func() io.Reader { return iotest.OneByteReader(strings.NewReader(body)) },
			"half":      func() io.Reader { return iotest.HalfReader(strings.NewReader(body)) },
			"data, EOF": func() io.Reader { return iotest.DataErrReader(strings.NewReader(body)) },
			"broken":    func() io.Reader { return io.MultiReader(strings.NewReader(body), iotest.ErrReader(broken)) },
		}
		for name, r := range readers {
			for _, size := range []int64{-1, 0, 1, int64(len(body)) - 1, int64(len(body)), int64(len(body)) + 1, 2 * int64(len(body)), maxReadHint + 1} {
				want, werr := io.ReadAll(r())
				got, err := readAll(r(), size)
				if !bytes.Equal(got, want) || !errors.Is(err, werr) && fmt.Sprint(err) != fmt.Sprint(werr) {
					t.Errorf("%d bytes, %s, declared %d: %d bytes, %v; want %d bytes, %v", len(body), name, size, len(got), err, len(want), werr)
				}
			}
		}
	}
}

// mediaType answers what mime.ParseMediaType answers.
func TestMediaType(t *testing.T) {
	for ct, want := range map[string]string{
		"": "", "application/json": "application/json", "Application/JSON": "application/json", "application/json; charset=utf-8": "application/json",
		"application/x-ndjson": "application/x-ndjson", "multipart/form-data; boundary=zz": "multipart/form-data", "application/": "", " application/json ": "application/json",
	} {
		r := httptest.NewRequest("POST", "/api/events", nil)
		r.Header.Set("Content-Type", ct)
		if got := mediaType(r); got != want {
			t.Errorf("%q: %q, want %q", ct, got, want)
		}
	}
}
