package pluginopts_test

import (
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
