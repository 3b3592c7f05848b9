package main

import (
	"context"
	"flag"
	"fmt"
	"os"

	"github.com/firebreak-aiops/firebreak/pipeline/chdblib"
)

func cmdSetup(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("setup", flag.ContinueOnError)
	fs.Usage = usageFor(fs, "firebreak setup: fetch the embedded ClickHouse engine (npm package "+
		chdblib.Package+"@"+chdblib.Version+"), verify its checksum and cache it in "+chdblib.CacheDir()+
		".\nIdempotent; prints the library path. Needs npm. Set FIREBREAK_CACHE_DIR to cache elsewhere.")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	path, err := chdblib.Fetch(ctx, os.Stderr)
	if err != nil {
		return err
	}
	fmt.Println(path)
	return nil
}

// locateOrFetch finds the engine; with fetch set (demo) it runs setup first.
func locateOrFetch(ctx context.Context, fetch bool) (string, error) {
	path, err := chdblib.Locate()
	if err == nil || !fetch {
		return path, err
	}
	fmt.Fprintln(os.Stderr, "firebreak: the embedded ClickHouse engine is not installed yet; fetching it (one time, ~180 MB)")
	return chdblib.Fetch(ctx, os.Stderr)
}
