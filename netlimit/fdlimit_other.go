//go:build !unix

package netlimit

import "errors"

// FDLimit is not known on this system.
func FDLimit() (int, error) { return 0, errors.New("netlimit: no file limit on this system") }
