package pushtest

// popScript takes the next scripted answer queued for key, dropping the
// queue once it is empty; ok is false when nothing is queued.
func popScript[T any](scripts map[string][]T, key string) (next T, ok bool) {
	q := scripts[key]
	if len(q) == 0 {
		return next, false
	}
	if len(q) == 1 {
		delete(scripts, key)
	} else {
		scripts[key] = q[1:]
	}
	return q[0], true
}

// matching returns the elements of xs that keep accepts (nil if none), in
// order: what the fakes' per-token accessors report.
func matching[T any](xs []T, keep func(T) bool) []T {
	var out []T
	for _, x := range xs {
		if keep(x) {
			out = append(out, x)
		}
	}
	return out
}
