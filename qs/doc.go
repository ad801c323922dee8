// Package qs is the queueing service: per-client queues into which the
// delivery service (package ds) fans out group messages, read by the
// client with a long-poll fetch and emptied by acknowledgement.
//
// A queue is created with a bearer secret, shown once and stored hashed
// (SHA-256, compared in constant time, as token secrets are). It may be
// linked to a push token the caller proves it holds; a new message then
// sends that device a background push carrying only the queue id,
// coalesced: at most one push is outstanding per queue until the client
// fetches.
//
// Every message gets a sequence number that only grows (one counter per
// database, so a queue's numbers have gaps); fetch returns messages after
// a number, acknowledge deletes everything up to one.
//
// The package knows nothing of HTTP or of any storage driver: it defines
// Store (conformance suite in qstest) and Notifier (wakes long-polls, on
// one instance or across instances).
package qs
