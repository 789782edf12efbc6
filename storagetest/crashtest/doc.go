// Package crashtest is the SIGKILL crash test every persistent backend
// runs: one harness for the log engine, storage-sqlite, storage-json-file
// and the blob/local file store. A backend's test calls it in one line:
//
//	func TestCrash(t *testing.T) {
//		crashtest.Run(t, crashtest.Backend{Open: func(t testing.TB, dir string) trove.Plugin {
//			return mybackend.New(dir)
//		}})
//	}
//
// # What it does
//
// Run starts the test binary again as a child process that runs the same
// test (the child finds its directory in the environment, so the test
// function is both parent and child). The child opens the store and runs
// Backend.Writers (DefaultWriters, 16, unless set) concurrent writers, each mixing, by the roles the plugin
// serves: single saves (SaveEvent), atomic batches of 2 to 6 events
// (BatchSaver, else a transaction), links added with SaveLink to events it
// saved, and small files (SaveFile), alone or referenced by the events that
// follow them. After each write returns, the child writes one line to
// stdout saying what was acknowledged (event ids and positions, a file id,
// a link). The parent kills the child with SIGKILL once it has read a
// random number of acknowledgements (1 to DefaultAcks), or, one time in
// eight, a few milliseconds after the start, while the store may still be
// opening and recovering. Writes in flight at the kill are the point.
//
// After every kill the parent reopens the store and checks:
//
//   - no acknowledged write is lost: every acknowledged event is stored at
//     its acknowledged position, every acknowledged added link is listed,
//     and every acknowledged file has its metadata and its exact bytes;
//   - every stored event, acknowledged or not, is exactly what its writer
//     saved (ids, payloads, files and links are pure functions of the
//     event's id), no id is stored twice, and every file it references is
//     there with its bytes;
//   - every batch is all there or not at all;
//   - positions are dense: 1, 2, 3, … with no gap;
//   - the backend's own check (Backend.Check), when given, passes.
//
// Everything is checked after every kill, except that the bytes of a file
// are read back only for the last child's files and for one in eight of
// the older ones, picked at random (the metadata, with its size and hash,
// of every file is checked every time): so every file's bytes are read
// again now and then without rereading all of them after every kill.
// After the last kill every file's bytes are read back.
//
// The same directory is used for every kill, so later kills land on a
// store that already recovered from earlier ones.
//
// # Settings
//
// The defaults (DefaultKills kills of 1 to DefaultAcks acknowledged writes
// each) keep a backend's run short enough for the normal test command,
// race detector included. A longer run is set by hand through the
// environment:
//
//	TROVE_CRASH_KILLS=2000 TROVE_CRASH_ACKS=5000 go test -run Crash -timeout 2h ./engine
//
// EnvKills sets the number of kills, EnvAcks the most acknowledged writes
// before a kill, EnvSeed the seed of the kill points and the writers'
// choices (the seed of every run is logged; the instants of the kills are
// not reproducible, only the choices).
//
// The package imports testing and is meant for tests only.
package crashtest
