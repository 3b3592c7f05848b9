//go:build !(linux && amd64)

package chdb

import (
	"errors"
	"runtime"
)

var errPlatform = errors.New("chdb: the embedded ClickHouse engine needs linux/amd64 (this is " +
	runtime.GOOS + "/" + runtime.GOARCH + "); run a ClickHouse server and pass --clickhouse-dsn")

func loadLibrary(string) error { return errPlatform }

func libraryLoaded() bool { return false }

func guardSignals(fn func()) { fn() }
