package chdblib

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// pin is what a fetched library must match; tests use their own.
type pin struct {
	tarballSHA256 string
	libSHA256     string
}

var defaultPin = pin{tarballSHA256: TarballSHA256, libSHA256: LibSHA256}

// marker records a verified library, so later runs need not re-hash 566 MB.
type marker struct {
	Package string `json:"package"`
	Version string `json:"version"`
	SHA256  string `json:"sha256"`
	Size    int64  `json:"size"`
	ModTime int64  `json:"mtime_unix_nano"`
}

// Fetch makes sure the pinned libchdb.so is in CacheDir and returns its path.
// It is idempotent: when the library is there with a marker recording its
// verified sha256, size and modification time, and they still match, it
// returns at once. A library already in place without a marker is verified
// by hashing it. Otherwise it runs `npm pack` into a temporary directory under
// the cache, checks the tarball's sha256, extracts package/libchdb.so (hashing
// while it writes), checks that, fsyncs, renames it into place and writes
// the marker. Progress goes to log as plain lines (nil discards them).
func Fetch(ctx context.Context, log io.Writer) (string, error) {
	if err := checkPlatform(); err != nil {
		return "", err
	}
	return fetch(ctx, log, CacheDir(), defaultPin, npmPack)
}

// packFunc downloads the package tarball into dir and returns its path.
type packFunc func(ctx context.Context, dir string, log io.Writer) (string, error)

func fetch(ctx context.Context, log io.Writer, dir string, p pin, pack packFunc) (string, error) {
	if log == nil {
		log = io.Discard
	}
	lib := filepath.Join(dir, LibFile)
	if markerMatches(dir, p) {
		return lib, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("create cache directory: %w", err)
	}
	if st, err := os.Stat(lib); err == nil && st.Mode().IsRegular() {
		fmt.Fprintf(log, "verifying existing %s (%d MB)...\n", lib, mb(st.Size()))
		sum, err := hashFile(ctx, lib)
		if err != nil {
			return "", err
		}
		if sum == p.libSHA256 {
			if err := writeMarker(dir, p, st); err != nil {
				return "", err
			}
			fmt.Fprintf(log, "chDB library ready: %s\n", lib)
			return lib, nil
		}
		fmt.Fprintf(log, "existing %s has sha256 %s, want %s: fetching it again\n", lib, sum, p.libSHA256)
	}

	tmp, err := os.MkdirTemp(dir, ".fetch-")
	if err != nil {
		return "", fmt.Errorf("create temporary directory in cache: %w", err)
	}
	defer os.RemoveAll(tmp)

	tgz, err := pack(ctx, tmp, log)
	if err != nil {
		return "", err
	}
	if err := install(ctx, tgz, dir, p, log); err != nil {
		return "", err
	}
	fmt.Fprintf(log, "chDB library ready: %s\n", lib)
	return lib, nil
}

// npmPack runs `npm pack <pkg>@<ver> --pack-destination dir`.
func npmPack(ctx context.Context, dir string, log io.Writer) (string, error) {
	npm, err := exec.LookPath("npm")
	if err != nil {
		return "", fmt.Errorf("npm not found: install Node.js (it provides npm) and run `firebreak setup` again, "+
			"or fetch %s@%s yourself and set %s to its %s", Package, Version, EnvLibPath, LibFile)
	}
	spec := Package + "@" + Version
	fmt.Fprintf(log, "fetching %s with npm pack (about 167 MB download)...\n", spec)
	start := time.Now()
	var out bytes.Buffer
	cmd := exec.CommandContext(ctx, npm, "pack", spec, "--pack-destination", dir)
	cmd.Dir = dir // never pack a package.json that happens to be in the working directory
	cmd.Stdout = &out
	cmd.Stderr = &out
	if err := cmd.Run(); err != nil {
		if ctx.Err() != nil {
			return "", ctx.Err()
		}
		return "", fmt.Errorf("npm pack %s failed: %v: %s", spec, err, strings.TrimSpace(lastLines(out.String(), 5)))
	}
	matches, _ := filepath.Glob(filepath.Join(dir, "*.tgz"))
	if len(matches) != 1 {
		return "", fmt.Errorf("npm pack %s: expected one .tgz in %s, found %d (npm said: %s)",
			spec, dir, len(matches), strings.TrimSpace(lastLines(out.String(), 5)))
	}
	fmt.Fprintf(log, "fetched %s in %s\n", filepath.Base(matches[0]), time.Since(start).Round(100*time.Millisecond))
	return matches[0], nil
}

