package main

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

func TestSupervisorPanicIsAFailure(t *testing.T) {
	sup := newSupervisor(t.Context())
	sup.Group("svc").Go("loop", func(context.Context) error { panic("boom") })
	select {
	case <-sup.Failed():
	case <-time.After(5 * time.Second):
		t.Fatal("a panicking loop did not fail the supervisor")
	}
	if err := sup.Err(); err == nil || !strings.Contains(err.Error(), "svc loop: panic: boom") {
		t.Errorf("Err = %v, want the panic named after its loop", err)
	}
	sup.Wait()
}

func TestSupervisorStoppedLoopsAreNoFailure(t *testing.T) {
	sup := newSupervisor(t.Context())
	g := sup.Group("svc")
	for range 3 {
		g.Go("loop", func(ctx context.Context) error {
			<-ctx.Done()
			return errors.New("stopping is not failing")
		})
	}
	if err := g.Stop(t.Context()); err != nil {
		t.Fatalf("Stop = %v", err)
	}
	sup.Wait()
	if err := sup.Err(); err != nil {
		t.Errorf("Err after a clean stop = %v, want nil", err)
	}
}

func TestLoopGroupStopDeadline(t *testing.T) {
	sup := newSupervisor(t.Context())
	g := sup.Group("svc")
	release := make(chan struct{})
	g.Go("stuck", func(context.Context) error { <-release; return nil })
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Millisecond)
	defer cancel()
	if err := g.Stop(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Stop of a stuck loop = %v, want DeadlineExceeded", err)
	}
	close(release)
	sup.Wait()
}
