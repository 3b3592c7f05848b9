// Command chexec runs one statement on a ClickHouse server through the
// project's store (tests use it to prepare a server they did not start).
//
//	go run ./internal/testkit/chexec DSN SQL
package main

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/firebreak-aiops/firebreak/pipeline/store"
	"github.com/firebreak-aiops/firebreak/pipeline/store/chserver"
)

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: chexec DSN SQL")
		os.Exit(2)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := chserver.Open(ctx, os.Args[1], store.Limits{})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	defer s.Close()
	if err := s.Exec(ctx, os.Args[2]); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
