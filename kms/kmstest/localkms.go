package kmstest

import (
	"bufio"
	"context"
	"go/build"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	kmsapi "github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/sluicehq/sluice/kms/awskms"
)

// The server StartLocalKMS runs, at the version the Makefile's tools
// target installs (a test keeps the two equal). local-kms has no tagged
// release on the module proxy, so the pin is a pseudo-version.
const (
	LocalKMSModule  = "github.com/nsmithuk/local-kms"
	LocalKMSVersion = "v0.0.0-20260228092603-2a5e92d09ab6"
)

// BinaryEnv names an environment variable that, when set, is the path of
// the local-kms binary (otherwise PATH, $GOBIN and $GOPATH/bin are
// searched).
const BinaryEnv = "SLUICE_LOCAL_KMS"

// startedRE matches the server's "Local KMS started on 0.0.0.0:PORT".
var startedRE = regexp.MustCompile(`started on \S*:(\d+)`)

// LocalKMS is a running local-kms server.
type LocalKMS struct {
	// Endpoint is its URL on 127.0.0.1.
	Endpoint string
	// Region is the region it serves.
	Region string
	// Credentials are static test credentials (it checks no signature).
	Credentials aws.CredentialsProvider

	mu  sync.Mutex
	out strings.Builder
}

// StartLocalKMS starts local-kms on a free port with its data in a test
// folder, and stops it when the test ends. It fails the test if the
// binary is missing. It also points the AWS SDK's default configuration
// away from this machine's AWS files, profile, region and instance
// metadata (t.Setenv), so a test depends on nothing but the server.
//
// local-kms listens on every interface (it takes only a port); the tests
// talk to it on 127.0.0.1 alone. Its port is 0, so the kernel picks a
// free one and the server's start-up line tells which: no race with
// another process for a port picked in advance.
func StartLocalKMS(t testing.TB) *LocalKMS {
	t.Helper()
	isolateAWSEnv(t)
	bin := findBinary()
	if bin == "" {
		t.Fatalf("local-kms binary not found (looked at $%s, PATH, $GOBIN, $GOPATH/bin); "+
			"install it with `make tools` or `go install %s@%s`", BinaryEnv, LocalKMSModule, LocalKMSVersion)
	}
	dir := t.TempDir()
	s := &LocalKMS{
		Region:      "us-east-1",
		Credentials: credentials.NewStaticCredentialsProvider("AKIDLOCALKMS", "local-kms-secret", ""),
	}
	cmd := exec.Command(bin)
	cmd.Env = []string{
		"PORT=0",
		"KMS_REGION=" + s.Region,
		"KMS_ACCOUNT_ID=111122223333",
		"KMS_DATA_PATH=" + filepath.Join(dir, "data"),
		"KMS_SEED_PATH=" + filepath.Join(dir, "no-seed.yaml"),
	}
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatalf("pipe: %v", err)
	}
	cmd.Stdout, cmd.Stderr = pw, pw
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", bin, err)
	}
	pw.Close()
	exited := make(chan struct{})
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited
	})
	port := make(chan string, 1)
	go func() {
		defer close(exited)
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			line := sc.Text()
			s.mu.Lock()
			s.out.WriteString(line + "\n")
			s.mu.Unlock()
			if m := startedRE.FindStringSubmatch(line); m != nil {
				select {
				case port <- m[1]:
				default:
				}
			}
		}
		pr.Close()
		_ = cmd.Wait()
	}()
	select {
	case p := <-port:
		s.Endpoint = "http://127.0.0.1:" + p
	case <-exited:
		t.Fatalf("local-kms exited before it started:\n%s", s.Output())
	case <-time.After(30 * time.Second):
		t.Fatalf("local-kms did not start within 30s:\n%s", s.Output())
	}
	return s
}

// Output is everything the server printed so far.
func (s *LocalKMS) Output() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.out.String()
}

// Client is an AWS KMS client for the server.
func (s *LocalKMS) Client() *kmsapi.Client {
	return kmsapi.New(kmsapi.Options{
		Region:       s.Region,
		Credentials:  s.Credentials,
		BaseEndpoint: aws.String(s.Endpoint),
	})
}

// CreateKey creates a symmetric ENCRYPT_DECRYPT key and returns its id.
func (s *LocalKMS) CreateKey(t testing.TB) string {
	t.Helper()
	out, err := s.Client().CreateKey(context.Background(), &kmsapi.CreateKeyInput{
		Description: aws.String("sluice test key " + t.Name()),
	})
	if err != nil {
		t.Fatalf("CreateKey: %v\nserver output:\n%s", err, s.Output())
	}
	return aws.ToString(out.KeyMetadata.KeyId)
}

// NewKey creates a key (CreateKey) and returns an awskms backend for it.
func (s *LocalKMS) NewKey(t testing.TB) *awskms.KMS {
	t.Helper()
	return s.KMS(t, s.CreateKey(t))
}

// KMS returns an awskms backend for keyID (an id, ARN or alias).
func (s *LocalKMS) KMS(t testing.TB, keyID string) *awskms.KMS {
	t.Helper()
	k, err := awskms.New(context.Background(), s.Config(keyID))
	if err != nil {
		t.Fatalf("awskms.New(%s): %v\nserver output:\n%s", keyID, err, s.Output())
	}
	return k
}

// Config is the awskms configuration that reaches the server.
func (s *LocalKMS) Config(keyID string) awskms.Config {
	return awskms.Config{KeyID: keyID, Region: s.Region, Endpoint: s.Endpoint, Credentials: s.Credentials}
}

// isolateAWSEnv keeps the SDK's default chain away from this machine's
// AWS files and instance metadata.
func isolateAWSEnv(t testing.TB) {
	none := filepath.Join(t.TempDir(), "none")
	for k, v := range map[string]string{
		"AWS_CONFIG_FILE":             none,
		"AWS_SHARED_CREDENTIALS_FILE": none,
		"AWS_EC2_METADATA_DISABLED":   "true",
		"AWS_REGION":                  "",
		"AWS_DEFAULT_REGION":          "",
		"AWS_PROFILE":                 "",
		"AWS_ACCESS_KEY_ID":           "",
		"AWS_SECRET_ACCESS_KEY":       "",
		"AWS_ENDPOINT_URL":            "",
		"AWS_ENDPOINT_URL_KMS":        "",
	} {
		t.Setenv(k, v)
	}
}

// findBinary returns the local-kms binary's path, or "".
func findBinary() string {
	if p := os.Getenv(BinaryEnv); p != "" {
		if _, err := os.Stat(p); err != nil {
			return ""
		}
		return p
	}
	if p, err := exec.LookPath("local-kms"); err == nil {
		return p
	}
	dirs := []string{os.Getenv("GOBIN")}
	for _, gp := range filepath.SplitList(build.Default.GOPATH) {
		dirs = append(dirs, filepath.Join(gp, "bin"))
	}
	for _, d := range dirs {
		if d == "" {
			continue
		}
		p := filepath.Join(d, "local-kms")
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0 {
			return p
		}
	}
	return ""
}
