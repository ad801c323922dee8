// Command tryst is the rendezvous and notification gateway.
//
// Usage:
//
//	tryst serve [flags]        run the gateway
//	tryst check <base-url>     check a rendezvous deployment against the contract
//	tryst smp probe <address>  check that an SMP server is reachable
package main

import (
	"context"
	"fmt"
	"os"
)

func main() {
	if err := run(context.Background(), os.Args[1:], os.Getenv, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "tryst:", err)
		os.Exit(1)
	}
}
