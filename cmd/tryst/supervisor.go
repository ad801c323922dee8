package main

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"sync"
)

// supervisor runs the background loops of `tryst serve`, errgroup style:
// every loop runs until serve stops it, and the first loop that fails
// (returns an error, returns early or panics) cancels the supervisor, so
// that serve shuts down and exits with that loop's error instead of
// running on without it.
//
// Loops belong to groups, one per service, so that a service's loops stop
// when the service does, in the service order; the supervisor waits for
// all of them.
type supervisor struct {
	ctx    context.Context // cancelled, with the failure as cause, at the first failure
	cancel context.CancelCauseFunc
	wg     sync.WaitGroup
}

// errLoopReturned is the failure of a loop that returned nil while it was
// meant to be running.
var errLoopReturned = errors.New("returned before it was stopped")

// newSupervisor returns a supervisor whose loops stop at the latest when
// parent ends.
func newSupervisor(parent context.Context) *supervisor {
	ctx, cancel := context.WithCancelCause(parent)
	return &supervisor{ctx: ctx, cancel: cancel}
}

// Failed is closed when a loop failed (or the parent context ended).
func (s *supervisor) Failed() <-chan struct{} { return s.ctx.Done() }

// Err returns the first loop's failure, or nil when none failed.
func (s *supervisor) Err() error {
	if f, ok := errors.AsType[*loopFailure](context.Cause(s.ctx)); ok {
		return f
	}
	return nil
}

// loopFailure names the loop that failed.
type loopFailure struct {
	loop string
	err  error
}

func (e *loopFailure) Error() string { return fmt.Sprintf("%s: %v", e.loop, e.err) }
func (e *loopFailure) Unwrap() error { return e.err }

// Wait waits for every loop of every group to return.
func (s *supervisor) Wait() { s.wg.Wait() }

// Group returns a new group of loops, named after its owner.
func (s *supervisor) Group(owner string) *loopGroup {
	ctx, cancel := context.WithCancel(s.ctx)
	return &loopGroup{sup: s, owner: owner, ctx: ctx, cancel: cancel}
}

// loopGroup is the loops of one service.
type loopGroup struct {
	sup    *supervisor
	owner  string
	ctx    context.Context // cancelled by Stop or by the supervisor
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// Go runs loop in its own goroutine until the group stops. loop must
// return when its ctx ends; whatever it returns then is ignored. If it
// returns or panics before that, the supervisor fails with its error.
func (g *loopGroup) Go(name string, loop func(ctx context.Context) error) {
	name = g.owner + " " + name
	g.wg.Add(1)
	g.sup.wg.Add(1)
	go func() {
		defer g.sup.wg.Done()
		defer g.wg.Done()
		err := runLoop(g.ctx, loop)
		if g.ctx.Err() != nil {
			return // stopped: whatever it returned is how it stopped
		}
		if err == nil {
			err = errLoopReturned
		}
		g.sup.cancel(&loopFailure{loop: name, err: err})
	}()
}

// runLoop calls loop, turning a panic into an error.
func runLoop(ctx context.Context, loop func(ctx context.Context) error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("panic: %v\n%s", r, debug.Stack())
		}
	}()
	return loop(ctx)
}

// Stop cancels the group's loops and waits for them to return, or for
// ctx to end (then it returns ctx's error; the loops are still waited for
// by the supervisor).
func (g *loopGroup) Stop(ctx context.Context) error {
	g.cancel()
	done := make(chan struct{})
	go func() { g.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("%s: loops still running: %w", g.owner, ctx.Err())
	}
}
