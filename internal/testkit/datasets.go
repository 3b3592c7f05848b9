package testkit

import (
	"os"
	"path/filepath"
	"testing"
)

// Dataset returns the path of shared/datasets/<name>: under
// $FIREBREAK_SHARED_DIR when set, else found by walking up from the working
// directory (the repository is checked out next to shared/). It skips
// (fails under FIREBREAK_REQUIRE_TOOLS=1) when absent.
func Dataset(t testing.TB, name string) string {
	t.Helper()
	if dir := os.Getenv("FIREBREAK_SHARED_DIR"); dir != "" {
		p := filepath.Join(dir, "datasets", name)
		if st, err := os.Stat(p); err == nil && st.IsDir() {
			return p
		}
		missing(t, "dataset "+name+" not found under FIREBREAK_SHARED_DIR="+dir)
		return ""
	}
	wd, err := os.Getwd()
	if err != nil {
		missing(t, "dataset "+name+": "+err.Error())
		return ""
	}
	for dir := wd; ; {
		p := filepath.Join(dir, "shared", "datasets", name)
		if st, err := os.Stat(p); err == nil && st.IsDir() {
			return p
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			break
		}
		dir = parent
	}
	missing(t, "dataset "+name+" not found: expected shared/datasets/"+name+" in a parent of "+wd+" (the repository is checked out next to shared/)")
	return ""
}
