// Package memstore holds the in-memory implementations of the domain
// stores: the default for rendezvous sessions on a single instance, and
// fakes that are also real implementations in tests.
package memstore
