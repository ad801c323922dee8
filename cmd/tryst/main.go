// Command tryst is the rendezvous and notification gateway.
//
// Usage:
//
//	tryst serve [flags]        run the gateway
//	tryst check <base-url>     check a rendezvous deployment against the contract
//	tryst smp probe <address>  check that an SMP server is reachable
//
// `tryst serve` runs the services named by --services (service.go): each
// is checked before anything is created, started in order with its
// background loops under one supervisor (supervisor.go), and stopped in
// reverse order; the resources services share are opened on first use
// and closed last (env.go). A new service is one file and one line in
// serviceList.
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
