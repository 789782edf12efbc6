package testservices

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
)

// VersitygwVersion is the versitygw release installed when none is found.
const VersitygwVersion = "v1.8.0"

// versitygwPackage is what `go install` builds.
const versitygwPackage = "github.com/versity/versitygw/cmd/versitygw"

// s3Server is the process's versitygw, shared by every test using it.
var s3Server struct {
	sync.Mutex
	users     int
	proc      *exec.Cmd
	dir       string
	endpoint  string
	accessKey string
	secretKey string
	done      chan struct{} // closed when proc has exited
}

// S3 returns the endpoint ("http://127.0.0.1:PORT") and root credentials of
// a running S3-compatible server, starting one when none runs. The server
// stops when the last test that asked for it has finished.
func S3(t testing.TB) (endpoint, accessKey, secretKey string) {
	t.Helper()
	srv := &s3Server
	srv.Lock()
	defer srv.Unlock()
	if srv.users == 0 {
		if err := startS3Locked(t); err != nil {
			t.Fatalf("testservices: S3: %v", err)
		}
	}
	srv.users++
	t.Cleanup(func() {
		srv.Lock()
		defer srv.Unlock()
		srv.users--
		if srv.users == 0 {
			stopS3Locked()
		}
	})
	return srv.endpoint, srv.accessKey, srv.secretKey
}

// S3Bucket is S3 plus a new, empty bucket of its own.
func S3Bucket(t testing.TB) (endpoint, accessKey, secretKey, bucket string) {
	t.Helper()
	endpoint, accessKey, secretKey = S3(t)
	bucket = "test-" + randomHex(6)
	client := S3Client(endpoint, accessKey, secretKey)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := client.CreateBucket(ctx, &awss3.CreateBucketInput{Bucket: aws.String(bucket)}); err != nil {
		t.Fatalf("testservices: create bucket %s: %v", bucket, err)
	}
	return endpoint, accessKey, secretKey, bucket
}

// S3Client returns a path-style client for a test server.
func S3Client(endpoint, accessKey, secretKey string) *awss3.Client {
	return awss3.New(awss3.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(endpoint),
		UsePathStyle: true,
		Credentials:  credentials.NewStaticCredentialsProvider(accessKey, secretKey, ""),
	})
}

func startS3Locked(t testing.TB) error {
	bin, err := versitygw(t)
	if err != nil {
		return err
	}
	srv := &s3Server
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ {
		dir, err := os.MkdirTemp("", "trove-versitygw-")
		if err != nil {
			return err
		}
		port, err := freePort()
		if err != nil {
			os.RemoveAll(dir)
			return err
		}
		ak, sk := "trove"+randomHex(4), randomHex(16)
		addr := fmt.Sprintf("127.0.0.1:%d", port)
		logf, err := os.Create(filepath.Join(dir, "versitygw.log"))
		if err != nil {
			os.RemoveAll(dir)
			return err
		}
		root := filepath.Join(dir, "root")
		if err := os.Mkdir(root, 0o755); err != nil {
			os.RemoveAll(dir)
			return err
		}
		cmd := exec.Command(bin, "--port", addr, "--access", ak, "--secret", sk, "--quiet", "posix", root)
		cmd.Stdout, cmd.Stderr = logf, logf
		cmd.Env = cleanEnv()
		// The server dies with the test process, even when it is killed.
		cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
		done := make(chan struct{})
		started := make(chan error, 1)
		// Pdeathsig fires when the starting thread exits: start from a
		// thread that lives as long as the server.
		go func() {
			runtime.LockOSThread()
			if err := cmd.Start(); err != nil {
				started <- err
				close(done)
				return
			}
			started <- nil
			_ = cmd.Wait()
			close(done)
		}()
		if err := <-started; err != nil {
			logf.Close()
			os.RemoveAll(dir)
			return fmt.Errorf("start %s: %w", bin, err)
		}
		endpoint := "http://" + addr
		if err := waitHTTP(endpoint, done, 60*time.Second); err != nil {
			_ = cmd.Process.Kill()
			<-done
			logf.Close()
			out, _ := os.ReadFile(logf.Name())
			os.RemoveAll(dir)
			lastErr = fmt.Errorf("versitygw on %s: %w; its output:\n%s", addr, err, out)
			continue
		}
		logf.Close()
		srv.proc, srv.dir, srv.endpoint, srv.accessKey, srv.secretKey, srv.done = cmd, dir, endpoint, ak, sk, done
		return nil
	}
	return lastErr
}

