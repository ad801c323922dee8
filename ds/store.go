package ds

import (
	"context"
	"time"

	"github.com/trystgw/tryst/mls"
	"github.com/trystgw/tryst/qs"
)

// Member is a client's row: its leaf and the queue it receives on.
type Member struct {
	Leaf  uint32
	Queue qs.ID
	// KeyPackageRef is the ref of the KeyPackage that added the client
	// (empty for a client that joined otherwise), so a new member can
	// name itself before it knows its leaf.
	KeyPackageRef []byte
}

// Group is a group's stored state. The tree is kept one record per node
// (mls.NodeRecord), so a commit rewrites O(log n) records, never the
// whole tree.
type Group struct {
	ID []byte
	// Version counts the group's stored changes from a random start
	// (so a group deleted and created again never repeats a version a
	// cache may hold); every Update names the version it was computed
	// from (compare-and-swap).
	Version uint64
	Epoch   uint64
	// Header is mls.PublicGroup.MarshalHeader.
	Header []byte
	// GroupInfo is the last committer's GroupInfo (an MLSMessage).
	GroupInfo []byte
	Nodes     []mls.NodeRecord
	Members   []Member
	// Proposals are the current epoch's proposals (MLSMessages) in the
	// order they were accepted.
	Proposals [][]byte
}

// Delivery is one message to fan out to a set of queues (a group's
// members) but one (the sender's; "" for none).
type Delivery struct {
	Queues []qs.ID
	Except qs.ID
	Data   []byte
}

// Change is one atomic change of a stored group: the new state and the
// messages it sends, stored together or not at all.
type Change struct {
	GroupID []byte
	// Version is the version the change was computed from; the stored
	// version becomes Version+1.
	Version uint64
	Epoch   uint64
	// Header and GroupInfo replace the stored ones unless nil.
	Header    []byte
	GroupInfo []byte
	// Tree, unless nil, lists the node records to write and delete.
	Tree          *mls.TreeChanges
	PutMembers    []Member
	DeleteMembers []uint32
	// ClearProposals drops the stored proposals before AddProposal is
	// appended (a commit ends the epoch).
	ClearProposals bool
	AddProposal    []byte
	Deliveries     []Delivery
}

// Store persists groups. Every implementation must pass
// dstest.TestStore; it is safe for concurrent use, also by several
// instances sharing one database.
type Store interface {
	// Create stores a new group at g.Version (below 2^62), its Proposals
	// empty; an error wrapping ErrGroupExists if the id is taken.
	Create(ctx context.Context, g Group, at time.Time) error
	// Version returns the stored version and epoch of a group; an error
	// wrapping ErrGroupNotFound if there is none.
	Version(ctx context.Context, id []byte) (version, epoch uint64, err error)
	// Get returns the whole stored group, or an error wrapping
	// ErrGroupNotFound.
	Get(ctx context.Context, id []byte) (Group, error)
	// Update applies c if the stored version is c.Version, in one
	// transaction with c's deliveries (appended to the queues as
	// qs.Store.Enqueue does), and returns the queues delivered to. If the
	// version differs or the group is gone it changes nothing and returns
	// an error wrapping ErrConflict: of two racing updates from one
	// version exactly one succeeds.
	Update(ctx context.Context, c Change, at time.Time) ([]qs.ID, error)
	// Delete removes the group if its stored version is version, else an
	// error wrapping ErrConflict.
	Delete(ctx context.Context, id []byte, version uint64) error
}
