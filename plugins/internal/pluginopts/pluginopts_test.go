package pluginopts_test

import (
	"context"
	"encoding/json"
	"errors"
	"testing"

	"github.com/trovedb/trove"
	"github.com/trovedb/trove/plugins/internal/pluginopts"
)

type options struct {
	Dir string `json:"dir"`
}

func TestDecode(t *testing.T) {
	cases := []struct {
		raw     string
		mode    pluginopts.Mode
		want    string
		invalid bool
	}{
		{"", pluginopts.Strict, "keep", false},
		{" null ", pluginopts.Lenient, "keep", false},
		{`{"dir":"d"}`, pluginopts.Strict, "d", false},
		{`{"dir":"d","other":1}`, pluginopts.Lenient, "d", false},
		{`{"dir":"d","other":1}`, pluginopts.Strict, "", true},
		{`{"dir":5}`, pluginopts.Lenient, "", true},
		{`[`, pluginopts.Strict, "", true},
	}
	for _, c := range cases {
		o := options{Dir: "keep"}
		err := pluginopts.Decode("test", json.RawMessage(c.raw), &o, c.mode)
		if c.invalid {
			if !errors.Is(err, trove.ErrInvalid) {
				t.Errorf("%q (mode %d): got %v, want ErrInvalid", c.raw, c.mode, err)
			}
			continue
		}
		if err != nil || o.Dir != c.want {
			t.Errorf("%q (mode %d): got %q (%v), want %q", c.raw, c.mode, o.Dir, err, c.want)
		}
	}
}

// registered is a plugin made by Register's factory.
type registered struct{ opts options }

func (registered) Name() string                                  { return "pluginopts-test" }
func (registered) Capabilities() []trove.Capability              { return nil }
func (registered) Initialize(context.Context, *trove.Core) error { return nil }
func (registered) Shutdown(context.Context) error                { return nil }

// Register's factory decodes the options as Decode does, and passes on
// the maker's error without a plugin.
func TestRegister(t *testing.T) {
	pluginopts.Register("pluginopts-test", "test", pluginopts.Strict, func(o options) (*registered, error) {
		if o.Dir == "fail" {
			return nil, errors.New("refused")
		}
		return &registered{opts: o}, nil
	})
	p, err := trove.NewPlugin("pluginopts-test", json.RawMessage(`{"dir":"d"}`))
	if err != nil {
		t.Fatal(err)
	}
	if r, ok := p.(*registered); !ok || r.opts.Dir != "d" {
		t.Fatalf("made %#v", p)
	}
	if _, err := trove.NewPlugin("pluginopts-test", json.RawMessage(`{"dir":"d","x":1}`)); !errors.Is(err, trove.ErrInvalid) {
		t.Fatalf("unknown field: %v, want ErrInvalid", err)
	}
	if p, err := trove.NewPlugin("pluginopts-test", json.RawMessage(`{"dir":"fail"}`)); err == nil || p != nil {
		t.Fatalf("maker error: %v, %#v", err, p)
	}
}