func stopS3Locked() {
	srv := &s3Server
	if srv.proc == nil {
		return
	}
	_ = srv.proc.Process.Signal(syscall.SIGTERM)
	select {
	case <-srv.done:
	case <-time.After(10 * time.Second):
		_ = srv.proc.Process.Kill()
		<-srv.done
	}
	os.RemoveAll(srv.dir)
	srv.proc, srv.dir, srv.endpoint, srv.done = nil, "", "", nil
}

// waitHTTP waits until the server answers any HTTP request.
func waitHTTP(endpoint string, exited <-chan struct{}, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	client := &http.Client{Timeout: 2 * time.Second}
	for {
		select {
		case <-exited:
			return errors.New("exited before answering")
		default:
		}
		resp, err := client.Get(endpoint + "/")
		if err == nil {
			resp.Body.Close()
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("no answer within %v: %w", timeout, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// versitygw finds the binary, installing it when needed.
func versitygw(t testing.TB) (string, error) {
	if p, ok := findVersitygw(); ok {
		return p, nil
	}
	// Test packages run in parallel processes: one installs, the others
	// wait on the lock and then find the binary.
	lockPath := filepath.Join(os.TempDir(), "trove-versitygw-install.lock")
	lock, err := os.OpenFile(lockPath, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return "", fmt.Errorf("install lock: %w", err)
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		return "", fmt.Errorf("install lock: %w", err)
	}
	defer syscall.Flock(int(lock.Fd()), syscall.LOCK_UN)
	if p, ok := findVersitygw(); ok {
		return p, nil
	}
	t.Logf("testservices: installing versitygw %s (go install)", VersitygwVersion)
	cmd := exec.Command("go", "install", versitygwPackage+"@"+VersitygwVersion)
	cmd.Dir = os.TempDir()
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("go install %s@%s: %w\n%s", versitygwPackage, VersitygwVersion, err, out.String())
	}
	if p, ok := findVersitygw(); ok {
		return p, nil
	}
	return "", fmt.Errorf("go install %s@%s succeeded but no versitygw is on PATH or in $(go env GOPATH)/bin", versitygwPackage, VersitygwVersion)
}

func findVersitygw() (string, bool) {
	if p, err := exec.LookPath("versitygw"); err == nil {
		return p, true
	}
	for _, dir := range goBinDirs() {
		p := filepath.Join(dir, "versitygw")
		if st, err := os.Stat(p); err == nil && !st.IsDir() {
			return p, true
		}
	}
	return "", false
}

// goBinDirs lists where `go install` puts binaries: $GOBIN, else the bin
// directory of each GOPATH entry.
func goBinDirs() []string {
	out, err := exec.Command("go", "env", "GOBIN", "GOPATH").Output()
	if err != nil {
		return nil
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	var dirs []string
	if len(lines) > 0 && strings.TrimSpace(lines[0]) != "" {
		dirs = append(dirs, strings.TrimSpace(lines[0]))
	}
	if len(lines) > 1 {
		for _, p := range filepath.SplitList(strings.TrimSpace(lines[1])) {
			dirs = append(dirs, filepath.Join(p, "bin"))
		}
	}
	return dirs
}

// cleanEnv is the environment without versitygw's own settings, so that
// the flags alone configure it.
func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "VGW_") || strings.HasPrefix(kv, "ROOT_") {
			continue
		}
		env = append(env, kv)
	}
	return env
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
