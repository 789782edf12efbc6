// Package faultfs is a user-space (FUSE) loopback filesystem for crash and
// fault tests: it mounts a backing directory, fails writes and fsyncs on
// command, and records which bytes and which directory entries were made
// durable, so that a power cut can be simulated by rebuilding the directory
// with only those (the idea of pebble's crashable MemFS and vfs/errorfs,
// applied below any Go code, so that it also sees the files a library such
// as tidwall/wal writes itself).
//
// # Durability model
//
// A file's durable content is its content at its last successful fsync
// (empty before). A directory's durable entries are its entries at its last
// successful fsync (those it had at Mount before): a file created, renamed
// or removed since is reverted to what the last directory fsync saw. A
// failed fsync makes nothing durable. Crash writes this durable state into
// a new directory, as a machine would find its disk after a power cut.
//
// # Faults
//
// Inject adds a Rule: the matching writes, file fsyncs or directory fsyncs
// fail with an errno (EIO by default); a failing write may first write part
// of its bytes (Short), as a full disk does. Rules match paths relative to
// the mount's root with path.Match patterns.
//
// Mount needs /dev/fuse and, when not root, fusermount3 (Debian's fuse3);
// MountT fails the test, never skips it, when they are missing.
package faultfs

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
	"golang.org/x/sys/unix"
)

// Op is a kind of operation a Rule fails.
type Op int

const (
	OpWrite   Op = iota + 1 // a write to a file
	OpSync                  // an fsync of a file
	OpSyncDir               // an fsync of a directory
)

func (o Op) String() string {
	switch o {
	case OpWrite:
		return "write"
	case OpSync:
		return "fsync"
	case OpSyncDir:
		return "fsync dir"
	}
	return fmt.Sprintf("Op(%d)", int(o))
}

// Rule makes matching operations fail.
type Rule struct {
	Op    Op
	Match string        // path.Match pattern on the path relative to the root; "" matches every path
	Skip  int           // let this many matching operations succeed first
	Count int           // fail this many, then succeed again; 0 fails every one from then on
	Errno syscall.Errno // the error; 0 is EIO
	Short bool          // OpWrite: write the first half of the bytes, then fail

	seen, failed int
}

// Event is one operation the filesystem saw, for tests that pin the order
// in which a library writes and syncs.
type Event struct {
	Op     string // "create", "write", "fsync", "fsync dir", "rename", "unlink", "mkdir"
	Path   string // relative to the root; a rename's source
	To     string // a rename's target
	Failed bool   // a fault was injected
}

// FS is a mounted fault-injecting loopback filesystem.
type FS struct {
	// Dir is the mount point: the directory the code under test uses.
	Dir     string
	backing string
	server  *fuse.Server
	conn    uint32 // the FUSE connection (minor device number of the mount)

	mu struct {
		sync.Mutex // guards the fields below
		rules      []*Rule
		faults     int
		events     []Event
		record     bool
		ids        map[uint64]uint64 // backing inode → file identity
		nextID     uint64
		rootID     uint64
		files      map[uint64][]byte              // identity → durable content
		dirs       map[uint64]map[string]dirEntry // identity → durable entries
	}
}

type dirEntry struct {
	id    uint64
	isDir bool
}

