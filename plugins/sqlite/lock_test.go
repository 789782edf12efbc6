package sqlite_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/trovedb/trove"
	"github.com/trovedb/trove/plugins/sqlite"
)

// uploadChildEnv, when set, makes TestUploadChild use that database.
const uploadChildEnv = "SQLITE_UPLOAD_CHILD_DB"

// childChunk is the chunk size of the stores in these tests: small, so an
// upload spans several transactions.
const childChunk = 1024

// uploadBytes are the bytes the child uploads: its first half before it
// pauses, the rest after.
var uploadBytes = bytes.Repeat([]byte("0123456789abcdef"), 4*childChunk/16)

// TestUploadChild runs only as the child of TestSecondProcessBesideUpload:
// it opens the database, starts uploading file "big", prints "streaming"
// once the first half is stored, waits for a line on stdin, sends the rest,
// and prints "saved" when the upload succeeded and reads back equal.
func TestUploadChild(t *testing.T) {
	path := os.Getenv(uploadChildEnv)
	if path == "" {
		t.Skip("runs only as the child of TestSecondProcessBesideUpload")
	}
	ctx := context.Background()
	s, err := sqlite.New(sqlite.Options{Path: path, ChunkSize: childChunk})
	if err == nil {
		err = s.Initialize(ctx, nil)
	}
	if err != nil {
		fmt.Println("error:", err)
		return
	}
	defer s.Shutdown(ctx)
	half := len(uploadBytes) / 2
	stdin := bufio.NewReader(os.Stdin)
	r := io.MultiReader(bytes.NewReader(uploadBytes[:half]), &pausing{stdin: stdin}, bytes.NewReader(uploadBytes[half:]))
	if _, err := s.SaveFile(ctx, trove.EventFile{ID: "big"}, r); err != nil {
		fmt.Println("error:", err)
		return
	}
	rc, err := s.GetFileData(ctx, "big")
	if err != nil {
		fmt.Println("error:", err)
		return
	}
	got, _ := io.ReadAll(rc)
	rc.Close()
	if !bytes.Equal(got, uploadBytes) {
		fmt.Println("error: read back", len(got), "bytes")
		return
	}
	fmt.Println("saved")
}

// pausing prints "streaming" at its first Read, then returns EOF once a
// line arrives on stdin. By then SaveFile has stored the chunks before it
// (a chunk is inserted as soon as it is full).
type pausing struct {
	stdin *bufio.Reader
}

func (p *pausing) Read([]byte) (int, error) {
	fmt.Println("streaming")
	p.stdin.ReadString('\n')
	return 0, io.EOF
}

// TestSecondProcessBesideUpload: storage-sqlite lets several processes
// open one database (SQLite serializes the writers). A second store that
// opens while another process streams an upload must not take that
// upload's chunks for leftovers of a crash, and both stores' writes land.
func TestSecondProcessBesideUpload(t *testing.T) {
	path := filepath.Join(t.TempDir(), "trove.db")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	child := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestUploadChild$")
	child.Env = append(os.Environ(), uploadChildEnv+"="+path)
	stdin, err := child.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out, err := child.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	defer child.Wait()
	defer stdin.Close()
	lines := bufio.NewReader(out)
	if line, _ := lines.ReadString('\n'); strings.TrimSpace(line) != "streaming" {
		t.Fatalf("child: %q", line)
	}

	s, err := sqlite.New(sqlite.Options{Path: path, ChunkSize: childChunk})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Initialize(ctx, nil); err != nil {
		t.Fatalf("second store beside the uploading one: %v", err)
	}
	defer s.Shutdown(ctx)
	if _, err := s.SaveEvent(ctx, trove.Event{ID: trove.EventID{ID: "beside"}, Schema: trove.MustSchema(`{"$id":"s"}`), Payload: []byte(`{}`)}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.SaveFile(ctx, trove.EventFile{ID: "small"}, bytes.NewReader(uploadBytes[:3*childChunk])); err != nil {
		t.Fatal(err)
	}

	fmt.Fprintln(stdin, "go")
	if line, _ := lines.ReadString('\n'); strings.TrimSpace(line) != "saved" {
		t.Fatalf("the upload beside a second store: %q", line)
	}
	rc, err := s.GetFileData(ctx, "big")
	if err != nil {
		t.Fatalf("the other process's file: %v", err)
	}
	got, _ := io.ReadAll(rc)
	rc.Close()
	if !bytes.Equal(got, uploadBytes) {
		t.Fatalf("the other process's file reads %d bytes", len(got))
	}
	if _, err := s.GetEvent(ctx, trove.EventID{ID: "beside"}); err != nil {
		t.Fatal(err)
	}
}
