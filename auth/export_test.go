package auth

// HoldHashingSlots takes every free hashing slot of h, as hashes that never finish would,
// and returns the function that frees them again.
func HoldHashingSlots(h *Hasher) (release func()) {
	n := cap(h.slots) - len(h.slots)
	for range n {
		h.slots <- struct{}{}
	}
	return func() {
		for range n {
			<-h.slots
		}
	}
}