// Mount mounts a loopback view of backing at mountpoint (both existing
// directories). Close unmounts it.
func Mount(backing, mountpoint string) (*FS, error) {
	if _, err := os.Stat("/dev/fuse"); err != nil {
		return nil, fmt.Errorf("faultfs: FUSE is not available (%v): the fault-injection tests need /dev/fuse and fusermount3 (Debian package fuse3)", err)
	}
	backing, err := filepath.Abs(backing)
	if err != nil {
		return nil, err
	}
	f := &FS{Dir: mountpoint, backing: backing}
	f.mu.ids = map[uint64]uint64{}
	f.mu.files = map[uint64][]byte{}
	f.mu.dirs = map[uint64]map[string]dirEntry{}
	if err := f.scan(); err != nil {
		return nil, err
	}
	var st syscall.Stat_t
	if err := syscall.Stat(backing, &st); err != nil {
		return nil, fmt.Errorf("faultfs: %w", err)
	}
	root := &fs.LoopbackRoot{Path: backing, Dev: uint64(st.Dev)}
	root.NewNode = func(r *fs.LoopbackRoot, _ *fs.Inode, _ string, _ *syscall.Stat_t) fs.InodeEmbedder {
		return &node{LoopbackNode: fs.LoopbackNode{RootData: r}, ffs: f}
	}
	rootNode := root.NewNode(root, nil, "", &st)
	root.RootNode = rootNode
	sec := time.Second
	server, err := fs.Mount(mountpoint, rootNode, &fs.Options{
		MountOptions: fuse.MountOptions{FsName: "faultfs", Name: "faultfs", DirectMount: true, MaxWrite: 1 << 20},
		EntryTimeout: &sec,
		AttrTimeout:  &sec,
	})
	if err != nil {
		return nil, fmt.Errorf("faultfs: mount %s: %w (the fault-injection tests need /dev/fuse and fusermount3: Debian package fuse3)", mountpoint, err)
	}
	f.server = server
	var mst syscall.Stat_t
	if err := syscall.Stat(mountpoint, &mst); err == nil {
		f.conn = unix.Minor(uint64(mst.Dev))
	}
	return f, nil
}

// MountT mounts a fresh backing directory at a fresh mount point for the
// test and unmounts it at cleanup. A missing FUSE fails the test.
func MountT(t testing.TB) *FS {
	t.Helper()
	backing, mnt := t.TempDir(), t.TempDir()
	f, err := Mount(backing, mnt)
	if err != nil {
		t.Fatalf("%v", err)
	}
	t.Cleanup(func() {
		if err := f.Close(); err != nil {
			t.Errorf("%v", err)
		}
	})
	return f
}

// Close unmounts the filesystem. When files are still open under it (a
// test failed before closing them), it aborts the FUSE connection first, so
// that closing them later, at the latest when the process exits, fails
// instead of waiting forever for a server that is gone.
func (f *FS) Close() error {
	if f.server == nil {
		return nil
	}
	var err error
	for i := 0; i < 5; i++ {
		if err = f.server.Unmount(); err == nil {
			f.server = nil
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	open := f.openFiles()
	aerr := f.abort()
	if derr := syscall.Unmount(f.Dir, syscall.MNT_DETACH); derr != nil {
		if out, cerr := exec.Command("fusermount3", "-u", "-z", f.Dir).CombinedOutput(); cerr != nil {
			return fmt.Errorf("faultfs: unmount %s: %v; detach: %v; fusermount3: %v %s", f.Dir, err, derr, cerr, out)
		}
	}
	f.server = nil
	if aerr != nil {
		return fmt.Errorf("faultfs: %s was busy (%v) and its connection could not be aborted (%v): the process may hang at exit", f.Dir, err, aerr)
	}
	return fmt.Errorf("faultfs: %s was still in use at unmount (%v): files opened under it were not closed (%v); the connection was aborted", f.Dir, err, open)
}

// openFiles lists the files this process holds open under the mount.
func (f *FS) openFiles() []string {
	ents, _ := os.ReadDir("/proc/self/fd")
	var open []string
	for _, e := range ents {
		if p, err := os.Readlink(filepath.Join("/proc/self/fd", e.Name())); err == nil && strings.HasPrefix(p, f.Dir+"/") {
			open = append(open, p)
		}
	}
	return open
}

// abort aborts the FUSE connection through the fusectl filesystem.
func (f *FS) abort() error {
	const ctl = "/sys/fs/fuse/connections"
	dir := filepath.Join(ctl, fmt.Sprint(f.conn))
	if _, err := os.Stat(dir); err != nil {
		if merr := syscall.Mount("fusectl", ctl, "fusectl", 0, ""); merr != nil {
			return fmt.Errorf("mount fusectl: %v", merr)
		}
	}
	return os.WriteFile(filepath.Join(dir, "abort"), []byte("1"), 0)
}

// Inject adds a fault rule.
func (f *FS) Inject(r Rule) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if r.Errno == 0 {
		r.Errno = syscall.EIO
	}
	f.mu.rules = append(f.mu.rules, &r)
}

// Heal removes every rule.
func (f *FS) Heal() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.mu.rules = nil
}

