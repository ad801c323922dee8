package main

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/trystgw/tryst/handlers"
)

// service is one unit of `tryst serve`, chosen with --services. serve
// drives every selected service through the same steps, in the order of
// serviceList:
//
//  1. Check, for every service before any starts: validate the
//     configuration and load what can be loaded without creating anything
//     (push credentials, an existing master key). A problem stops serve
//     before the data directory or a database is touched.
//  2. Start: open what the service needs, mostly through the shared
//     resources of serveEnv (opened on first use, so a service that does
//     not ask for the database never opens it), and start its background
//     loops on its loopGroup. A loop that fails ends serve with its error.
//  3. Handlers, Ready, Collectors: the service's part of the HTTP layer,
//     its readiness checks (/readyz) and its metrics (/metrics).
//  4. Stop, in reverse order, after the HTTP server has drained and the
//     service's loops have returned; then serveEnv closes the shared
//     resources in reverse order of opening.
//
// A new service is one file with a type implementing service and one line
// in serviceList.
type service interface {
	// Name is how --services selects the service.
	Name() string
	// Check validates the service's configuration. It must not create
	// files, open databases or start goroutines.
	Check(ctx context.Context, env *serveEnv) error
	// Start opens the service and runs its background loops on loops.
	// ctx ends when serve has started up; loops get their own context.
	Start(ctx context.Context, env *serveEnv, loops *loopGroup) error
	// Handlers sets the service's collaborators of the HTTP layer.
	Handlers(deps *handlers.Deps)
	// Ready returns the checks /readyz runs for the service.
	Ready() []handlers.ReadyCheck
	// Collectors returns the service's metrics, registered once it
	// started.
	Collectors() []prometheus.Collector
	// Stop releases what Start opened, within ctx. It is called once
	// after a successful Start, and after the service's loops returned.
	Stop(ctx context.Context) error
}

// longPoller is implemented by services whose requests may wait: the HTTP
// server's write timeout must outlast their longest wait.
type longPoller interface {
	LongestWait() time.Duration
}

// serviceList returns every service in start order.
func serviceList() []service {
	return []service{
		&rendezvousService{},
		&notificationsService{},
		&deliveryService{},
	}
}

// serviceNames lists the services --services accepts.
func serviceNames() []string {
	var names []string
	for _, s := range serviceList() {
		names = append(names, s.Name())
	}
	return names
}

// parseServices parses the --services value: "all" or a comma-separated
// list of names. The result is in start order, without repeats.
func parseServices(s string) ([]string, error) {
	all := serviceNames()
	if strings.TrimSpace(s) == "all" {
		return all, nil
	}
	want := splitList(s)
	if len(want) == 0 {
		return nil, fmt.Errorf("services: none selected (want all or some of %s)", strings.Join(all, ", "))
	}
	for _, name := range want {
		if !slices.Contains(all, name) {
			return nil, fmt.Errorf("services: unknown service %q (want all or some of %s)", name, strings.Join(all, ", "))
		}
	}
	var out []string
	for _, name := range all {
		if slices.Contains(want, name) {
			out = append(out, name)
		}
	}
	return out, nil
}

// selectServices returns the services named, in start order.
func selectServices(names []string) []service {
	var out []service
	for _, s := range serviceList() {
		if slices.Contains(names, s.Name()) {
			out = append(out, s)
		}
	}
	return out
}
