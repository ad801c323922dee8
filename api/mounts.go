package api

import (
	"fmt"
	"strings"
)

// Flavour is one of the HTTP dialects of the rendezvous API.
type Flavour string

// The rendezvous flavours of shared/spec/rendezvous.md.
const (
	FlavourSimple  Flavour = "simple"  // seed protocol and MSC3886: ETags, any content type
	FlavourMSC4108 Flavour = "msc4108" // ETags, If-Match required, text/plain only
	FlavourMSC4388 Flavour = "msc4388" // JSON bodies with sequence tokens
)

// Default base paths of the rendezvous flavours.
const (
	PathRendezvous        = "/rendezvous"                                            // simple: the seed protocol
	PathRendezvousMSC3886 = "/_matrix/client/unstable/org.matrix.msc3886/rendezvous" // simple
	PathRendezvousMSC4108 = "/_matrix/client/unstable/org.matrix.msc4108/rendezvous" // msc4108
	PathRendezvousV1      = "/_matrix/client/v1/rendezvous"                          // msc4108, stable
	PathRendezvousMSC4388 = "/_matrix/client/unstable/io.element.msc4388/rendezvous" // msc4388
)

// Mount places a flavour at a base path.
type Mount struct {
	Flavour Flavour
	Path    string
}

// DefaultMounts is where each flavour is served unless configured otherwise.
const DefaultMounts = "simple:" + PathRendezvous + "," +
	"simple:" + PathRendezvousMSC3886 + "," +
	"msc4108:" + PathRendezvousMSC4108 + "," +
	"msc4108:" + PathRendezvousV1 + "," +
	"msc4388:" + PathRendezvousMSC4388

// ParseMounts parses a comma-separated list of flavour:path pairs. Paths
// must start with "/" and be unique; "/" mounts the simple flavour at the
// root of a dedicated deployment.
func ParseMounts(s string) ([]Mount, error) {
	var mounts []Mount
	seen := map[string]bool{}
	for item := range strings.SplitSeq(s, ",") {
		flavour, path, ok := strings.Cut(strings.TrimSpace(item), ":")
		if !ok || !strings.HasPrefix(path, "/") || strings.ContainsAny(path, "{}*") {
			return nil, fmt.Errorf("mount %q: want flavour:/path", item)
		}
		f := Flavour(flavour)
		if f != FlavourSimple && f != FlavourMSC4108 && f != FlavourMSC4388 {
			return nil, fmt.Errorf("mount %q: unknown flavour %q (simple, msc4108, msc4388)", item, flavour)
		}
		if path != "/" {
			path = strings.TrimRight(path, "/")
		}
		if seen[path] {
			return nil, fmt.Errorf("mount %q: path mounted twice", item)
		}
		seen[path] = true
		mounts = append(mounts, Mount{Flavour: f, Path: path})
	}
	return mounts, nil
}