// Faults returns how many operations failed by a rule so far.
func (f *FS) Faults() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.mu.faults
}

// Record starts (or restarts) the event log.
func (f *FS) Record() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.mu.record, f.mu.events = true, nil
}

// Events returns the events since Record.
func (f *FS) Events() []Event {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]Event(nil), f.mu.events...)
}

// Crash writes the durable state of the filesystem (see the package doc)
// into dst, an existing empty directory, as a power cut would leave it. The
// mounted filesystem goes on unchanged.
func (f *FS) Crash(dst string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.crashDirLocked(f.mu.rootID, dst)
}

func (f *FS) crashDirLocked(id uint64, dst string) error {
	for name, e := range f.mu.dirs[id] {
		p := filepath.Join(dst, name)
		if e.isDir {
			if err := os.Mkdir(p, 0o750); err != nil {
				return fmt.Errorf("faultfs: crash: %w", err)
			}
			if err := f.crashDirLocked(e.id, p); err != nil {
				return err
			}
			continue
		}
		if err := os.WriteFile(p, f.mu.files[e.id], 0o640); err != nil {
			return fmt.Errorf("faultfs: crash: %w", err)
		}
	}
	return nil
}

// scan records the backing directory as durable: it is what the disk holds
// at Mount.
func (f *FS) scan() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	var walk func(dir string) (uint64, error)
	walk = func(dir string) (uint64, error) {
		id, err := f.identityLocked(dir, true)
		if err != nil {
			return 0, err
		}
		ents, err := os.ReadDir(dir)
		if err != nil {
			return 0, fmt.Errorf("faultfs: %w", err)
		}
		listing := map[string]dirEntry{}
		for _, e := range ents {
			p := filepath.Join(dir, e.Name())
			if e.IsDir() {
				cid, err := walk(p)
				if err != nil {
					return 0, err
				}
				listing[e.Name()] = dirEntry{cid, true}
				continue
			}
			cid, err := f.identityLocked(p, true)
			if err != nil {
				return 0, err
			}
			data, err := os.ReadFile(p)
			if err != nil {
				return 0, fmt.Errorf("faultfs: %w", err)
			}
			f.mu.files[cid] = data
			listing[e.Name()] = dirEntry{cid, false}
		}
		f.mu.dirs[id] = listing
		return id, nil
	}
	root, err := walk(f.backing)
	f.mu.rootID = root
	return err
}

// identityLocked returns the identity of the backing file at p, a new one
// when fresh is true (the file was just created: its inode number may be a
// reused one).
func (f *FS) identityLocked(p string, fresh bool) (uint64, error) {
	var st syscall.Stat_t
	if err := syscall.Lstat(p, &st); err != nil {
		return 0, fmt.Errorf("faultfs: %w", err)
	}
	return f.identityOfLocked(st.Ino, fresh), nil
}

func (f *FS) identityOfLocked(ino uint64, fresh bool) uint64 {
	if id, ok := f.mu.ids[ino]; ok && !fresh {
		return id
	}
	f.mu.nextID++
	f.mu.ids[ino] = f.mu.nextID
	return f.mu.nextID
}

