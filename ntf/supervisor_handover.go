package ntf

import "time"

// Drop gives up the server: its queues are no longer held and its
// connection is closed. Drop returns once the connection's goroutine has
// ended, or after wait, whichever comes first (the connection itself is
// closed at once; what may linger is a status write that a broken
// database holds up). A dropped server writes no status, since its
// queues are the next owner's. Queues of the server watched later start
// a new connection.
func (s *Supervisor) Drop(server string, wait time.Duration) {
	s.mu.Lock()
	srv := s.servers[server]
	if srv != nil {
		delete(s.servers, server)
		srv.dropped.Store(true)
		srv.stop()
	}
	started := srv != nil && srv.started
	s.mu.Unlock()
	if !started {
		return
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-srv.ended:
	case <-t.C:
		s.log.Warn("smp connection of a dropped server still ending", "server", server)
	}
}

// Adopt is Watch for queues the supervisor may hold already (a handover
// or a repeated change notice): those are left as they are, so a held
// subscription is not sent NSUB again.
func (s *Supervisor) Adopt(qs []WatchedQueue) { s.watch(qs, true) }
