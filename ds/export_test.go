package ds

// RejectedQueues exposes rejectedQueues to the external tests.
var RejectedQueues = rejectedQueues