// install verifies the tarball, extracts package/libchdb.so into dir under
// its final name (atomically) and writes the marker. Every temporary file it
// creates is removed on failure.
func install(ctx context.Context, tgz, dir string, p pin, log io.Writer) error {
	fmt.Fprintf(log, "verifying %s sha256...\n", filepath.Base(tgz))
	sum, err := hashFile(ctx, tgz)
	if err != nil {
		return err
	}
	if sum != p.tarballSHA256 {
		os.Remove(tgz)
		return fmt.Errorf("checksum mismatch for %s: sha256 %s, want %s; the download is corrupt or the "+
			"package was changed upstream. It was deleted: run `firebreak setup` again, and if the "+
			"mismatch persists do not use this download (set %s to a library you trust instead)",
			filepath.Base(tgz), sum, p.tarballSHA256, EnvLibPath)
	}

	f, err := os.Open(tgz)
	if err != nil {
		return err
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		return fmt.Errorf("read %s: %w", filepath.Base(tgz), err)
	}
	defer zr.Close()
	tr := tar.NewReader(zr)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return fmt.Errorf("%s has no %s", filepath.Base(tgz), tarMember)
		}
		if err != nil {
			return fmt.Errorf("read %s: %w", filepath.Base(tgz), err)
		}
		if h.Name == tarMember && h.Typeflag == tar.TypeReg {
			return extract(ctx, tr, h.Size, dir, p, log)
		}
	}
}

func extract(ctx context.Context, r io.Reader, size int64, dir string, p pin, log io.Writer) (err error) {
	final := filepath.Join(dir, LibFile)
	out, err := os.CreateTemp(dir, "."+LibFile+".tmp-")
	if err != nil {
		return fmt.Errorf("create temporary file in cache: %w", err)
	}
	tmpName := out.Name()
	defer func() {
		if err != nil {
			out.Close()
			os.Remove(tmpName)
		}
	}()

	h := sha256.New()
	pw := &progressWriter{w: out, h: h, total: size, log: log, ctx: ctx}
	pw.report() // 0/566 MB
	n, err := io.Copy(pw, r)
	if err != nil {
		return fmt.Errorf("extract %s: %w", LibFile, err)
	}
	if n != size {
		return fmt.Errorf("extract %s: wrote %d bytes, the archive says %d", LibFile, n, size)
	}
	fmt.Fprintf(log, "verifying %s sha256...\n", LibFile)
	if got := hex.EncodeToString(h.Sum(nil)); got != p.libSHA256 {
		return fmt.Errorf("checksum mismatch for extracted %s: sha256 %s, want %s; the temporary files "+
			"were deleted: run `firebreak setup` again, and if the mismatch persists set %s to a library you trust",
			LibFile, got, p.libSHA256, EnvLibPath)
	}
	if err = out.Chmod(0o755); err != nil {
		return err
	}
	if err = out.Sync(); err != nil {
		return fmt.Errorf("fsync %s: %w", tmpName, err)
	}
	if err = out.Close(); err != nil {
		return err
	}
	// Remove a stale marker first: a crash between rename and marker write
	// must leave "unverified", never "verified" for the wrong file.
	os.Remove(filepath.Join(dir, markerFile))
	if err = os.Rename(tmpName, final); err != nil {
		return fmt.Errorf("install %s: %w", final, err)
	}
	syncDir(dir)
	st, err := os.Stat(final)
	if err != nil {
		return err
	}
	return writeMarker(dir, p, st)
}

type progressWriter struct {
	w       io.Writer
	h       hash.Hash
	total   int64
	done    int64
	nextPct int64
	log     io.Writer
	ctx     context.Context
}

func (p *progressWriter) Write(b []byte) (int, error) {
	if err := p.ctx.Err(); err != nil {
		return 0, err
	}
	n, err := p.w.Write(b)
	p.h.Write(b[:n])
	p.done += int64(n)
	if p.total > 0 && p.done*100/p.total >= p.nextPct {
		p.report()
	}
	return n, err
}

func (p *progressWriter) report() {
	fmt.Fprintf(p.log, "extracting %s... %d/%d MB\n", LibFile, mb(p.done), mb(p.total))
	if p.total > 0 {
		p.nextPct = p.done*100/p.total/10*10 + 10
	}
}

func markerMatches(dir string, p pin) bool {
	b, err := os.ReadFile(filepath.Join(dir, markerFile))
	if err != nil {
		return false
	}
	var m marker
	if json.Unmarshal(b, &m) != nil {
		return false
	}
	st, err := os.Stat(filepath.Join(dir, LibFile))
	if err != nil || !st.Mode().IsRegular() {
		return false
	}
	return m.SHA256 == p.libSHA256 && m.Size == st.Size() && m.ModTime == st.ModTime().UnixNano()
}

func writeMarker(dir string, p pin, st os.FileInfo) error {
	b, _ := json.MarshalIndent(marker{
		Package: Package, Version: Version, SHA256: p.libSHA256,
		Size: st.Size(), ModTime: st.ModTime().UnixNano(),
	}, "", "  ")
	tmp, err := os.CreateTemp(dir, "."+markerFile+".tmp-")
	if err != nil {
		return err
	}
	_, err = tmp.Write(append(b, '\n'))
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), filepath.Join(dir, markerFile))
	}
	if err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("write %s: %w", markerFile, err)
	}
	syncDir(dir)
	return nil
}

func hashFile(ctx context.Context, path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	buf := make([]byte, 1<<20)
	for {
		if err := ctx.Err(); err != nil {
			return "", err
		}
		n, err := f.Read(buf)
		h.Write(buf[:n])
		if err == io.EOF {
			break
		}
		if err != nil {
			return "", fmt.Errorf("read %s: %w", path, err)
		}
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
}

func mb(n int64) int64 { return n / 1_000_000 }

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, " | ")
}
