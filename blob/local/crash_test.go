package local_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/trovedb/trove"
	"github.com/trovedb/trove/blob"
	"github.com/trovedb/trove/blob/blobtest"
	"github.com/trovedb/trove/blob/local"
	"github.com/trovedb/trove/storagetest/crashtest"
)

// leftovers lists the files whose names start with "." anywhere under dir.
func leftovers(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasPrefix(d.Name(), ".") {
			out = append(out, path)
		}
		return nil
	})
	return out
}

// files lists the regular files under dir/sub.
func files(t *testing.T, dir, sub string) []string {
	t.Helper()
	var out []string
	filepath.WalkDir(filepath.Join(dir, sub), func(path string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			out = append(out, path)
		}
		return nil
	})
	return out
}

// TestLeftoversRemovedOnOpen plants what a crash can leave (staged objects
// and temporary files of every kind) and checks that Open removes them,
// that none is visible, and that the store works.
func TestLeftoversRemovedOnOpen(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s, err := local.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	data := blobtest.Data(1, 5000)
	if _, err := s.Put(ctx, "kept", bytes.NewReader(data), blob.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	s.Close()
	planted := []string{
		"objects/.staged-0123456789abcdef",
		"objects/..staged-0123456789abcdef.tmp-12345",
		"keys/ab/.half.json.tmp-999",
		"objects/9f/.whatever",
	}
	for _, p := range planted {
		path := filepath.Join(dir, p)
		os.MkdirAll(filepath.Dir(path), 0o755)
		if err := os.WriteFile(path, []byte("partial bytes"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	s, err = local.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if left := leftovers(t, dir); len(left) != 0 {
		t.Fatalf("Open left %v", left)
	}
	if _, err := s.Stat(ctx, "half"); !errors.Is(err, trove.ErrNotFound) {
		t.Fatalf("Stat(half) = %v, want ErrNotFound", err)
	}
	rc, _, err := s.Get(ctx, "kept")
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(rc)
	rc.Close()
	if !bytes.Equal(got, data) {
		t.Fatal("kept bytes differ")
	}
	if err := s.Verify(ctx); err != nil {
		t.Fatal(err)
	}
}

// TestFailedPutLeavesNothing checks that a stream that fails midway leaves
// no file at all behind, not only no visible key.
func TestFailedPutLeavesNothing(t *testing.T) {
	dir := t.TempDir()
	s, err := local.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	r := io.MultiReader(bytes.NewReader(blobtest.Data(2, 3<<20)), iotestErrReader{})
	if _, err := s.Put(context.Background(), "broken", r, blob.PutOptions{}); err == nil {
		t.Fatal("Put of a failing stream succeeded")
	}
	if f := files(t, dir, "objects"); len(f) != 0 {
		t.Fatalf("objects left: %v", f)
	}
	if f := files(t, dir, "keys"); len(f) != 0 {
		t.Fatalf("records left: %v", f)
	}
}

type iotestErrReader struct{}

func (iotestErrReader) Read([]byte) (int, error) { return 0, errors.New("stream broke") }

// TestDeduplicated checks that two keys with the same loose bytes share
// one object on disk, and that the object goes with the last key.
func TestDeduplicated(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s, err := local.OpenWith(ctx, dir, local.Options{SmallMax: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	data := blobtest.Data(3, 100000)
	for _, k := range []string{"a", "b", "c"} {
		if _, err := s.Put(ctx, k, bytes.NewReader(data), blob.PutOptions{ContentType: "text/" + k}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.Put(ctx, "d", bytes.NewReader(blobtest.Data(4, 10)), blob.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	want := filepath.Join(dir, "objects", blobtest.Digest(data)[:2], blobtest.Digest(data))
	if objs := files(t, dir, "objects"); len(objs) != 2 || !(objs[0] == want || objs[1] == want) {
		t.Fatalf("objects on disk: %v, want 2 including %s", objs, want)
	}
	for _, k := range []string{"a", "b"} {
		if err := s.Delete(ctx, k); err != nil {
			t.Fatal(err)
		}
		if _, err := os.Stat(want); err != nil {
			t.Fatalf("the shared object went with %s: %v", k, err)
		}
	}
	if err := s.Delete(ctx, "c"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(want); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("the object outlived its last key: %v", err)
	}
}

// TestCorruption damages a store of loose objects in each way a disk can
// and checks that reads report a *trove.CorruptionError naming the file.
// (TestPackCorruption does the same for packed objects.)
func TestCorruption(t *testing.T) {
	ctx := context.Background()
	data := blobtest.Data(5, 20000)
	digest := blobtest.Digest(data)
	cases := []struct {
		name    string
		damage  func(dir string)
		getFail bool // Get (not only Verify) sees it
	}{
		{"object missing", func(dir string) { os.Remove(filepath.Join(dir, "objects", digest[:2], digest)) }, true},
		{"object truncated", func(dir string) { os.Truncate(filepath.Join(dir, "objects", digest[:2], digest), 100) }, true},
		{"object bit flip", func(dir string) {
			p := filepath.Join(dir, "objects", digest[:2], digest)
			os.Chmod(p, 0o644)
			f, _ := os.OpenFile(p, os.O_RDWR, 0)
			f.WriteAt([]byte{data[777] ^ 1}, 777)
			f.Close()
		}, false},
		{"record garbage", func(dir string) {
			recs := files(t, dir, "keys")
			os.WriteFile(recs[0], []byte("{not json"), 0o644)
		}, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			s, err := local.OpenWith(ctx, dir, local.Options{SmallMax: -1})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			if _, err := s.Put(ctx, "k", bytes.NewReader(data), blob.PutOptions{}); err != nil {
				t.Fatal(err)
			}
			tc.damage(dir)
			var ce *trove.CorruptionError
			err = s.Verify(ctx)
			if !errors.As(err, &ce) || !errors.Is(err, trove.ErrCorrupt) || ce.File == "" {
				t.Fatalf("Verify = %v, want a CorruptionError", err)
			}
			rc, _, err := s.Get(ctx, "k")
			if tc.getFail {
				if !errors.As(err, &ce) {
					t.Fatalf("Get = %v, want a CorruptionError", err)
				}
			} else if err == nil {
				rc.Close()
			}
		})
	}
}

// localPlugin is a blob/local store as a files-only plugin, for the crash
// harness.
type localPlugin struct {
	dir   string
	opts  local.Options
	store *local.Store // set by Initialize
	trove.FileStorage
}

func (p *localPlugin) Name() string                     { return "blob-local" }
func (p *localPlugin) Capabilities() []trove.Capability { return []trove.Capability{trove.CapFiles} }
func (p *localPlugin) Initialize(ctx context.Context, _ *trove.Core) error {
	s, err := local.OpenWith(ctx, p.dir, p.opts)
	if err != nil {
		return err
	}
	p.store, p.FileStorage = s, blob.NewFileStorage(s)
	return nil
}
func (p *localPlugin) Shutdown(context.Context) error { return p.store.Close() }

// TestCrash is the SIGKILL crash test (crashtest) of the store: concurrent
// writers of files up to 64 KiB (packed up to 16 KiB, a quarter of them,
// the others loose), so that kills land in the middle of writes, killed at
// random moments; after every kill each acknowledged
// file is there with its bytes and Open left no staged or temporary file;
// after every tenth, Verify (which rereads every object) passes.
func TestCrash(t *testing.T) {
	checks := 0
	crashtest.Run(t, crashtest.Backend{
		Open: func(t testing.TB, dir string) trove.Plugin {
			return &localPlugin{dir: dir, opts: local.Options{SmallMax: 16 << 10}}
		},
		MaxFileSize: 64 << 10,
		Check: func(ctx context.Context, dir string, p trove.Plugin) error {
			if left := leftovers(t, dir); len(left) != 0 {
				return fmt.Errorf("open left %v", left)
			}
			if checks++; checks%10 != 0 {
				return nil
			}
			return p.(*localPlugin).store.Verify(ctx)
		},
	})
}

// TestCrashSmallFiles is the SIGKILL crash test with 64 concurrent writers
// of small files only (1 to 4096 bytes, all packed, meeting in the group
// commit), in packs of 64 KiB so that kills also land while a new pack is
// started (and a key file written); after every kill the reopen (which
// replays the sealed packs' key files and reads the last pack) succeeds, each acknowledged file is there with its bytes, and
// after every fifth Verify (every live object's hash) passes.
func TestCrashSmallFiles(t *testing.T) {
	checks := 0
	crashtest.Run(t, crashtest.Backend{
		Open: func(t testing.TB, dir string) trove.Plugin {
			return &localPlugin{dir: dir, opts: local.Options{PackSize: 64 << 10}}
		},
		MaxFileSize: 4096,
		Writers:     64,
		Check: func(ctx context.Context, dir string, p trove.Plugin) error {
			if checks++; checks%5 != 0 {
				return nil
			}
			return p.(*localPlugin).store.Verify(ctx)
		},
	})
}