// check applies the rules to an operation on rel and returns the rule that
// fails it, nil for none.
func (f *FS) check(op Op, rel string) *Rule {
	f.mu.Lock()
	defer f.mu.Unlock()
	var hit *Rule
	for _, r := range f.mu.rules {
		if r.Op != op || (r.Match != "" && !matches(r.Match, rel)) {
			continue
		}
		r.seen++
		if hit == nil && r.seen > r.Skip && (r.Count == 0 || r.failed < r.Count) {
			r.failed++
			hit = r
		}
	}
	if hit != nil {
		f.mu.faults++
	}
	return hit
}

func matches(pattern, rel string) bool {
	ok, err := path.Match(pattern, rel)
	return err == nil && ok
}

func (f *FS) event(e Event) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.mu.record {
		f.mu.events = append(f.mu.events, e)
	}
}

// node is a loopback node that hands out fault-injecting handles.
type node struct {
	fs.LoopbackNode
	ffs *FS
}

func (n *node) rel() string { return n.Path(nil) }

func (n *node) child(name string) string { return path.Join(n.rel(), name) }

var (
	_ fs.NodeCreater         = (*node)(nil)
	_ fs.NodeOpener          = (*node)(nil)
	_ fs.NodeMkdirer         = (*node)(nil)
	_ fs.NodeOpendirHandler  = (*node)(nil)
	_ fs.NodeRenamer         = (*node)(nil)
	_ fs.NodeUnlinker        = (*node)(nil)
	_ fs.NodeRmdirer         = (*node)(nil)
	_ fs.NodeFsyncer         = (*node)(nil)
	_ fs.FileWriter          = (*handle)(nil)
	_ fs.FileWritever        = (*handle)(nil)
	_ fs.FileFsyncer         = (*handle)(nil)
	_ fs.FilePassthroughFder = (*handle)(nil)
	_ fs.FileFsyncdirer      = (*dirHandle)(nil)
)

// readable opens the backing file for reading too: an fsync reads what it
// makes durable through the handle, also of a file opened write-only.
func readable(flags uint32) uint32 {
	return flags&^syscall.O_ACCMODE | syscall.O_RDWR
}

func (n *node) Create(ctx context.Context, name string, flags, mode uint32, out *fuse.EntryOut) (*fs.Inode, fs.FileHandle, uint32, syscall.Errno) {
	in, fh, fl, errno := n.LoopbackNode.Create(ctx, name, readable(flags), mode, out)
	if errno == syscall.EACCES {
		in, fh, fl, errno = n.LoopbackNode.Create(ctx, name, flags, mode, out)
	}
	if errno != 0 {
		return in, fh, fl, errno
	}
	n.ffs.mu.Lock()
	id := n.ffs.identityOfLocked(out.Attr.Ino, true)
	n.ffs.mu.Unlock()
	n.ffs.event(Event{Op: "create", Path: n.child(name)})
	return in, n.ffs.wrap(fh, in, id), fl, 0
}

func (n *node) Open(ctx context.Context, flags uint32) (fs.FileHandle, uint32, syscall.Errno) {
	fh, fl, errno := n.LoopbackNode.Open(ctx, readable(flags))
	if errno == syscall.EACCES || errno == syscall.EISDIR {
		fh, fl, errno = n.LoopbackNode.Open(ctx, flags)
	}
	if errno != 0 {
		return fh, fl, errno
	}
	var out fuse.AttrOut
	if g, ok := fh.(fs.FileGetattrer); ok {
		if errno := g.Getattr(ctx, &out); errno != 0 {
			if r, ok := fh.(fs.FileReleaser); ok {
				r.Release(ctx)
			}
			return nil, 0, errno
		}
	}
	n.ffs.mu.Lock()
	id := n.ffs.identityOfLocked(out.Attr.Ino, false)
	n.ffs.mu.Unlock()
	return n.ffs.wrap(fh, n.EmbeddedInode(), id), fl, 0
}

