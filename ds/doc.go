// Package ds is the embedded MLS Delivery Service, after the MIMI DS draft
// (draft-robert-mimi-delivery-service, 2023): clients send signed
// DSMessages (wire.go, bodies.go; reference in docs/ds.md) to create and
// delete groups, submit proposals, commits and application messages, set
// their queue, and fetch what a joiner needs.
//
// Its hard job is ordering. A group accepts exactly one commit per epoch:
// a commit for any other epoch is answered wrong_epoch with the current
// epoch, so the client catches up from its queue and recommits. Every
// change is validated by package mls (the DS tracks each group's public
// state as a non-member) and stored with its fan-out in one transaction
// whose compare-and-swap on the group's version makes exactly one of two
// racing commits win, also between instances sharing one database.
// Accepted messages go to the members' client queues (package qs), which
// wake their devices.
//
// Within an instance requests on one group are serialised and the group's
// public state is cached by version, so a commit costs O(log n) work and
// storage; another instance's change is noticed by the version check and
// the group is restored from the store without revalidation.
//
// The package knows nothing of HTTP or of any storage driver.
package ds
