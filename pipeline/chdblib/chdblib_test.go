package chdblib

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestCacheDir(t *testing.T) {
	dir := t.TempDir()
	t.Setenv(EnvCacheDir, dir)
	if got, want := CacheDir(), filepath.Join(dir, "chdb", Version); got != want {
		t.Fatalf("CacheDir() = %q, want %q", got, want)
	}
	t.Setenv(EnvCacheDir, "")
	base, err := os.UserCacheDir()
	if err != nil {
		t.Skip("no user cache dir:", err)
	}
	if got, want := CacheDir(), filepath.Join(base, "firebreak", "chdb", Version); got != want {
		t.Fatalf("CacheDir() = %q, want %q", got, want)
	}
}

func TestLocate(t *testing.T) {
	cache := t.TempDir()
	t.Setenv(EnvCacheDir, cache)

	t.Run("env set and present", func(t *testing.T) {
		p := filepath.Join(t.TempDir(), "custom.so")
		if err := os.WriteFile(p, []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
		t.Setenv(EnvLibPath, p)
		got, err := Locate()
		if err != nil || got != p {
			t.Fatalf("Locate() = %q, %v; want %q", got, err, p)
		}
	})
	t.Run("env set but missing", func(t *testing.T) {
		p := filepath.Join(t.TempDir(), "missing.so")
		t.Setenv(EnvLibPath, p)
		_, err := Locate()
		if err == nil || !strings.Contains(err.Error(), p) || !strings.Contains(err.Error(), "does not exist") {
			t.Fatalf("Locate() error = %v, want one naming %s as missing", err, p)
		}
	})
	t.Run("env set to a directory", func(t *testing.T) {
		t.Setenv(EnvLibPath, t.TempDir())
		if _, err := Locate(); err == nil {
			t.Fatal("Locate() accepted a directory")
		}
	})
	t.Run("not installed", func(t *testing.T) {
		t.Setenv(EnvLibPath, "")
		_, err := Locate()
		if !errors.Is(err, ErrNotInstalled) {
			t.Fatalf("Locate() error = %v, want ErrNotInstalled", err)
		}
		msg := err.Error()
		if strings.Contains(msg, "\n") || !strings.Contains(msg, "firebreak setup") || !strings.Contains(msg, EnvLibPath) {
			t.Fatalf("error %q should be one line naming `firebreak setup` and %s", msg, EnvLibPath)
		}
	})
	t.Run("cached", func(t *testing.T) {
		t.Setenv(EnvLibPath, "")
		dir := CacheDir()
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(dir, LibFile)
		if err := os.WriteFile(p, []byte("x"), 0o755); err != nil {
			t.Fatal(err)
		}
		got, err := Locate()
		if err != nil || got != p {
			t.Fatalf("Locate() = %q, %v; want %q", got, err, p)
		}
	})
}

// makeTarball builds a small npm-like tarball holding package/libchdb.so.
func makeTarball(t *testing.T, dir string, lib []byte) (path, tarSum, libSum string) {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	add := func(name string, body []byte) {
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(body)), Typeflag: tar.TypeReg, ModTime: time.Unix(499162500, 0)}); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write(body); err != nil {
			t.Fatal(err)
		}
	}
	add("package/package.json", []byte(`{"name":"@chdb/lib-linux-x64-gnu"}`))
	add("package/"+LibFile, lib)
	add("package/README.md", []byte("readme"))
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	path = filepath.Join(dir, "chdb-lib-linux-x64-gnu-"+Version+".tgz")
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	ts := sha256.Sum256(buf.Bytes())
	ls := sha256.Sum256(lib)
	return path, hex.EncodeToString(ts[:]), hex.EncodeToString(ls[:])
}

func fakeLib() []byte {
	b := make([]byte, 3<<20+123)
	for i := range b {
		b[i] = byte(i*7 + i>>9)
	}
	return b
}

// packFrom returns a packFunc that copies a prepared tarball, counting calls.
func packFrom(t *testing.T, src string, calls *int) packFunc {
	return func(ctx context.Context, dir string, log io.Writer) (string, error) {
		*calls++
		b, err := os.ReadFile(src)
		if err != nil {
			return "", err
		}
		dst := filepath.Join(dir, filepath.Base(src))
		return dst, os.WriteFile(dst, b, 0o644)
	}
}

func listDir(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	return names
}

