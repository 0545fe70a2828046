package password

// DummyHash exposes the dummy hash to the tests.
func (h *Hasher) DummyHash() []byte { return *h.dummy.Load() }