func (n *node) Mkdir(ctx context.Context, name string, mode uint32, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	in, errno := n.LoopbackNode.Mkdir(ctx, name, mode, out)
	if errno == 0 {
		n.ffs.mu.Lock()
		n.ffs.identityOfLocked(out.Attr.Ino, true)
		n.ffs.mu.Unlock()
		n.ffs.event(Event{Op: "mkdir", Path: n.child(name)})
	}
	return in, errno
}

func (n *node) Rename(ctx context.Context, name string, newParent fs.InodeEmbedder, newName string, flags uint32) syscall.Errno {
	from, to := n.child(name), path.Join(newParent.EmbeddedInode().Path(nil), newName)
	errno := n.LoopbackNode.Rename(ctx, name, newParent, newName, flags)
	if errno == 0 {
		n.ffs.event(Event{Op: "rename", Path: from, To: to})
	}
	return errno
}

func (n *node) Unlink(ctx context.Context, name string) syscall.Errno {
	errno := n.LoopbackNode.Unlink(ctx, name)
	if errno == 0 {
		n.ffs.event(Event{Op: "unlink", Path: n.child(name)})
	}
	return errno
}

func (n *node) Rmdir(ctx context.Context, name string) syscall.Errno {
	errno := n.LoopbackNode.Rmdir(ctx, name)
	if errno == 0 {
		n.ffs.event(Event{Op: "unlink", Path: n.child(name)})
	}
	return errno
}

// Fsync serves an fsync without a handle of ours (the kernel may send one
// for a file opened before a handle existed): it syncs by path.
func (n *node) Fsync(ctx context.Context, f fs.FileHandle, flags uint32) syscall.Errno {
	if s, ok := f.(fs.FileFsyncer); ok {
		return s.Fsync(ctx, flags)
	}
	if d, ok := f.(fs.FileFsyncdirer); ok {
		return d.Fsyncdir(ctx, flags)
	}
	rel := n.rel()
	p := filepath.Join(n.ffs.backing, rel)
	st, err := os.Lstat(p)
	if err != nil {
		return fs.ToErrno(err)
	}
	if st.IsDir() {
		return n.ffs.syncDir(rel)
	}
	if r := n.ffs.check(OpSync, rel); r != nil {
		n.ffs.event(Event{Op: "fsync", Path: rel, Failed: true})
		return r.Errno
	}
	data, err := os.ReadFile(p)
	if err != nil {
		return fs.ToErrno(err)
	}
	n.ffs.mu.Lock()
	id := n.ffs.identityOfLocked(st.Sys().(*syscall.Stat_t).Ino, false)
	n.ffs.mu.files[id] = data
	n.ffs.mu.Unlock()
	n.ffs.event(Event{Op: "fsync", Path: rel})
	return 0
}

func (n *node) OpendirHandle(ctx context.Context, flags uint32) (fs.FileHandle, uint32, syscall.Errno) {
	fh, fl, errno := n.LoopbackNode.OpendirHandle(ctx, flags)
	if errno != 0 {
		return fh, fl, errno
	}
	return &dirHandle{inner: fh, n: n}, fl, 0
}