func TestFetchExtractsAndVerifies(t *testing.T) {
	ctx := context.Background()
	lib := fakeLib()
	src, tarSum, libSum := makeTarball(t, t.TempDir(), lib)
	p := pin{tarballSHA256: tarSum, libSHA256: libSum}
	cache := filepath.Join(t.TempDir(), "chdb", Version)

	var calls int
	var log bytes.Buffer
	got, err := fetch(ctx, &log, cache, p, packFrom(t, src, &calls))
	if err != nil {
		t.Fatal(err)
	}
	if got != filepath.Join(cache, LibFile) {
		t.Fatalf("path %q", got)
	}
	b, err := os.ReadFile(got)
	if err != nil || !bytes.Equal(b, lib) {
		t.Fatalf("extracted library differs from the tarball's (err %v)", err)
	}
	if st, _ := os.Stat(got); st.Mode().Perm()&0o100 == 0 {
		t.Errorf("library mode %v is not executable", st.Mode())
	}
	if names := listDir(t, cache); strings.Join(names, ",") != LibFile+","+markerFile {
		t.Errorf("cache holds %v, want only the library and its marker", names)
	}
	out := log.String()
	for _, want := range []string{"verifying", "extracting " + LibFile + "... 0/3 MB", "3/3 MB", "ready"} {
		if !strings.Contains(out, want) {
			t.Errorf("progress log lacks %q:\n%s", want, out)
		}
	}
	if n := strings.Count(out, "extracting"); n < 5 || n > 12 {
		t.Errorf("%d progress lines, want about one per 10%%:\n%s", n, out)
	}
	if strings.Contains(out, "\r") {
		t.Error("progress uses carriage returns; want plain lines")
	}

	// Idempotent: the marker matches, nothing is fetched or logged.
	log.Reset()
	if _, err := fetch(ctx, &log, cache, p, packFrom(t, src, &calls)); err != nil {
		t.Fatal(err)
	}
	if calls != 1 || log.Len() != 0 {
		t.Fatalf("second fetch packed %d times and logged %q; want no work", calls, log.String())
	}

	// A library whose size changed invalidates the marker: refetch.
	if err := os.WriteFile(got, []byte("truncated"), 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := fetch(ctx, &log, cache, p, packFrom(t, src, &calls)); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(got); !bytes.Equal(b, lib) || calls != 2 {
		t.Fatalf("damaged library not replaced (calls %d)", calls)
	}

	// A good library without a marker is verified in place, not refetched.
	if err := os.Remove(filepath.Join(cache, markerFile)); err != nil {
		t.Fatal(err)
	}
	if _, err := fetch(ctx, &log, cache, p, packFrom(t, src, &calls)); err != nil {
		t.Fatal(err)
	}
	if calls != 2 || !markerMatches(cache, p) {
		t.Fatalf("unmarked library: calls %d, marker valid %v", calls, markerMatches(cache, p))
	}
}

func TestFetchTarballChecksumMismatch(t *testing.T) {
	src, _, libSum := makeTarball(t, t.TempDir(), fakeLib())
	p := pin{tarballSHA256: strings.Repeat("0", 64), libSHA256: libSum}
	cache := t.TempDir()
	var calls int
	_, err := fetch(context.Background(), io.Discard, cache, p, packFrom(t, src, &calls))
	if err == nil || !strings.Contains(err.Error(), "checksum mismatch") || !strings.Contains(err.Error(), "firebreak setup") {
		t.Fatalf("error = %v, want a checksum mismatch saying what to do", err)
	}
	if names := listDir(t, cache); len(names) != 0 {
		t.Fatalf("cache not cleaned: %v", names)
	}
}

func TestFetchLibraryChecksumMismatch(t *testing.T) {
	src, tarSum, _ := makeTarball(t, t.TempDir(), fakeLib())
	p := pin{tarballSHA256: tarSum, libSHA256: strings.Repeat("f", 64)}
	cache := t.TempDir()
	var calls int
	_, err := fetch(context.Background(), io.Discard, cache, p, packFrom(t, src, &calls))
	if err == nil || !strings.Contains(err.Error(), "checksum mismatch for extracted") {
		t.Fatalf("error = %v, want an extracted-library checksum mismatch", err)
	}
	if names := listDir(t, cache); len(names) != 0 {
		t.Fatalf("cache not cleaned: %v", names)
	}
}

func TestFetchMissingMember(t *testing.T) {
	dir := t.TempDir()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	tw.WriteHeader(&tar.Header{Name: "package/other", Size: 1, Mode: 0o644, Typeflag: tar.TypeReg})
	tw.Write([]byte("x"))
	tw.Close()
	zw.Close()
	src := filepath.Join(dir, "x.tgz")
	os.WriteFile(src, buf.Bytes(), 0o644)
	sum := sha256.Sum256(buf.Bytes())
	p := pin{tarballSHA256: hex.EncodeToString(sum[:]), libSHA256: strings.Repeat("0", 64)}
	var calls int
	_, err := fetch(context.Background(), io.Discard, t.TempDir(), p, packFrom(t, src, &calls))
	if err == nil || !strings.Contains(err.Error(), "has no package/"+LibFile) {
		t.Fatalf("error = %v", err)
	}
}

// TestFetchNPM really downloads the pinned package (167 MB) into a temporary
// cache. It runs only with FIREBREAK_TEST_NPM_FETCH=1.
func TestFetchNPM(t *testing.T) {
	if os.Getenv("FIREBREAK_TEST_NPM_FETCH") != "1" {
		t.Skip("set FIREBREAK_TEST_NPM_FETCH=1 to download the chDB package with npm")
	}
	t.Setenv(EnvCacheDir, t.TempDir())
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	var log bytes.Buffer
	p, err := Fetch(ctx, io.MultiWriter(&log, testWriter{t}))
	if err != nil {
		t.Fatal(err)
	}
	if sum, err := hashFile(ctx, p); err != nil || sum != LibSHA256 {
		t.Fatalf("fetched library sha256 %s (%v), want %s", sum, err, LibSHA256)
	}
	if got, err := Locate(); err != nil || got != p {
		t.Fatalf("Locate() = %q, %v", got, err)
	}
	start := time.Now()
	if _, err := Fetch(ctx, io.Discard); err != nil || time.Since(start) > time.Second {
		t.Fatalf("second Fetch: %v after %s, want an immediate return", err, time.Since(start))
	}
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(b []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(b), "\n"))
	return len(b), nil
}
