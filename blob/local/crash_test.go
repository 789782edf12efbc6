package local_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/trovedb/trove"
	"github.com/trovedb/trove/blob"
	"github.com/trovedb/trove/blob/blobtest"
	"github.com/trovedb/trove/blob/local"
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

// TestDeduplicated checks that two keys with the same bytes share one
// object on disk, and that the object goes with the last key.
func TestDeduplicated(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s, err := local.Open(dir)
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

// TestCorruption damages a store in each way a disk can and checks that
// reads report a *trove.CorruptionError naming the file.
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
			s, err := local.Open(dir)
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

// The crash test runs a child process (this test binary) that puts files
// and reports each acknowledged Put on stdout, SIGKILLs it at a random
// moment, reopens the directory and checks every acknowledged file.

const crashEnv = "TROVE_LOCAL_CRASH_DIR"

func crashSize(i int) int { return 1000 + (i*7919)%(2<<20) }

// TestCrashChild is the child's body; it does nothing in a normal run.
func TestCrashChild(t *testing.T) {
	dir := os.Getenv(crashEnv)
	if dir == "" {
		return
	}
	s, err := local.Open(dir)
	if err != nil {
		fmt.Println("error", err)
		os.Exit(1)
	}
	start, _ := strconv.Atoi(os.Getenv(crashEnv + "_START"))
	for i := start; ; i++ {
		key := fmt.Sprintf("f-%d", i)
		if _, err := s.Put(context.Background(), key, bytes.NewReader(blobtest.Data(uint64(i), crashSize(i))), blob.PutOptions{ContentType: "x/" + key}); err != nil {
			fmt.Println("error", err)
			os.Exit(1)
		}
		fmt.Println("ok", key)
	}
}

func TestCrashSIGKILL(t *testing.T) {
	dir := t.TempDir()
	rng := rand.New(rand.NewPCG(1, 2))
	acked := map[int]bool{}
	next := 0
	const rounds = 8
	dirty := 0 // rounds whose kill left staged or temporary files
	for round := 0; round < rounds; round++ {
		cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$", "-test.count=1")
		cmd.Env = append(os.Environ(), crashEnv+"="+dir, crashEnv+"_START="+strconv.Itoa(next))
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		lines := make(chan string)
		go func() {
			sc := bufio.NewScanner(out)
			for sc.Scan() {
				lines <- sc.Text()
			}
			close(lines)
		}()
		// Let it acknowledge a few files, then kill it at a random instant.
		want := 2 + rng.IntN(4)
		got := 0
		for line := range lines {
			if strings.HasPrefix(line, "error") {
				t.Fatalf("child: %s", line)
			}
			if k, ok := strings.CutPrefix(line, "ok f-"); ok {
				i, _ := strconv.Atoi(k)
				acked[i] = true
				next = i + 1
				if got++; got == want {
					break
				}
			}
		}
		time.Sleep(time.Duration(rng.IntN(30)) * time.Millisecond)
		cmd.Process.Signal(syscall.SIGKILL)
		for line := range lines {
			if k, ok := strings.CutPrefix(line, "ok f-"); ok {
				i, _ := strconv.Atoi(k)
				acked[i] = true
				next = i + 1
			}
		}
		cmd.Wait()
		next++ // the key being written when killed may or may not exist: skip it
		if len(leftovers(t, dir)) > 0 {
			dirty++
		}

		s, err := local.Open(dir)
		if err != nil {
			t.Fatalf("round %d: reopen: %v", round, err)
		}
		if left := leftovers(t, dir); len(left) != 0 {
			t.Fatalf("round %d: Open left %v", round, left)
		}
		for i := range acked {
			key := fmt.Sprintf("f-%d", i)
			rc, info, err := s.Get(context.Background(), key)
			if err != nil {
				t.Fatalf("round %d: acknowledged %s: %v", round, key, err)
			}
			b, _ := io.ReadAll(rc)
			rc.Close()
			if !bytes.Equal(b, blobtest.Data(uint64(i), crashSize(i))) || info.ContentType != "x/"+key {
				t.Fatalf("round %d: %s differs after the crash", round, key)
			}
		}
		if err := s.Verify(context.Background()); err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		s.Close()
	}
	t.Logf("%d rounds (%d killed mid-write, leaving files Open removed), %d acknowledged files, all intact", rounds, dirty, len(acked))
}