// syncDir makes the entries of the directory rel durable, unless a rule
// fails it.
func (f *FS) syncDir(rel string) syscall.Errno {
	if r := f.check(OpSyncDir, rel); r != nil {
		f.event(Event{Op: "fsync dir", Path: rel, Failed: true})
		return r.Errno
	}
	dir := filepath.Join(f.backing, rel)
	ents, err := os.ReadDir(dir)
	if err != nil {
		return fs.ToErrno(err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	id, err := f.identityLocked(dir, false)
	if err != nil {
		return syscall.EIO
	}
	listing := map[string]dirEntry{}
	for _, e := range ents {
		cid, err := f.identityLocked(filepath.Join(dir, e.Name()), false)
		if err != nil {
			continue // removed meanwhile
		}
		listing[e.Name()] = dirEntry{cid, e.IsDir()}
	}
	f.mu.dirs[id] = listing
	if f.mu.record {
		f.mu.events = append(f.mu.events, Event{Op: "fsync dir", Path: rel})
	}
	return 0
}

// wrap returns a fault-injecting handle around a loopback file handle.
func (f *FS) wrap(fh fs.FileHandle, in *fs.Inode, id uint64) fs.FileHandle {
	lf, ok := fh.(*fs.LoopbackFile)
	if !ok {
		return fh
	}
	return &handle{LoopbackFile: lf, ffs: f, in: in, id: id}
}

// handle is an open file: writes and fsyncs go through the rules, and a
// successful fsync records the file's content as durable.
type handle struct {
	*fs.LoopbackFile
	ffs *FS
	in  *fs.Inode
	id  uint64
}

func (h *handle) rel() string { return h.in.Path(nil) }

// PassthroughFd refuses kernel passthrough, which would bypass the rules.
func (h *handle) PassthroughFd() (int, bool) { return -1, false }

func (h *handle) Write(ctx context.Context, data []byte, off int64) (uint32, syscall.Errno) {
	rel := h.rel()
	if r := h.ffs.check(OpWrite, rel); r != nil {
		if r.Short && len(data) > 1 {
			h.LoopbackFile.Write(ctx, data[:len(data)/2], off)
		}
		h.ffs.event(Event{Op: "write", Path: rel, Failed: true})
		return 0, r.Errno
	}
	h.ffs.event(Event{Op: "write", Path: rel})
	return h.LoopbackFile.Write(ctx, data, off)
}

func (h *handle) Writev(ctx context.Context, data [][]byte, off int64) (uint32, syscall.Errno) {
	var all []byte
	for _, d := range data {
		all = append(all, d...)
	}
	return h.Write(ctx, all, off)
}

func (h *handle) Fsync(ctx context.Context, flags uint32) syscall.Errno {
	rel := h.rel()
	if r := h.ffs.check(OpSync, rel); r != nil {
		h.ffs.event(Event{Op: "fsync", Path: rel, Failed: true})
		return r.Errno
	}
	var attr fuse.AttrOut
	if errno := h.LoopbackFile.Getattr(ctx, &attr); errno != 0 {
		return errno
	}
	data := make([]byte, attr.Size)
	for off := 0; off < len(data); {
		res, errno := h.LoopbackFile.Read(ctx, data[off:], int64(off))
		if errno != 0 {
			return errno
		}
		b, st := res.Bytes(data[off:])
		res.Done()
		if st != fuse.OK {
			return syscall.EIO
		}
		if len(b) == 0 {
			data = data[:off]
			break
		}
		if &b[0] != &data[off] {
			copy(data[off:], b)
		}
		off += len(b)
	}
	h.ffs.mu.Lock()
	h.ffs.mu.files[h.id] = data
	if h.ffs.mu.record {
		h.ffs.mu.events = append(h.ffs.mu.events, Event{Op: "fsync", Path: rel})
	}
	h.ffs.mu.Unlock()
	return 0
}

// dirHandle is an open directory whose fsync records its entries.
type dirHandle struct {
	inner fs.FileHandle
	n     *node
}

func (d *dirHandle) Readdirent(ctx context.Context) (*fuse.DirEntry, syscall.Errno) {
	return d.inner.(fs.FileReaddirenter).Readdirent(ctx)
}

func (d *dirHandle) Seekdir(ctx context.Context, off uint64) syscall.Errno {
	if s, ok := d.inner.(fs.FileSeekdirer); ok {
		return s.Seekdir(ctx, off)
	}
	return syscall.ENOTSUP
}

func (d *dirHandle) Releasedir(ctx context.Context, flags uint32) {
	if r, ok := d.inner.(fs.FileReleasedirer); ok {
		r.Releasedir(ctx, flags)
	}
}

func (d *dirHandle) Fsyncdir(ctx context.Context, flags uint32) syscall.Errno {
	return d.n.ffs.syncDir(d.n.rel())
}
