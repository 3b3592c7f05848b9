// Package chdblib locates and fetches libchdb.so, the embedded ClickHouse
// engine that package store/chdb loads in-process.
//
// The library is too large to ship with firebreak (566 MB), so `firebreak
// setup` fetches a pinned npm package into a per-user cache directory once,
// checks it against pinned SHA-256 sums, and records the verification in a
// marker file. At run time Locate finds it there, or wherever CHDB_LIB_PATH
// points.
package chdblib

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
)

// The pinned chDB build. TarballSHA256 is the sum of the npm tarball
// (`npm pack` output), LibSHA256 the sum of package/libchdb.so inside it.
const (
	Package       = "@chdb/lib-linux-x64-gnu"
	Version       = "26.7.3-stable.1"
	TarballSHA256 = "c0d32b129e988f2b9a9a31c9141aecf5e1e2453f9a079efc4d36ab8e3f92b2ad"
	LibSHA256     = "36ad4e999882821ef13cf2d0f52c93f48e6ee1b4498b35a201c23ce4b8d15bf5"
)

const (
	// LibFile is the library's file name, in the tarball (under package/)
	// and in the cache directory.
	LibFile = "libchdb.so"
	// EnvLibPath overrides the cache: the full path of a libchdb.so.
	EnvLibPath = "CHDB_LIB_PATH"
	// EnvCacheDir overrides the per-user cache root.
	EnvCacheDir = "FIREBREAK_CACHE_DIR"

	markerFile = LibFile + ".verified"
	tarMember  = "package/" + LibFile
)

// ErrNotInstalled is returned (wrapped) by Locate when no library is found.
var ErrNotInstalled = errors.New("chDB library not installed: run `firebreak setup` (or set " + EnvLibPath + " to a libchdb.so)")

// ErrUnsupportedPlatform is returned (wrapped) on anything but linux/amd64.
var ErrUnsupportedPlatform = errors.New("the embedded ClickHouse engine (chDB) needs linux/amd64; on " +
	runtime.GOOS + "/" + runtime.GOARCH + " run a ClickHouse server and pass --clickhouse-dsn")

// CacheDir is where the pinned library version lives:
// $FIREBREAK_CACHE_DIR/chdb/<Version>, or <user cache dir>/firebreak/chdb/<Version>.
func CacheDir() string {
	root := os.Getenv(EnvCacheDir)
	if root == "" {
		base, err := os.UserCacheDir()
		if err != nil {
			base = os.TempDir()
		}
		root = filepath.Join(base, "firebreak")
	}
	return filepath.Join(root, "chdb", Version)
}

// Locate returns the path of libchdb.so: CHDB_LIB_PATH when set (it must
// exist), else the cached copy. The error wraps ErrNotInstalled when nothing
// is found.
func Locate() (string, error) {
	if p := os.Getenv(EnvLibPath); p != "" {
		st, err := os.Stat(p)
		if err != nil {
			if errors.Is(err, os.ErrNotExist) {
				return "", fmt.Errorf("%s=%s: file does not exist: %w", EnvLibPath, p, ErrNotInstalled)
			}
			return "", fmt.Errorf("%s=%s: %w", EnvLibPath, p, err)
		}
		if st.IsDir() {
			return "", fmt.Errorf("%s=%s is a directory, want the path of %s", EnvLibPath, p, LibFile)
		}
		return p, nil
	}
	p := filepath.Join(CacheDir(), LibFile)
	if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() {
		return p, nil
	}
	return "", fmt.Errorf("no %s in %s: %w", LibFile, filepath.Dir(p), ErrNotInstalled)
}

func checkPlatform() error {
	if runtime.GOOS != "linux" || runtime.GOARCH != "amd64" {
		return ErrUnsupportedPlatform
	}
	return nil
}
