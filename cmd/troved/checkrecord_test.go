package main

import (
	"strings"
	"testing"

	"github.com/trovedb/trove/internal/console"
)

// troved check leaves its outcome where the console's overview reads it,
// damage included.
func TestCheckRecord(t *testing.T) {
	data := t.TempDir()
	store := []string{"--data", data, "--storage", "storage-log"}
	if code, _, errs := runCLI(t, ndjson(t, testEvents(50)), append([]string{"import", "--batch", "10", "-"}, store...)...); code != 0 {
		t.Fatal(errs)
	}
	if _, ok, err := console.ReadCheckResult(data); ok || err != nil {
		t.Fatalf("a record before any check: %v %v", ok, err)
	}
	if code, _, errs := runCLI(t, "", append([]string{"check"}, store...)...); code != 0 {
		t.Fatalf("check: %d %s", code, errs)
	}
	r, ok, err := console.ReadCheckResult(data)
	if !ok || err != nil || !r.OK || !strings.Contains(r.Summary, "50 events") || r.At.IsZero() {
		t.Fatalf("record of a sound store: %+v %v %v", r, ok, err)
	}
	damageWAL(t, data)
	if code, _, _ := runCLI(t, "", append([]string{"check"}, store...)...); code != 1 {
		t.Fatalf("check of a damaged store: exit %d", code)
	}
	r, ok, err = console.ReadCheckResult(data)
	if !ok || err != nil || r.OK || r.Summary == "" {
		t.Fatalf("record of a damaged store: %+v %v %v", r, ok, err)
	}
}
